"""The verification code box: large, so the client can read the code out and compare
it with the engineer's (one line per person when several are connected)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel

from agent.i18n import _
from agent.ui.style import esc, label

__all__ = ["CodeBox"]


class CodeBox(QFrame):
    """Hidden until the first code arrives; ``codes`` maps a viewer's name to its code."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("codeBox")
        self.codes: dict[str, str] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        self.code_caption = label("", "sectionHint")
        self.code_caption.setTextFormat(Qt.TextFormat.RichText)  # names go through esc
        self.code_label = QLabel()
        self.code_label.setTextFormat(Qt.TextFormat.RichText)
        self.code_label.setObjectName("verificationCode")
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.code_caption, 1)
        layout.addWidget(self.code_label)
        self.setVisible(False)

    def show_code(self, name: str, code: str) -> None:
        """Add (or replace) the code shared with ``name`` and show the box."""
        self.codes[name] = code
        if len(self.codes) == 1:
            self.code_caption.setText(
                _(
                    "Your secure-connection code with <b>{name}</b>. Ask them to read "
                    "theirs out: the numbers must be the same.",
                    name=esc(name),
                )
            )
            self.code_label.setText(code)
            self.code_label.setAccessibleName(
                _("Code {digits}", digits=" ".join(code.replace(" ", "")))
            )
        else:
            self.code_caption.setText(
                _(
                    "Your secure-connection codes. Ask each person to read theirs out: the "
                    "numbers must be the same."
                )
            )
            self.code_label.setText(
                "<br>".join(
                    f"<small>{esc(n)}</small> {c}"  # smaller than the code, relative to it
                    for n, c in self.codes.items()
                )
            )
        self.setVisible(True)
