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
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from agent.consent import Prompt
from agent.i18n import _, ngettext
from agent.plaintext import html_text
from agent.ui.flow import FlowLayout
from agent.ui.words import handover_text


def _permission_text(perm: str) -> str:
    words = {
        "view": _("See your screen"),
        "control": _("Use your mouse and keyboard"),
        "video": _("Video call (camera and microphone), starting as soon as you allow it"),
    }
    return words.get(perm, perm)


def _role_word(role: str) -> str:
    words = {"engineer": _("engineer"), "observer": _("supervisor, watching only")}
    return words.get(role, role)


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
        # The first prompt asks to connect; a later one (the viewer already sees the
        # screen, or asks for control or a call) asks for more. The ticket shows as a
        # short reference, its title in words; the session is said to be recorded first.
        first = "view" in prompt.permissions
        text = (
            _(
                "<b>{name}</b> ({role}, identity verified by your help desk) asks to "
                "connect<br>for ticket <b>{ticket}</b>: {title}",
                name=_esc(prompt.display_name),
                role=_esc(_role_word(prompt.role)),
                ticket=_esc(prompt.ticket_id[:8]),
                title=_esc(prompt.ticket_title),
            )
            if first
            else _(
                "<b>{name}</b> ({role}) asks for more, for ticket <b>{ticket}</b>:",
                name=_esc(prompt.display_name),
                role=_esc(_role_word(prompt.role)),
                ticket=_esc(prompt.ticket_id[:8]),
            )
        )
        who = QLabel(text)
        who.setTextFormat(Qt.TextFormat.RichText)
        who.setWordWrap(True)
        who.setObjectName("promptWho")
        layout.addWidget(who)
        why = handover_text(prompt)
        if why:  # issue 19: a transfer or invitation says who hands over or invites
            note = QLabel(why)
            note.setObjectName("promptHandover")
            note.setWordWrap(True)
            layout.addWidget(note)
        if first:
            recorded = QLabel(
                _("This session is recorded for quality review. You can stop it at any time.")
            )
            recorded.setObjectName("promptRecorded")
            recorded.setWordWrap(True)
            layout.addWidget(recorded)
        grid = QGridLayout()
        self.choices: dict[str, QButtonGroup] = {}
        for row, perm in enumerate(prompt.permissions):
            what = QLabel(_permission_text(perm))
            what.setWordWrap(True)
            grid.addWidget(what, row, 0)
            allow, deny = QRadioButton(_("Allow")), QRadioButton(_("Deny"))
            allow.setObjectName(f"allow_{perm}")
            deny.setObjectName(f"deny_{perm}")
            allow.setAccessibleDescription(
                _("Lets this person do it; you can take it back at any time.")
            )
            deny.setAccessibleDescription(_("This person may not do it."))
            allow.setAccessibleName(_("Allow: {what}", what=_permission_text(perm)))
            deny.setAccessibleName(_("Deny: {what}", what=_permission_text(perm)))
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
        buttons = FlowLayout()  # the two buttons wrap under each other with large text
        self.countdown = QLabel()
        self.countdown.setObjectName("countdown")
        self.countdown.setWordWrap(True)
        self.confirm = QPushButton(_("Confirm my choice"))
        self.confirm.setObjectName("confirmConsent")
        self.confirm.setAccessibleDescription(
            _("Sends your answer: only what you marked Allow is allowed.")
        )
        self.deny_all = QPushButton(_("Refuse everything"))
        self.deny_all.setObjectName("denyAll")
        self.deny_all.setAccessibleDescription(_("Allows nothing at all to this person."))
        self.confirm.clicked.connect(self._confirm)
        self.deny_all.clicked.connect(lambda: self._send([]))
        buttons.addWidget(self.countdown)
        buttons.addWidget(self.deny_all)
        buttons.addWidget(self.confirm)
        layout.addLayout(buttons)
        self.tick()

    def allowed(self) -> list[str]:
        """The permissions the client set to Allow."""
        out = []
        for perm, group in self.choices.items():
            checked = group.checkedButton()
            if checked is not None and checked.objectName() == f"allow_{perm}":
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
        self.countdown.setText(
            ngettext(
                "Answer within {n} second — no answer means no access",
                "Answer within {n} seconds — no answer means no access",
                max(0, left),
            )
        )
        if left <= 0:
            self.confirm.setEnabled(False)


def _esc(text: str) -> str:
    """Untrusted text for the rich-text label: inert (plain_text), then HTML-escaped."""
    return html_text(text)


__all__ = ["ConsentPanel"]
