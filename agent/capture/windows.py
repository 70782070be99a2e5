"""Where X11 windows are, for masking windows by title or id (G6).

Everything goes through libX11 with ctypes (no subprocess): titles are resolved to
window ids by walking the window tree (rare: when masks change and about once a
second); geometry is read every frame (≈40 µs), so a window that moves stays masked in
the very next frame.  Without an X display every lookup raises :class:`WindowLookupError`; the
pipeline then fails closed (it blanks the whole frame).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from typing import Any

from agent.capture.base import CaptureError

_IS_VIEWABLE = 2  # XWindowAttributes.map_state
_XA_WM_NAME = 39  # predefined atom
_ANY_PROPERTY_TYPE = 0
#: Upper bound on windows walked by one title search.
MAX_WINDOWS = 20_000


class WindowLookupError(CaptureError):
    """Window positions cannot be looked up (no X display, no libX11)."""


@dataclass(frozen=True, slots=True)
class WindowGeometry:
    """A viewable window's outer rectangle in root-window coordinates."""

    window_id: int
    x: int
    y: int
    width: int
    height: int


class _XWindowAttributes(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("border_width", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("visual", ctypes.c_void_p),
        ("root", ctypes.c_ulong),
        ("class_", ctypes.c_int),
        ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int),
        ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong),
        ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int),
        ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int),
        ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long),
        ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long),
        ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


_ErrorHandler = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class WindowLocator:
    """Looks up X11 windows on ``display`` (default ``$DISPLAY``).

    Opening the locator installs an Xlib error handler that ignores errors (a masked
    window may vanish between two lookups; Xlib's default handler would exit the
    process); :meth:`close` restores the previous handler.
    """

    def __init__(self, display: str | None = None) -> None:
        self.display = display or os.environ.get("DISPLAY") or ""
        self._lib: Any = None
        self._dpy: int | None = None
        self._root = 0
        self._handler: Any = None
        self._prev_handler: Any = None

    def _open(self) -> None:
        if self._dpy is not None:
            return
        if not self.display:
            raise WindowLookupError("no X display: set DISPLAY")
        name = ctypes.util.find_library("X11")
        if name is None:
            raise WindowLookupError("libX11 not found")
        lib = ctypes.CDLL(name)
        lib.XOpenDisplay.restype = ctypes.c_void_p
        lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
        lib.XDefaultRootWindow.restype = ctypes.c_ulong
        lib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        lib.XGetWindowAttributes.restype = ctypes.c_int
        lib.XGetWindowAttributes.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.POINTER(_XWindowAttributes),
        ]
        lib.XTranslateCoordinates.restype = ctypes.c_int
        lib.XTranslateCoordinates.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.c_ulong,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_ulong),
        ]
        lib.XQueryTree.restype = ctypes.c_int
        lib.XQueryTree.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_uint),
        ]
        lib.XFree.argtypes = [ctypes.c_void_p]
        lib.XInternAtom.restype = ctypes.c_ulong
        lib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.XGetWindowProperty.restype = ctypes.c_int
        lib.XGetWindowProperty.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.c_ulong,
            ctypes.c_long,
            ctypes.c_long,
            ctypes.c_int,
            ctypes.c_ulong,
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_void_p),
        ]
        lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
        lib.XSetErrorHandler.restype = ctypes.c_void_p
        lib.XSetErrorHandler.argtypes = [ctypes.c_void_p]
        dpy = lib.XOpenDisplay(self.display.encode())
        if not dpy:
            raise WindowLookupError(f"cannot open X display {self.display}")
        self._handler = _ErrorHandler(lambda _d, _e: 0)
        self._prev_handler = lib.XSetErrorHandler(ctypes.cast(self._handler, ctypes.c_void_p))
        self._lib, self._dpy = lib, dpy
        self._root = lib.XDefaultRootWindow(dpy)
        self._net_wm_name = lib.XInternAtom(dpy, b"_NET_WM_NAME", 0)
        self._utf8 = lib.XInternAtom(dpy, b"UTF8_STRING", 0)

    def search(self, title: str) -> list[int]:
        """Ids of viewable windows whose title contains ``title`` (ignoring case).

        Reads ``_NET_WM_NAME`` (UTF-8), else ``WM_NAME``, of every window in the tree
        (xdotool's regex search misses non-ASCII titles in Latin-1 ``WM_NAME``).
        """
        self._open()
        needle = title.casefold()
        found: list[int] = []
        stack, seen = [self._root], 0
        while stack and seen < MAX_WINDOWS:
            win = stack.pop()
            seen += 1
            children = self._children(win)
            stack.extend(reversed(children))
            if win == self._root:
                continue
            name = self.title_of(win)
            if name is not None and needle in name.casefold() and self._viewable(win):
                found.append(win)
        return found

    def _children(self, window: int) -> list[int]:
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children, count = ctypes.c_void_p(), ctypes.c_uint()
        ok = self._lib.XQueryTree(
            self._dpy, window, ctypes.byref(root), ctypes.byref(parent),
            ctypes.byref(children), ctypes.byref(count),
        )  # fmt: skip
        if not ok or not children.value:
            return []
        try:
            arr = ctypes.cast(children, ctypes.POINTER(ctypes.c_ulong))
            return [int(arr[i]) for i in range(count.value)]
        finally:
            self._lib.XFree(children)

    def _property(self, window: int, atom: int) -> tuple[int, bytes] | None:
        actual_type, actual_format = ctypes.c_ulong(), ctypes.c_int()
        nitems, after, data = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_void_p()
        status = self._lib.XGetWindowProperty(
            self._dpy, window, atom, 0, 1024, 0, _ANY_PROPERTY_TYPE,
            ctypes.byref(actual_type), ctypes.byref(actual_format), ctypes.byref(nitems),
            ctypes.byref(after), ctypes.byref(data),
        )  # fmt: skip
        if status != 0 or not data.value:
            return None
        try:
            if actual_format.value != 8:
                return None
            return actual_type.value, ctypes.string_at(data.value, nitems.value)
        finally:
            self._lib.XFree(data)

    def title_of(self, window: int) -> str | None:
        """The window's title, or None if it has none."""
        self._open()
        prop = self._property(window, self._net_wm_name)
        if prop is None:
            prop = self._property(window, _XA_WM_NAME)
        if prop is None:
            return None
        kind, raw = prop
        return raw.decode("utf-8" if kind == self._utf8 else "latin-1", errors="replace")

    def _viewable(self, window: int) -> bool:
        attrs = _XWindowAttributes()
        ok = self._lib.XGetWindowAttributes(self._dpy, window, ctypes.byref(attrs))
        return bool(ok) and attrs.map_state == _IS_VIEWABLE

    def _toplevel(self, window_id: int) -> int | None:
        """The ancestor that is a child of the root: the window manager's frame, if any.

        Masking the frame also hides the title bar, which may show what the title says.
        """
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children, count = ctypes.c_void_p(), ctypes.c_uint()
        current = window_id
        for _ in range(32):  # depth bound: a malicious tree cannot loop us forever
            ok = self._lib.XQueryTree(
                self._dpy, current, ctypes.byref(root), ctypes.byref(parent),
                ctypes.byref(children), ctypes.byref(count),
            )  # fmt: skip
            if not ok:
                return None
            if children.value:
                self._lib.XFree(children)
            if parent.value in (0, root.value):
                return current
            current = parent.value
        return current

    def geometry(self, window_id: int) -> WindowGeometry | None:
        """The rectangle of the window's top-level frame (decorations and border
        included), or None if the window is gone or not viewable."""
        self._open()
        top = self._toplevel(window_id)
        if top is None:
            return None
        attrs = _XWindowAttributes()
        if not self._lib.XGetWindowAttributes(self._dpy, window_id, ctypes.byref(attrs)):
            return None
        if attrs.map_state != _IS_VIEWABLE:
            return None
        if top != window_id:
            if not self._lib.XGetWindowAttributes(self._dpy, top, ctypes.byref(attrs)):
                return None
            if attrs.map_state != _IS_VIEWABLE:
                return None
        x, y, child = ctypes.c_int(), ctypes.c_int(), ctypes.c_ulong()
        ok = self._lib.XTranslateCoordinates(
            self._dpy, top, self._root, 0, 0, ctypes.byref(x), ctypes.byref(y),
            ctypes.byref(child),
        )  # fmt: skip
        if not ok:
            return None
        b = attrs.border_width
        return WindowGeometry(window_id, x.value - b, y.value - b, attrs.width + 2 * b,
                              attrs.height + 2 * b)  # fmt: skip

    def close(self) -> None:
        """Close the X connection and restore Xlib's previous error handler."""
        if self._dpy is not None:
            self._lib.XSetErrorHandler(self._prev_handler)
            self._lib.XCloseDisplay(self._dpy)
            self._dpy = None
