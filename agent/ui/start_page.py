"""The start page: the client's name, "Get help" with a description of the problem,
or "I have a code" from an engineer. It only collects the words; the window starts
the session with them."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agent.i18n import _
from agent.ui.style import label
from agent.ui.words import KILL_SHORTCUT

__all__ = ["Begin", "StartPage"]

#: begin(describe, code): exactly one of the two is given.
Begin = Callable[[str | None, str | None], None]


class StartPage(QWidget):
    """Asks for a name and either a description or an invitation code."""

    def __init__(self, default_name: str, begin: Begin) -> None:
        super().__init__()
        self._begin = begin
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(10)
        layout.addWidget(label(_("Get help from your help desk"), "pageTitle"))
        name_label = label(_("Your name, as the engineer will see it:"), "sectionTitle")
        layout.addWidget(name_label)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.setMaxLength(100)
        self.name_edit.setPlaceholderText(_("e.g. Anna Petrova"))
        self.name_edit.setAccessibleName(_("Your name"))
        if default_name and default_name != "client":
            self.name_edit.setText(default_name)
        name_label.setBuddy(self.name_edit)
        layout.addWidget(self.name_edit)
        describe_label = label(_("Tell us what is wrong, in your own words:"), "sectionTitle")
        layout.addWidget(describe_label)
        self.describe_edit = QPlainTextEdit()
        self.describe_edit.setObjectName("describeEdit")
        self.describe_edit.setAccessibleDescription(
            _("Describe the problem in your own words; the engineer reads it first.")
        )
        self.describe_edit.setPlaceholderText(
            _("e.g. My printer does not print since this morning")
        )
        self.describe_edit.setAccessibleName(_("What is wrong"))
        self.describe_edit.setTabChangesFocus(True)
        self.describe_edit.setMaximumHeight(120)
        layout.addWidget(self.describe_edit)
        self.get_help = QPushButton(_("Get help"))
        self.get_help.setObjectName("getHelpButton")
        self.get_help.setAccessibleDescription(
            _("Asks the help desk for an engineer; nobody sees your screen until you allow it.")
        )
        self.get_help.clicked.connect(self._on_get_help)
        layout.addWidget(self.get_help)
        layout.addSpacing(12)
        layout.addWidget(label(_("Or: an engineer gave you a code"), "sectionTitle"))
        row = QHBoxLayout()
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("codeEdit")
        self.code_edit.setPlaceholderText(_("Type the code here, e.g. 4821-7730"))
        self.code_edit.setAccessibleName(_("Invitation code"))
        self.code_button = QPushButton(_("Connect with my code"))
        self.code_button.setObjectName("codeButton")
        self.code_button.setAccessibleDescription(
            _("Connects you to the engineer who gave you this code.")
        )
        self.code_button.clicked.connect(self._on_code)
        row.addWidget(self.code_edit, 1)
        row.addWidget(self.code_button)
        layout.addLayout(row)
        layout.addSpacing(12)
        hint = label(
            _(
                "Nobody sees your screen until you allow it. Sessions are recorded for "
                "quality review. You can stop everything at any time with the red “Stop "
                "now” button or by pressing {shortcut}.",
                shortcut=KILL_SHORTCUT,
            ),
            "hint",
        )
        layout.addWidget(hint)
        self.start_error = label("", "startError")
        layout.addWidget(self.start_error)
        layout.addStretch(1)

    def typed_name(self) -> str:
        """The name as typed, trimmed (empty if none)."""
        return self.name_edit.text().strip()

    def show_error(self, text: str) -> None:
        """Why the session could not start, under the buttons."""
        self.start_error.setText(text)

    def _on_get_help(self) -> None:
        text = self.describe_edit.toPlainText().strip()
        if not text:
            self.start_error.setText(_("Please describe the problem in a few words."))
            return
        self._begin(text, None)

    def _on_code(self) -> None:
        code = self.code_edit.text().strip()
        if not code:
            self.start_error.setText(_("Please type the code the engineer gave you."))
            return
        self._begin(None, code)
