"""Carrying :class:`agent.desktop.portal.PortalFlow` over D-Bus (jeepney, pure Python).

Blocking, for the agent's capture thread: listen for the Request's ``Response`` first
(its path is known from the token), then call, then wait for the answer; at the end
``OpenPipeWireRemote`` gives the file descriptor the GStreamer reader passes to
``pipewiresrc``.  Tested against a fake portal on a private bus
(``agent.desktop.testing.FakePortal``), never against a real compositor here.
"""

from __future__ import annotations

from typing import Any

from agent.desktop.portal import (
    REMOTE_DESKTOP,
    SCREENCAST,
    PortalCall,
    PortalFlow,
    PortalState,
    request_path,
)

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
REQUEST = "org.freedesktop.portal.Request"


class PortalUnavailable(Exception):
    """No portal on the bus (no Wayland session, no xdg-desktop-portal)."""


def _variants(raw: Any) -> dict[str, Any]:
    # a{sv}: jeepney gives each value as (signature, value).
    return {str(k): v[1] for k, v in dict(raw).items()}


def _results(raw: Any) -> dict[str, Any]:
    results = _variants(raw)
    if "streams" in results:
        results["streams"] = [(node, _variants(props)) for node, props in results["streams"]]
    return results


class PortalClient:
    """A connection to the portal on ``bus`` (``"SESSION"`` or a D-Bus address)."""

    def __init__(self, bus: str = "SESSION", *, timeout: float = 120.0) -> None:
        from jeepney.io.blocking import open_dbus_connection

        try:
            self._conn = open_dbus_connection(bus, enable_fds=True)
        except (OSError, KeyError) as exc:
            raise PortalUnavailable(f"no D-Bus session bus: {exc}") from exc
        self._timeout = timeout

    def has_remote_desktop(self) -> bool:
        """True if the portal implements RemoteDesktop (GNOME, KDE; not wlroots)."""
        from jeepney import DBusAddress, MessageType, Properties

        addr = DBusAddress(PORTAL_PATH, PORTAL_NAME, REMOTE_DESKTOP)
        reply = self._conn.send_and_get_reply(Properties(addr).get("version"), timeout=10)
        return bool(reply.header.message_type != MessageType.error)

    def run(self, flow: PortalFlow) -> int | None:
        """Drive ``flow`` to its end; the PipeWire remote's fd once started, else None
        (``flow.state`` and ``flow.reason`` say why)."""
        from jeepney import DBusAddress, MatchRule, MessageType, message_bus, new_method_call
        from jeepney.io.blocking import Proxy

        bus = Proxy(message_bus, self._conn)
        call: PortalCall | None = flow.start()
        while call is not None:
            path = request_path(self._conn.unique_name, call.token)
            rule = MatchRule(type="signal", interface=REQUEST, member="Response", path=path)
            bus.AddMatch(rule)
            with self._conn.filter(rule) as queue:
                addr = DBusAddress(PORTAL_PATH, PORTAL_NAME, call.interface)
                msg = new_method_call(addr, call.method, call.signature, call.args)
                reply = self._conn.send_and_get_reply(msg, timeout=10)
                if reply.header.message_type == MessageType.error:
                    call = flow.on_response(2, {})
                    continue
                try:
                    signal = self._conn.recv_until_filtered(queue, timeout=self._timeout)
                except TimeoutError:
                    call = flow.on_response(2, {})
                    continue
            code, raw = signal.body
            call = flow.on_response(int(code), _results(raw))
        if flow.state is not PortalState.STARTED:
            return None
        # The remote always comes from ScreenCast, whichever kind the session is.
        addr = DBusAddress(PORTAL_PATH, PORTAL_NAME, SCREENCAST)
        msg = new_method_call(addr, "OpenPipeWireRemote", "oa{sv}", (flow.session_handle, {}))
        reply = self._conn.send_and_get_reply(msg, timeout=10)
        if reply.header.message_type == MessageType.error:
            flow.state, flow.reason = PortalState.FAILED, "no PipeWire remote"
            return None
        return int(reply.body[0].to_raw_fd())

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
