"""Input injector backends behind a small ABC (like the capture backends).

Only ``agent.input.InputGate`` calls these, and only after it has checked the
viewer's ``control`` grant for the very event. Backends:

- ``XTestInjector``: the XTest extension through the agent's X11 binding
  (:mod:`agent.x11`); needs ``DISPLAY``.
- ``XdotoolInjector``: the ``xdotool`` command, a fallback where libXtst is absent.
- ``agent.testing.RecordingInjector``: a fake that records the calls.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from abc import ABC, abstractmethod

from agent.errors import AgentError
from agent.x11 import X11Connection, X11Unavailable, keysym_name


class InjectorError(AgentError):
    """The injector backend could not be opened or failed."""


class Injector(ABC):
    """Where engineer input lands. Coordinates are desktop coordinates (X11: root
    pixels); ``InputGate`` maps the viewer's frame pixels to them first."""

    name = "abstract"

    @abstractmethod
    def move(self, x: int, y: int) -> None:
        """Move the pointer."""

    @abstractmethod
    def button(self, x: int, y: int, button: int, pressed: bool) -> None:
        """Press or release button 1 (left), 2 (middle) or 3 (right) at (x, y)."""

    @abstractmethod
    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        """Scroll by (dx, dy) notches at (x, y); positive dy scrolls down."""

    @abstractmethod
    def key(self, keysym: int, pressed: bool) -> None:
        """Press or release the key with this X11 keysym."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing
        """Release the backend's resources (idempotent)."""


def _wheel_clicks(dx: int, dy: int) -> list[int]:
    # X11 buttons 4/5 scroll up/down, 6/7 left/right; one click per notch (bounded).
    clicks = [4 if dy < 0 else 5] * min(abs(dy), 20)
    clicks += [6 if dx < 0 else 7] * min(abs(dx), 20)
    return clicks


class XTestInjector(Injector):
    """XTest through the agent's X11 binding: fake motion, button and key events.

    Each call waits for the server (``sync``, one round trip): the event has been
    applied when the call returns, before the session logs ``input.applied``.
    """

    name = "xtest"

    def __init__(self, display: str | None = None) -> None:
        try:
            conn = X11Connection(display)
        except X11Unavailable as exc:
            raise InjectorError(str(exc)) from exc
        if not conn.has_xtest():
            conn.close()
            raise InjectorError(f"the X server {conn.name} has no XTest extension")
        self._x: X11Connection | None = conn

    def _conn(self) -> X11Connection:
        if self._x is None:
            raise InjectorError("injector is closed")
        return self._x

    def move(self, x: int, y: int) -> None:
        conn = self._conn()
        conn.fake_motion(x, y)
        conn.sync()

    def button(self, x: int, y: int, button: int, pressed: bool) -> None:
        conn = self._conn()
        conn.fake_motion(x, y)
        conn.fake_button(button, pressed)
        conn.sync()

    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        conn = self._conn()
        conn.fake_motion(x, y)
        for b in _wheel_clicks(dx, dy):
            conn.fake_button(b, True)
            conn.fake_button(b, False)
        conn.sync()

    def key(self, keysym: int, pressed: bool) -> None:
        conn = self._conn()
        code = conn.keycode(keysym)
        if code == 0:
            return  # no key for this keysym on this keyboard map: nothing to press
        conn.fake_key(code, pressed)
        conn.sync()

    def close(self) -> None:
        if self._x is not None:
            self._x.close()
            self._x = None


class XdotoolInjector(Injector):
    """The ``xdotool`` command (one short subprocess per action)."""

    name = "xdotool"

    def __init__(self, display: str | None = None) -> None:
        path = shutil.which("xdotool")
        if path is None:
            raise InjectorError("xdotool is not installed")
        self._cmd = path
        self._env = dict(os.environ)
        if display:
            self._env["DISPLAY"] = display

    def _run(self, *args: str) -> None:
        subprocess.run([self._cmd, *args], env=self._env, check=False, timeout=2)

    def move(self, x: int, y: int) -> None:
        self._run("mousemove", str(x), str(y))

    def button(self, x: int, y: int, button: int, pressed: bool) -> None:
        self._run("mousemove", str(x), str(y), "mouse" + ("down" if pressed else "up"), str(button))

    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        clicks = _wheel_clicks(dx, dy)
        if clicks:
            args = ["mousemove", str(x), str(y)]
            for b in clicks:
                args += ["click", str(b)]
            self._run(*args)

    def key(self, keysym: int, pressed: bool) -> None:
        # xdotool takes keysym names ("0x..." is not accepted): Xlib's name table.
        name = keysym_name(keysym)
        if name:
            self._run("keydown" if pressed else "keyup", name)


def open_injector(kind: str = "auto", display: str | None = None) -> Injector:
    """Open ``xtest``, ``xdotool`` or ``auto`` (XTest, else xdotool)."""
    if kind == "xtest":
        return XTestInjector(display)
    if kind == "xdotool":
        return XdotoolInjector(display)
    if kind == "auto":
        try:
            return XTestInjector(display)
        except InjectorError:
            return XdotoolInjector(display)
    raise InjectorError(f"unknown injector {kind!r} (xtest, xdotool, auto)")
