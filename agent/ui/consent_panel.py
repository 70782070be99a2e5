"""One consent prompt in the client's window: who asks, for which ticket, and an
allow/deny choice per permission with a countdown. Nothing is granted unless the
client sets Allow; the pure ``ConsentMachine`` (through the controller) decides,
and a prompt that runs out is a deny."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from agent.consent import Prompt
from agent.plaintext import html_text

_PERMISSION_TEXT = {
    "view": "See your screen",
    "control": "Use your mouse and keyboard",
    "video": "Video call (camera and microphone)",
}


class ConsentPanel(QFrame):
    """One prompt: who, which ticket, each permission allow/deny, a countdown."""

    def __init__(
        self,
        prompt: Prompt,
        on_answer: Callable[[str, list[str]], None],
        clock_ms: Callable[[], int],
    ) -> None:
        super().__init__()
        self.prompt = prompt
        self._on_answer = on_answer
        self._clock = clock_ms
        self.setObjectName(f"consent_{prompt.request_id}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setProperty("card", True)  # the window's stylesheet draws it as a card
        layout = QVBoxLayout(self)
        who = QLabel(
            f"<b>{_esc(prompt.display_name)}</b> ({_esc(prompt.role)}, identity verified by your "
            f"help desk) asks to connect<br>for ticket <b>{_esc(prompt.ticket_id)}</b>: "
            f"{_esc(prompt.ticket_title)}"
        )
        who.setTextFormat(Qt.TextFormat.RichText)
        who.setWordWrap(True)
        layout.addWidget(who)
        grid = QGridLayout()
        self.choices: dict[str, QButtonGroup] = {}
        for row, perm in enumerate(prompt.permissions):
            grid.addWidget(QLabel(_PERMISSION_TEXT.get(perm, perm)), row, 0)
            allow, deny = QRadioButton("Allow"), QRadioButton("Deny")
            allow.setObjectName(f"allow_{perm}")
            deny.setObjectName(f"deny_{perm}")
            deny.setChecked(True)  # nothing is granted unless the client says so
            group = QButtonGroup(self)
            group.addButton(allow)
            group.addButton(deny)
            self.choices[perm] = group
            grid.addWidget(allow, row, 1)
            grid.addWidget(deny, row, 2)
        grid.setColumnStretch(0, 0)
        grid.setColumnStretch(3, 1)  # keep Allow/Deny next to their permission
        grid.setHorizontalSpacing(24)
        layout.addLayout(grid)
        buttons = QHBoxLayout()
        self.countdown = QLabel()
        self.countdown.setObjectName("countdown")
        self.confirm = QPushButton("Confirm my choice")
        self.confirm.setObjectName("confirmConsent")
        self.deny_all = QPushButton("Refuse everything")
        self.deny_all.setObjectName("denyAll")
        self.confirm.clicked.connect(self._confirm)
        self.deny_all.clicked.connect(lambda: self._send([]))
        buttons.addWidget(self.countdown, 1)
        buttons.addWidget(self.deny_all)
        buttons.addWidget(self.confirm)
        layout.addLayout(buttons)
        self.tick()

    def allowed(self) -> list[str]:
        """The permissions the client set to Allow."""
        out = []
        for perm, group in self.choices.items():
            checked = group.checkedButton()
            if checked is not None and checked.text() == "Allow":
                out.append(perm)
        return out

    def _confirm(self) -> None:
        self._send(self.allowed())

    def _send(self, allowed: list[str]) -> None:
        self.confirm.setEnabled(False)
        self.deny_all.setEnabled(False)
        self._on_answer(self.prompt.request_id, allowed)

    def tick(self) -> None:
        """Refresh the countdown; at zero the prompt is a deny (the session says so)."""
        left = self.prompt.remaining_ms(self._clock()) // 1000
        self.countdown.setText(f"Answer within {left} s — no answer means no access")
        if left <= 0:
            self.confirm.setEnabled(False)


def _esc(text: str) -> str:
    """Untrusted text for the rich-text label: inert (plain_text), then HTML-escaped."""
    return html_text(text)


__all__ = ["ConsentPanel"]
