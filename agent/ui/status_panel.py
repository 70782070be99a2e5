"""The top of the session page: one sentence saying who can see or control what
right now (its colour says how much), and who is connected with what each may do."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from agent.i18n import _, ngettext
from agent.observer import SessionStatus
from agent.ui.style import esc, label, repolish
from agent.ui.words import may_text, names, role_word

__all__ = ["StatusPanel", "strip_state"]


class StatusPanel(QWidget):
    """The status strip and the "who is connected" line under it."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.status_strip = label(_("Nobody is connected — waiting for an engineer"), "statusStrip")
        self.status_strip.setAccessibleName(_("Status"))
        self.status_strip.setProperty("state", "waiting")
        layout.addWidget(self.status_strip)
        self.who_label = label(_("Waiting for an engineer…"), "whoLabel")
        self.who_label.setTextFormat(Qt.TextFormat.RichText)  # names go through esc
        self.who_label.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.who_label)

    def show_who(self, status: SessionStatus) -> None:
        """Who is connected and what each may do (or why nobody is)."""
        if status.viewers:
            parts = []
            for v in status.viewers:
                parts.append(
                    _(
                        "<b>{name}</b> ({role}) may {what}.",
                        name=esc(v.name),
                        role=esc(role_word(v.role)),
                        what=may_text(v.permissions),
                    )
                )
            self.who_label.setText(_("Connected:") + " " + " ".join(parts))
        elif status.phase == "reconnecting":
            self.who_label.setText(_("Connection lost — reconnecting…"))
        else:
            self.who_label.setText(_("Waiting for an engineer…"))

    def refresh_strip(self, status: SessionStatus | None, *, paused: bool, killed: bool) -> None:
        """One sentence at the top: who can see or control what, right now."""
        state, text = strip_state(status, paused=paused, killed=killed)
        self.status_strip.setText(text)
        if self.status_strip.property("state") != state:
            self.status_strip.setProperty("state", state)
            repolish(self.status_strip)

    def show_ended(self) -> None:
        """The session is over: the strip says nothing is being sent."""
        self.status_strip.setText(_("Ended — nothing is being sent"))
        self.status_strip.setProperty("state", "ended")
        repolish(self.status_strip)


def strip_state(status: SessionStatus | None, *, paused: bool, killed: bool) -> tuple[str, str]:
    """The status strip's (state, sentence) for the current situation."""
    if killed:
        return "ended", _("Stopped — nothing is being sent")
    if status is None:
        return "waiting", _("Nobody is connected — waiting for an engineer")
    if status.phase == "ended":
        return "ended", _("Ended — nothing is being sent")
    if paused or status.phase == "paused":
        return "paused", _("Paused — nothing is being sent")
    if status.phase == "reconnecting":
        return "waiting", _("Connection lost — reconnecting…")
    if status.controlled_by:
        return "control", ngettext(
            "{names} is controlling your mouse and keyboard",
            "{names} are controlling your mouse and keyboard",
            len(status.controlled_by),
            names=names(status.controlled_by),
        )
    viewing = [v.name for v in status.viewers if "view" in v.permissions]
    if viewing:
        return "viewing", _("{names} can see your screen", names=names(viewing))
    if status.viewers:
        who = names([v.name for v in status.viewers])
        return "waiting", _("{names} is connected — sees nothing until you allow it", names=who)
    return "waiting", _("Nobody is connected — waiting for an engineer")
