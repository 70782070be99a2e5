"""Input injector backends behind a small ABC (like the capture backends).

Only ``agent.input.InputGate`` calls these, and only after it has checked the
viewer's ``control`` grant for the very event. Backends:

- ``XTestInjector``: the XTest extension through ``ctypes`` (libXtst + libX11),
  no new dependency; needs ``DISPLAY``.
- ``XdotoolInjector``: the ``xdotool`` command, a fallback where libXtst is absent.
- ``agent.testing.RecordingInjector``: a fake that records the calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
from abc import ABC, abstractmethod

from agent.errors import AgentError


class InjectorError(AgentError):
    """The injector backend could not be opened or failed."""


class Injector(ABC):
    """Where engineer input lands. Coordinates are screen pixels."""

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
    """XTest via ctypes: fake motion, button and key events on the X display."""

    name = "xtest"

    def __init__(self, display: str | None = None) -> None:
        x11_path = ctypes.util.find_library("X11")
        xtst_path = ctypes.util.find_library("Xtst")
        if not x11_path or not xtst_path:
            raise InjectorError("libX11 / libXtst not found")
        self._x11 = ctypes.CDLL(x11_path)
        self._xtst = ctypes.CDLL(xtst_path)
        self._x11.XOpenDisplay.restype = ctypes.c_void_p
        self._x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self._x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._x11.XFlush.argtypes = [ctypes.c_void_p]
        self._x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self._x11.XKeysymToKeycode.restype = ctypes.c_ubyte
        self._xtst.XTestFakeMotionEvent.argtypes = [
            ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong
        ]  # fmt: skip
        self._xtst.XTestFakeButtonEvent.argtypes = [
            ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong
        ]  # fmt: skip
        self._xtst.XTestFakeKeyEvent.argtypes = [
            ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong
        ]  # fmt: skip
        name = (display or os.environ.get("DISPLAY", "")).encode() or None
        handle = self._x11.XOpenDisplay(name)
        if not handle:
            raise InjectorError(f"cannot open X display {display or os.environ.get('DISPLAY')!r}")
        self._dpy: int | None = handle

    def _handle(self) -> int:
        if self._dpy is None:
            raise InjectorError("injector is closed")
        return self._dpy

    def move(self, x: int, y: int) -> None:
        dpy = self._handle()
        self._xtst.XTestFakeMotionEvent(dpy, -1, x, y, 0)
        self._x11.XFlush(dpy)

    def button(self, x: int, y: int, button: int, pressed: bool) -> None:
        dpy = self._handle()
        self._xtst.XTestFakeMotionEvent(dpy, -1, x, y, 0)
        self._xtst.XTestFakeButtonEvent(dpy, button, 1 if pressed else 0, 0)
        self._x11.XFlush(dpy)

    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        dpy = self._handle()
        self._xtst.XTestFakeMotionEvent(dpy, -1, x, y, 0)
        for b in _wheel_clicks(dx, dy):
            self._xtst.XTestFakeButtonEvent(dpy, b, 1, 0)
            self._xtst.XTestFakeButtonEvent(dpy, b, 0, 0)
        self._x11.XFlush(dpy)

    def key(self, keysym: int, pressed: bool) -> None:
        dpy = self._handle()
        code = self._x11.XKeysymToKeycode(dpy, keysym)
        if code == 0:
            return  # no key for this keysym on this keyboard map: nothing to press
        self._xtst.XTestFakeKeyEvent(dpy, code, 1 if pressed else 0, 0)
        self._x11.XFlush(dpy)

    def close(self) -> None:
        if self._dpy is not None:
            self._x11.XCloseDisplay(self._dpy)
            self._dpy = None


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
        # xdotool takes keysym names; "0x..." is not accepted, so map via Xlib's names
        # for the special range and code points for Latin-1.
        name = _keysym_name(keysym)
        if name:
            self._run("keydown" if pressed else "keyup", name)


def _keysym_name(keysym: int) -> str | None:
    x11_path = ctypes.util.find_library("X11")
    if x11_path:
        x11 = ctypes.CDLL(x11_path)
        x11.XKeysymToString.restype = ctypes.c_char_p
        x11.XKeysymToString.argtypes = [ctypes.c_ulong]
        raw = x11.XKeysymToString(keysym)
        if raw:
            return str(raw.decode("ascii", "replace"))
    return None


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
