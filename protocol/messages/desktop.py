"""SPEC §3.5 ``desktop.info`` and ``monitor.select``: what of the client's desktop is
shared, what the agent can do there, and the engineer's request for another monitor."""

from dataclasses import dataclass, field
from typing import Literal

from protocol.limits import MAX_DESKTOP_COORD, MAX_MONITORS, MAX_SHORT_TEXT_CHARS
from protocol.messages._codec import IDENTIFIER_RE, Bool, Int, ListOf, Nested, Pattern, Text, meta

_COORD = Int(-MAX_DESKTOP_COORD, MAX_DESKTOP_COORD)
_SIZE = Int(1, MAX_DESKTOP_COORD)
_MONITOR = Int(0, MAX_MONITORS)


@dataclass(frozen=True, slots=True)
class DesktopCapabilities:
    """What the agent checked it can do: capture, list windows (window masks), inject
    input, and whether the client is on a secure prompt it cannot see; for a video call,
    whether it has a ``camera`` and a ``microphone`` (absent: not said — an older agent,
    or one without calls)."""

    capture: bool = field(metadata=meta(Bool()))
    windows: bool = field(metadata=meta(Bool()))
    input: bool = field(metadata=meta(Bool()))
    secure_prompt: bool = field(metadata=meta(Bool()))
    camera: bool | None = field(default=None, metadata=meta(Bool(), omit_none=True))
    microphone: bool | None = field(default=None, metadata=meta(Bool(), omit_none=True))


@dataclass(frozen=True, slots=True)
class ScreenMonitor:
    """One monitor in desktop coordinates; ``name`` as the OS names it (``HDMI-1``)."""

    name: str = field(metadata=meta(Text(MAX_SHORT_TEXT_CHARS)))
    x: int = field(metadata=meta(_COORD))
    y: int = field(metadata=meta(_COORD))
    width: int = field(metadata=meta(_SIZE))
    height: int = field(metadata=meta(_SIZE))
    primary: bool = field(metadata=meta(Bool()))


@dataclass(frozen=True, slots=True)
class DesktopInfo:
    """SPEC §3.5, A→B→V: capabilities, monitors (1-based order), the one shared now
    (``monitor``, 0 = all) and whether the engineer may switch (``switchable``)."""

    capabilities: DesktopCapabilities = field(metadata=meta(Nested(DesktopCapabilities)))
    monitors: tuple[ScreenMonitor, ...] = field(
        metadata=meta(ListOf(Nested(ScreenMonitor), MAX_MONITORS))
    )
    monitor: int = field(metadata=meta(_MONITOR))
    switchable: bool = field(metadata=meta(Bool()))
    type: Literal["desktop.info"] = field(default="desktop.info", init=False)


@dataclass(frozen=True, slots=True)
class MonitorSelect:
    """SPEC §3.5, V→B→A: show monitor ``monitor`` (0 = all); ``viewer_id`` is added by
    the broker. The agent applies it only if the client allowed switching."""

    monitor: int = field(metadata=meta(_MONITOR))
    viewer_id: str | None = field(
        default=None,
        metadata=meta(Pattern(IDENTIFIER_RE, "an identifier"), omit_none=True),
    )
    type: Literal["monitor.select"] = field(default="monitor.select", init=False)
