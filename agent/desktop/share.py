"""The session's part for what of the desktop is shared (SPEC §3.5): the
``desktop.info`` it tells viewers, and the engineer's ``monitor.select``.

The client chooses the monitor (``--monitor``) and whether the engineer may switch
(``--monitor-switch``, off by default).  The part only talks to the capture source
through its ``layout``/``view``/``select`` (``agent.capture.screen.ScreenSource``);
sources without monitors are one monitor that cannot switch.
"""

from __future__ import annotations

from typing import Any

from agent.capture.base import CaptureError
from agent.desktop.capabilities import Capabilities
from agent.desktop.layout import Layout
from agent.i18n import _
from protocol.limits import MAX_MONITORS
from protocol.messages import DesktopCapabilities, DesktopInfo, ScreenMonitor


class DesktopShare:
    """Builds ``desktop.info`` and applies ``monitor.select`` when the client allows."""

    def __init__(
        self,
        allow_switch: bool,
        capabilities: Capabilities,
        choice: str = "primary",
        devices: tuple[bool, bool] | None = None,
    ) -> None:
        self.allow_switch = allow_switch
        self.capabilities = capabilities
        #: ``(camera, microphone)`` for a video call; None: no calls here (not said).
        self.devices = devices
        #: The client's choice, for a source opened later (``Layout.resolve`` syntax).
        self.choice = choice

    def info(self, source: Any) -> DesktopInfo:
        """The current ``desktop.info`` for ``source`` (None: not capturing yet)."""
        layout: Layout | None = getattr(source, "layout", None)
        caps = self.capabilities
        wire = DesktopCapabilities(
            capture=caps.capture,
            windows=caps.windows,
            input=caps.input,
            secure_prompt=caps.secure_prompt,
            camera=self.devices[0] if self.devices is not None else None,
            microphone=self.devices[1] if self.devices is not None else None,
        )
        if layout is None:
            w, h = source.size if source is not None else (1, 1)
            one = ScreenMonitor("screen", 0, 0, max(int(w), 1), max(int(h), 1), True)
            return DesktopInfo(wire, (one,), monitor=1, switchable=False)
        mons = tuple(
            ScreenMonitor(m.name[:64], m.x, m.y, m.width, m.height, m.primary)
            for m in layout.monitors[:MAX_MONITORS]
        )
        switchable = self.allow_switch and len(layout.monitors) > 1
        return DesktopInfo(wire, mons, monitor=int(source.view), switchable=switchable)

    def select(self, source: Any, monitor: int) -> str | None:
        """The engineer's request: switch ``source`` to ``monitor`` (0 = all) if the
        client allowed switching; the refusal's reason, or None."""
        if not self.allow_switch:
            return "not_allowed"
        if source is None or not hasattr(source, "select"):
            return "not_supported"
        return self._switch(source, monitor)

    def choose(self, source: Any, monitor: int) -> str | None:
        """The client's own choice (always allowed): applied to ``source`` now, or to
        the source opened later if none is open; the refusal's reason, or None."""
        if source is None:
            self.choice = "all" if monitor == 0 else str(monitor)
            return None
        if not hasattr(source, "select"):
            return "not_supported"
        return self._switch(source, monitor)

    def _switch(self, source: Any, monitor: int) -> str | None:
        try:
            source.select(monitor)
        except CaptureError:
            return "no_such_monitor"
        self.choice = "all" if monitor == 0 else str(monitor)
        return None


def describe(caps: Capabilities) -> str:
    """One line for the client: what this computer lets the agent do."""
    yes, no = _("yes"), _("no")
    return _("This computer: screen {capture}, window list {windows}, input {input}.").format(
        capture=yes if caps.capture else no,
        windows=yes if caps.windows else no,
        input=yes if caps.input else no,
    )
