"""What the agent can do on this desktop, checked before a session and shown to both
sides: the client sees it in the agent, the viewer gets it (SPEC §3.5 ``desktop.info``).

``secure_prompt`` is the Windows case where the client is on the secure desktop (UAC
prompt, lock screen) that a user-level agent cannot see: the agent then says so and
sends nothing.  On X11 it is always False.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.x11 import X11Connection, X11Unavailable


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The result of the capabilities check (each flag tested, never assumed)."""

    platform: str  # "x11", "pattern", "sequence", …
    capture: bool
    windows: bool  # other applications' windows can be listed (window masks)
    input: bool  # engineer input can be injected
    secure_prompt: bool = False
    problems: tuple[str, ...] = ()  # short English reasons, for the log

    def to_wire(self) -> dict[str, bool]:
        """The flags sent to viewers (no problem texts: they may name local paths)."""
        return {
            "capture": self.capture,
            "windows": self.windows,
            "input": self.input,
            "secure_prompt": self.secure_prompt,
        }


def probe_x11(display: str | None, *, want_input: bool) -> Capabilities:
    """Check an X display: can it be opened (capture, windows), has it XTest (input)."""
    try:
        conn = X11Connection(display)
    except X11Unavailable as exc:
        return Capabilities("x11", False, False, False, problems=(str(exc),))
    try:
        problems = []
        can_list = True
        try:
            conn.children(conn.root_id)
        except Exception as exc:  # a server that refuses QueryTree: masks fail closed
            can_list, problems = False, [f"cannot list windows: {exc}"]
        has_input = want_input and conn.has_xtest()
        if want_input and not has_input:
            problems.append("the X server has no XTest extension")
        return Capabilities("x11", True, can_list, has_input, problems=tuple(problems))
    finally:
        conn.close()


def probe_source(spec: str, *, want_input: bool) -> Capabilities:
    """The capabilities of the capture source ``spec`` (see ``agent.capture``)."""
    kind, _, arg = spec.partition(":")
    if kind == "screen":
        return probe_x11(arg or None, want_input=want_input)
    # Synthetic sources: frames always, no windows to list, input goes nowhere real.
    return Capabilities(kind, True, False, False)
