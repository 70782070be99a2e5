"""The XTest injector really moves the pointer and clicks on an X server (Xvfb)."""

from __future__ import annotations

import ctypes
import ctypes.util

import pytest

from agent.inject import InjectorError, XTestInjector, open_injector


def pointer_position(display: str) -> tuple[int, int]:
    x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultRootWindow.restype = ctypes.c_ulong
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XQueryPointer.argtypes = [ctypes.c_void_p, ctypes.c_ulong] + [ctypes.c_void_p] * 7
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    assert dpy
    root = x11.XDefaultRootWindow(dpy)
    r, c = ctypes.c_ulong(), ctypes.c_ulong()
    rx, ry, wx, wy = ctypes.c_int(), ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    mask = ctypes.c_uint()
    x11.XQueryPointer(dpy, root, *(ctypes.byref(v) for v in (r, c, rx, ry, wx, wy, mask)))
    x11.XCloseDisplay(dpy)
    return rx.value, ry.value


@pytest.mark.xvfb
def test_xtest_moves_and_clicks(xvfb_display: str) -> None:
    inj = open_injector("xtest", xvfb_display)
    assert isinstance(inj, XTestInjector)
    inj.move(321, 123)
    assert pointer_position(xvfb_display) == (321, 123)
    inj.button(400, 300, 1, True)
    inj.button(400, 300, 1, False)
    assert pointer_position(xvfb_display) == (400, 300)
    inj.wheel(10, 20, 0, 2)
    inj.key(0xFF0D, True)
    inj.key(0xFF0D, False)
    inj.close()
    with pytest.raises(InjectorError):
        inj.move(1, 1)


def test_bad_display_and_kind() -> None:
    with pytest.raises(InjectorError):
        XTestInjector(":4711")
    with pytest.raises(InjectorError):
        open_injector("telepathy")
