"""Test helpers for the desktop seams: a fake xdg-desktop-portal on a private D-Bus.

``FakePortal`` answers the ScreenCast and RemoteDesktop calls the way the portal
documentation describes (a Request path per ``handle_token``, a ``Response`` signal
to the caller), with answers the test chooses: refuse a step, have no RemoteDesktop
(as wlroots), start given streams, hand out a pipe as the "PipeWire remote".
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agent.desktop.portal import REMOTE_DESKTOP, SCREENCAST, request_path
from agent.desktop.portal_dbus import PORTAL_NAME, PORTAL_PATH, REQUEST


@contextmanager
def private_bus() -> Iterator[str]:
    """A throwaway ``dbus-daemon --session``; yields its address."""
    proc = subprocess.Popen(
        ["dbus-daemon", "--session", "--print-address=1", "--nopidfile", "--nofork"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        if not address.startswith("unix:"):
            raise RuntimeError(f"dbus-daemon did not start: {address!r}")
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=5)


class FakePortal:
    """A fake portal service; ``answers`` maps a method name to its Response code."""

    def __init__(
        self,
        address: str,
        *,
        remote_desktop: bool = True,
        answers: dict[str, int] | None = None,
        streams: tuple[tuple[int, tuple[int, int], tuple[int, int]], ...] = (
            (41, (0, 0), (1920, 1080)),
        ),
        devices: int = 3,
    ) -> None:
        from jeepney import message_bus
        from jeepney.io.blocking import Proxy, open_dbus_connection

        self._conn = open_dbus_connection(address, enable_fds=True)
        Proxy(message_bus, self._conn).RequestName(PORTAL_NAME)
        self.remote_desktop = remote_desktop
        self.answers = answers or {}
        self.streams = streams
        self.devices = devices
        self.calls: list[tuple[str, str]] = []
        self.pipe = os.pipe()  # read end handed out as the "PipeWire remote"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-portal", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        from jeepney import HeaderFields, MessageType

        while not self._stop.is_set():
            try:
                msg = self._conn.receive(timeout=0.1)
            except TimeoutError:
                continue
            except OSError:
                return
            hdr = msg.header
            if hdr.message_type != MessageType.method_call:
                continue
            if hdr.fields.get(HeaderFields.path) != PORTAL_PATH:
                continue
            self._handle(
                msg, hdr.fields.get(HeaderFields.interface), hdr.fields[HeaderFields.member]
            )

    def _handle(self, msg: Any, interface: str, member: str) -> None:
        from jeepney import DBusAddress, HeaderFields, new_error, new_method_return, new_signal

        sender = msg.header.fields[HeaderFields.sender]
        self.calls.append((interface, member))
        if interface == "org.freedesktop.DBus.Properties":
            iface, _prop = msg.body
            if iface == REMOTE_DESKTOP and not self.remote_desktop:
                self._conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownInterface"))
            else:
                self._conn.send(new_method_return(msg, "v", (("u", 2),)))
            return
        if interface == REMOTE_DESKTOP and not self.remote_desktop:
            self._conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownInterface"))
            return
        if interface not in (SCREENCAST, REMOTE_DESKTOP):
            self._conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))
            return
        if member == "OpenPipeWireRemote":
            self._conn.send(new_method_return(msg, "h", (self.pipe[0],)))
            return
        options = msg.body[-1]
        token = options["handle_token"][1]
        path = request_path(sender, token)
        self._conn.send(new_method_return(msg, "o", (path,)))
        code = self.answers.get(member, 0)
        results: dict[str, tuple[str, Any]] = {}
        if code == 0 and member == "CreateSession":
            handle = (
                f"/org/freedesktop/portal/desktop/session/x/{options['session_handle_token'][1]}"
            )
            results = {"session_handle": ("s", handle)}
        if code == 0 and member == "Start":
            streams = [
                (node, {"position": ("(ii)", pos), "size": ("(ii)", size), "source_type": ("u", 1)})
                for node, pos, size in self.streams
            ]
            results = {"streams": ("a(ua{sv})", streams)}
            if interface == REMOTE_DESKTOP:
                results["devices"] = ("u", self.devices)
        signal = new_signal(
            DBusAddress(path, interface=REQUEST), "Response", "ua{sv}", (code, results)
        )
        signal.header.fields[HeaderFields.destination] = sender
        self._conn.send(signal)

    def close(self) -> None:
        """Stop serving and close the connection and the pipe."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._conn.close()
        for fd in self.pipe:
            os.close(fd)
