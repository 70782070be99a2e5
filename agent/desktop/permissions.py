"""The OS permission step: an operating-system prompt only after the client granted
``view``, and its answer can only narrow what the client granted (pure state machine).

macOS asks "Screen Recording" (for ``view``) and "Accessibility" (for ``control``),
Wayland's portal asks once per session; X11 and Windows ask nothing.  The order
matters for consent (G2): the client's own decision in the agent comes first, the OS
prompt second; a refusal at the OS removes the permission, nothing the OS says can add
one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

#: The OS permission each session permission needs, per platform ("" = none needed).
OS_PERMISSION: dict[str, dict[str, str]] = {
    "x11": {},
    "windows": {},
    "macos": {"view": "screen_recording", "control": "accessibility"},
    "wayland": {"view": "screencast", "control": "remote_desktop"},
}


class OsAnswer(Enum):
    """What the OS said about one OS permission."""

    UNKNOWN = "unknown"
    ALLOWED = "allowed"
    REFUSED = "refused"


@dataclass(slots=True)
class PermissionStep:
    """Tracks the OS permissions of one session on ``platform``."""

    platform: str
    answers: dict[str, OsAnswer] = field(default_factory=dict)

    def prompts_for(self, granted: frozenset[str]) -> list[str]:
        """The OS prompts to show now for what the client ``granted``: none at all
        before ``view`` is granted, and each OS permission once."""
        if "view" not in granted:
            return []
        needs = OS_PERMISSION.get(self.platform, {})
        out = []
        for perm in ("view", "control"):  # screen first: control without it is useless
            os_perm = needs.get(perm)
            if perm in granted and os_perm and os_perm not in self.answers:
                out.append(os_perm)
        return out

    def answer(self, os_permission: str, allowed: bool) -> None:
        """Record the OS's answer to a prompt (a refusal is final for this session)."""
        if self.answers.get(os_permission) is OsAnswer.REFUSED:
            return
        self.answers[os_permission] = OsAnswer.ALLOWED if allowed else OsAnswer.REFUSED

    def effective(self, granted: frozenset[str]) -> frozenset[str]:
        """What may be used: the client's grant minus what the OS refused or has not
        answered yet (never more than ``granted``)."""
        needs = OS_PERMISSION.get(self.platform, {})
        out = set()
        for perm in granted:
            os_perm = needs.get(perm)
            if os_perm is None or self.answers.get(os_perm) is OsAnswer.ALLOWED:
                out.add(perm)
        if "view" not in out:
            out.discard("control")  # control needs the picture it is aimed at
        return frozenset(out)
