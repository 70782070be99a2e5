"""Sentences the window's panels share: the kill shortcut and button words, names
joined the way people say them, what a permission lets someone do. Kept in one
place so the status strip, the banner and the buttons say the same thing."""

from __future__ import annotations

from agent.consent import Prompt
from agent.i18n import _

__all__ = [
    "KILL_SHORTCUT",
    "handover_text",
    "kill_text",
    "may_text",
    "names",
    "pause_text",
    "resume_text",
    "role_word",
    "secure_prefix",
]

KILL_SHORTCUT = "Ctrl+Shift+K"


def kill_text() -> str:
    """The kill button's words (the language may change at start-up)."""
    return _("Stop now ({shortcut})", shortcut=KILL_SHORTCUT)


def pause_text() -> str:
    """The pause button, while sharing."""
    return _("Pause sharing")


def resume_text() -> str:
    """The pause button, while paused."""
    return _("Resume sharing")


def secure_prefix() -> str:
    """How the session words the key-exchange log line (agent/session), before the name."""
    return _("Secure connection set up with ")


def role_word(role: str) -> str:
    """A viewer's role in the client's words."""
    words = {"engineer": _("engineer"), "observer": _("supervisor, watching only")}
    return words.get(role, role)


def _may_word(permission: str) -> str:
    words = {
        "view": _("see your screen"),
        "control": _("use your mouse and keyboard"),
        "video": _("video call"),
    }
    return words.get(permission, permission)


def names(items: tuple[str, ...] | list[str]) -> str:
    """ "Erin", "Erin and Bob", "Erin, Bob and Ann"."""
    listed = list(items)
    if len(listed) <= 1:
        return "".join(listed)
    return _("{first} and {last}", first=", ".join(listed[:-1]), last=listed[-1])


def may_text(permissions: frozenset[str]) -> str:
    """What someone with ``permissions`` may do, as one phrase."""
    words = [_may_word(p) for p in sorted(permissions)]
    return names(words) if words else _("do nothing yet (waiting for your answer)")


def handover_text(prompt: Prompt) -> str:
    """Why a second engineer asks (issue 19), or "" for an ordinary prompt: who hands the
    session over to them (the first one leaves once allowed), or who invites them."""
    if prompt.handover == "transfer":
        return _(
            "{by} hands your session over to {name}. If you allow {name}, {by} leaves the "
            "session; if you deny, {by} stays.",
            by=prompt.handover_by,
            name=prompt.user_name,
        )
    if prompt.handover == "invite":
        return _(
            "{by} invites a colleague, {name}, to help. {by} stays; {name} gets only what "
            "you allow.",
            by=prompt.handover_by,
            name=prompt.user_name,
        )
    return ""
