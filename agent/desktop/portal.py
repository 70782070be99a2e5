"""The xdg-desktop-portal flow for Wayland (ScreenCast, RemoteDesktop) as a pure state
machine: it says which call to make next and digests each answer; the D-Bus driver
(``agent.desktop.portal_dbus``) only carries them.

With ``control`` wanted and RemoteDesktop available (GNOME, KDE) the session is a
RemoteDesktop session with a ScreenCast source on it: CreateSession → SelectDevices →
SelectSources → Start.  Without it (view only, or wlroots, which has no RemoteDesktop)
a ScreenCast session: CreateSession → SelectSources → Start.  Each of those calls
returns a Request whose ``Response(code, results)`` signal carries the answer: 0 is
success, 1 the user cancelled (final: the session goes on with less, never more),
2 another failure.  Options are D-Bus variants ``(signature, value)``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

SCREENCAST = "org.freedesktop.portal.ScreenCast"
REMOTE_DESKTOP = "org.freedesktop.portal.RemoteDesktop"
#: ScreenCast source types and RemoteDesktop device types (portal documentation).
SOURCE_MONITOR, SOURCE_WINDOW = 1, 2
DEVICE_KEYBOARD, DEVICE_POINTER = 1, 2
#: cursor_mode "embedded": the compositor draws the cursor into the frames.
CURSOR_EMBEDDED = 2


class PortalError(Exception):
    """A flow that must not start (window mode where the portal cannot do it) or a
    call made out of order."""


class PortalState(enum.Enum):
    """Where the flow is."""

    IDLE = "idle"
    CREATING = "creating"
    SELECTING_DEVICES = "selecting_devices"
    SELECTING_SOURCES = "selecting_sources"
    STARTING = "starting"
    STARTED = "started"
    REFUSED = "refused"  # the user said no in the portal's dialog
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PortalCall:
    """One portal method call: ``args`` match ``signature``; ``token`` is the
    ``handle_token`` whose Request will carry the Response."""

    interface: str
    method: str
    signature: str
    args: tuple[Any, ...]
    token: str


@dataclass(frozen=True, slots=True)
class PortalStream:
    """One PipeWire stream the portal started: a monitor (or window) and its place."""

    node: int
    x: int
    y: int
    width: int
    height: int
    source_type: int


@dataclass(slots=True)
class PortalFlow:
    """One portal session's flow. ``remote_desktop``: the portal offers RemoteDesktop
    (false on wlroots); ``window_mode_reliable``: asking for one window really casts
    one window (false for Debian 12's xdg-desktop-portal-wlr 0.7)."""

    control: bool
    remote_desktop: bool
    window: bool = False
    window_mode_reliable: bool = True
    state: PortalState = PortalState.IDLE
    session_handle: str | None = None
    streams: tuple[PortalStream, ...] = ()
    devices: int = 0
    reason: str | None = None
    _serial: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.window and not self.window_mode_reliable:
            # That portal casts the whole screen when asked for a window: refusing is
            # the only way not to show more than the client chose.
            raise PortalError("this portal cannot share a single window; share a monitor")

    @property
    def uses_remote_desktop(self) -> bool:
        """True if input goes through this session (RemoteDesktop)."""
        return self.control and self.remote_desktop

    def _token(self) -> str:
        self._serial += 1
        return f"clearpane{self._serial}"

    def _call(self, interface: str, method: str, signature: str, *args: Any) -> PortalCall:
        token = args[-1]["handle_token"][1]
        return PortalCall(interface, method, signature, args, token)

    def start(self) -> PortalCall:
        """The first call: CreateSession."""
        if self.state is not PortalState.IDLE:
            raise PortalError("the flow has already started")
        self.state = PortalState.CREATING
        iface = REMOTE_DESKTOP if self.uses_remote_desktop else SCREENCAST
        options = {
            "handle_token": ("s", self._token()),
            "session_handle_token": ("s", self._token()),
        }
        return self._call(iface, "CreateSession", "a{sv}", options)

    def on_response(self, code: int, results: dict[str, Any]) -> PortalCall | None:
        """Digest the Response of the last call; the next call, or None when the flow
        is over (``state`` says how)."""
        if self.state in (PortalState.IDLE, PortalState.STARTED) or self.finished:
            raise PortalError(f"no call is waiting for an answer ({self.state.value})")
        if code == 1:
            self.state, self.reason = PortalState.REFUSED, "the user cancelled"
            return None
        if code != 0:
            self.state, self.reason = PortalState.FAILED, f"portal error (response {code})"
            return None
        if self.state is PortalState.CREATING:
            handle = results.get("session_handle")
            if not isinstance(handle, str) or not handle:
                self.state, self.reason = PortalState.FAILED, "no session handle"
                return None
            self.session_handle = handle
            if self.uses_remote_desktop:
                self.state = PortalState.SELECTING_DEVICES
                options = {
                    "handle_token": ("s", self._token()),
                    "types": ("u", DEVICE_KEYBOARD | DEVICE_POINTER),
                }
                return self._call(REMOTE_DESKTOP, "SelectDevices", "oa{sv}", handle, options)
            return self._select_sources()
        if self.state is PortalState.SELECTING_DEVICES:
            return self._select_sources()
        if self.state is PortalState.SELECTING_SOURCES:
            self.state = PortalState.STARTING
            iface = REMOTE_DESKTOP if self.uses_remote_desktop else SCREENCAST
            options = {"handle_token": ("s", self._token())}
            return self._call(iface, "Start", "osa{sv}", self.session_handle, "", options)
        # STARTING: the streams (and devices) the user agreed to.
        self.streams = tuple(_stream(s) for s in results.get("streams", ()))
        self.devices = int(results.get("devices", 0)) if self.uses_remote_desktop else 0
        if not self.streams:
            self.state, self.reason = PortalState.FAILED, "the portal started no stream"
            return None
        self.state = PortalState.STARTED
        return None

    def _select_sources(self) -> PortalCall:
        assert self.session_handle is not None
        self.state = PortalState.SELECTING_SOURCES
        options = {
            "handle_token": ("s", self._token()),
            "types": ("u", SOURCE_WINDOW if self.window else SOURCE_MONITOR),
            "multiple": ("b", not self.window),
            "cursor_mode": ("u", CURSOR_EMBEDDED),
        }
        return self._call(SCREENCAST, "SelectSources", "oa{sv}", self.session_handle, options)

    @property
    def finished(self) -> bool:
        """True once the flow ended (started, refused or failed)."""
        return self.state in (PortalState.STARTED, PortalState.REFUSED, PortalState.FAILED)

    def permissions(self, granted: frozenset[str]) -> frozenset[str]:
        """What the client's grant becomes with this portal: only narrower.

        ``view`` needs started streams; ``control`` also needs a RemoteDesktop session
        whose pointer and keyboard the user allowed (wlroots has none).
        """
        out = set(granted)
        if self.state is not PortalState.STARTED:
            out -= {"view", "control"}
        wanted = DEVICE_KEYBOARD | DEVICE_POINTER
        if not self.uses_remote_desktop or self.devices & wanted != wanted:
            out.discard("control")
        return frozenset(out)


def _stream(entry: Any) -> PortalStream:
    node, props = entry
    x, y = props.get("position", (0, 0))
    w, h = props.get("size", (0, 0))
    return PortalStream(int(node), int(x), int(y), int(w), int(h), int(props.get("source_type", 0)))


def request_path(unique_name: str, token: str) -> str:
    """The object path of the Request a call with ``handle_token`` creates (the
    portal documentation's rule), so the driver can listen before it calls."""
    sender = unique_name.lstrip(":").replace(".", "_")
    return f"/org/freedesktop/portal/desktop/request/{sender}/{token}"
