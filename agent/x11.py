"""The agent's one X11 binding (python-xlib): windows, monitors, cursor, input.

Every X11 call of the agent goes through :class:`X11Connection`, a typed wrapper over
python-xlib (pure Python, typed by ``types-python-xlib``, no C library to find):

- the window tree, titles and frame rectangles (window masks, G6);
- the monitor layout (RandR 1.5 ``GetMonitors``, else Xinerama, else the root window);
- the pointer position and cursor image (XFixes ``GetCursorImage``);
- fake pointer and key events (XTest) for the injector.

Each user opens its own connection (the capture thread and the input path run in
different threads).  X protocol errors of requests without replies go to an error
handler that ignores them (a masked window may vanish between two requests); errors of
requests with replies become ``None``/empty results, never a crash.  The "video"
engineer's damage tracking uses :attr:`X11Connection.display` with ``Xlib.ext.damage``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from typing import Any

from Xlib import XK, X, Xatom, display, error
from Xlib.ext import randr, xfixes, xtest
from Xlib.xobject.drawable import Window

from agent.errors import AgentError

#: Upper bound on windows walked by one title search.
MAX_WINDOWS = 20_000
#: Depth bound when walking up to a top-level window (a hostile tree cannot loop us).
MAX_DEPTH = 32


class X11Unavailable(AgentError):
    """No X display (unset ``DISPLAY``, server gone) or a missing extension."""


@dataclasses.dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in root-window (desktop) pixels."""

    x: int
    y: int
    width: int
    height: int


@dataclasses.dataclass(frozen=True, slots=True)
class MonitorInfo:
    """One monitor as the X server reports it."""

    name: str
    rect: Rect
    primary: bool
    width_mm: int
    height_mm: int


@dataclasses.dataclass(frozen=True, slots=True)
class CursorImage:
    """The current cursor: ``pixels`` are ``height*width`` premultiplied ARGB words
    (``0xAARRGGBB``), ``(x, y)`` the pointer position, ``(xhot, yhot)`` its hot spot."""

    x: int
    y: int
    width: int
    height: int
    xhot: int
    yhot: int
    serial: int
    pixels: tuple[int, ...]


def _ignore_error(err: error.XError, request: Any) -> None:
    """Errors of requests without replies (a vanished window): nothing to do."""


class X11Connection:
    """One connection to an X display (default ``$DISPLAY``); close it when done."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or os.environ.get("DISPLAY") or ""
        if not self.name:
            raise X11Unavailable("no X display: set DISPLAY")
        try:
            self.display = display.Display(self.name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
            raise X11Unavailable(f"cannot open X display {self.name}: {exc}") from exc
        self.display.set_error_handler(_ignore_error)
        self.root: Window = self.display.screen().root
        self._net_wm_name = self.display.intern_atom("_NET_WM_NAME")
        self._utf8 = self.display.intern_atom("UTF8_STRING")
        self._closed = False

    # --- windows ---------------------------------------------------------------------

    def _window(self, window_id: int) -> Window:
        return self.display.create_resource_object("window", window_id)

    @property
    def root_id(self) -> int:
        """The root window's id."""
        return int(self.root.id)

    def children(self, window_id: int) -> list[int]:
        """Ids of the window's children, bottom to top; [] if it is gone."""
        try:
            tree = self._window(window_id).query_tree()
        except error.XError:
            return []
        return [int(c.id) for c in tree.children]

    def parent(self, window_id: int) -> int | None:
        """The parent's id (0 for the root), or None if the window is gone."""
        try:
            tree = self._window(window_id).query_tree()
        except error.XError:
            return None
        return int(tree.parent.id) if tree.parent else 0

    def title(self, window_id: int) -> str | None:
        """``_NET_WM_NAME`` (UTF-8), else ``WM_NAME`` (Latin-1); None without a title."""
        win = self._window(window_id)
        for atom in (self._net_wm_name, Xatom.WM_NAME):
            try:
                prop = win.get_full_property(atom, X.AnyPropertyType, sizehint=1024)
            except error.XError:
                return None
            if prop is None or prop.format != 8:
                continue
            raw = prop.value if isinstance(prop.value, bytes) else bytes(prop.value)
            encoding = "utf-8" if prop.property_type == self._utf8 else "latin-1"
            return raw.decode(encoding, errors="replace")
        return None

    def viewable(self, window_id: int) -> bool:
        """True if the window is mapped and all its ancestors are."""
        try:
            return bool(self._window(window_id).get_attributes().map_state == X.IsViewable)
        except error.XError:
            return False

    def toplevel(self, window_id: int) -> int | None:
        """The ancestor that is a child of the root (the window manager's frame, if any)."""
        current = window_id
        for _ in range(MAX_DEPTH):
            parent = self.parent(current)
            if parent is None:
                return None
            if parent in (0, self.root_id):
                return current
            current = parent
        return current

    def rect(self, window_id: int) -> Rect | None:
        """The window's outer rectangle (border included) in root coordinates."""
        win = self._window(window_id)
        try:
            geo = win.get_geometry()
            pos = self.root.translate_coords(window_id, 0, 0)
        except error.XError:
            return None
        b = int(geo.border_width)
        return Rect(int(pos.x) - b, int(pos.y) - b, int(geo.width) + 2 * b, int(geo.height) + 2 * b)

    # --- monitors and pointer --------------------------------------------------------

    def screen_size(self) -> tuple[int, int]:
        """The root window's size (the whole desktop)."""
        screen = self.display.screen()
        return int(screen.width_in_pixels), int(screen.height_in_pixels)

    def monitors(self) -> list[MonitorInfo]:
        """The monitor layout, primary first: RandR 1.5, else Xinerama, else the root."""
        d = self.display
        if d.has_extension("RANDR"):
            try:
                reply = randr.get_monitors(self.root, is_active=True)
            except error.XError:
                reply = None
            if reply is not None and reply.monitors:
                out = [
                    MonitorInfo(
                        d.get_atom_name(m.name) or f"monitor-{i}",
                        Rect(m.x, m.y, m.width_in_pixels, m.height_in_pixels),
                        bool(m.primary),
                        int(m.width_in_millimeters),
                        int(m.height_in_millimeters),
                    )
                    for i, m in enumerate(reply.monitors)
                ]
                out.sort(key=lambda m: (not m.primary, m.rect.x, m.rect.y))
                if not out[0].primary:  # no primary output set: the first one is
                    out[0] = dataclasses.replace(out[0], primary=True)
                return out
        if d.has_extension("XINERAMA"):
            try:
                screens = d.xinerama_query_screens().screens
            except error.XError:
                screens = []
            if screens:
                return [
                    MonitorInfo(f"xinerama-{i}", Rect(s.x, s.y, s.width, s.height), i == 0, 0, 0)
                    for i, s in enumerate(screens)
                ]
        w, h = self.screen_size()
        return [MonitorInfo("screen", Rect(0, 0, w, h), True, 0, 0)]

    def pointer(self) -> tuple[int, int]:
        """The pointer's position in root coordinates."""
        reply = self.root.query_pointer()
        return int(reply.root_x), int(reply.root_y)

    def cursor_image(self) -> CursorImage | None:
        """The current cursor (XFixes), or None if the server has no XFixes."""
        d = self.display
        if not d.has_extension("XFIXES"):
            return None
        try:
            d.xfixes_query_version()
            r = d.xfixes_get_cursor_image(self.root)
        except error.XError:
            return None
        pixels = tuple(int(p) & 0xFFFFFFFF for p in r.cursor_image)
        return CursorImage(r.x, r.y, r.width, r.height, r.xhot, r.yhot, r.cursor_serial, pixels)

    def watch_cursor(self) -> bool:
        """Ask XFixes to report cursor shape changes (see :meth:`cursor_changed`);
        False if the server has no XFixes."""
        d = self.display
        if not d.has_extension("XFIXES"):
            return False
        d.xfixes_query_version()
        d.xfixes_select_cursor_input(self.root, xfixes.XFixesDisplayCursorNotifyMask)
        d.flush()
        return True

    def cursor_changed(self) -> bool:
        """True if the cursor's shape changed since the last call (drains the events
        :meth:`watch_cursor` asked for; no round trip)."""
        changed = False
        while self.display.pending_events():
            event = self.display.next_event()
            changed = changed or type(event).__name__ == "DisplayCursorNotify"
        return changed

    # --- input (XTest) ---------------------------------------------------------------

    def has_xtest(self) -> bool:
        """True if the server offers XTest (fake input)."""
        return bool(self.display.has_extension("XTEST"))

    def fake_motion(self, x: int, y: int) -> None:
        """Move the pointer to root coordinates (x, y)."""
        xtest.fake_input(self.display, X.MotionNotify, x=x, y=y, root=self.root_id)

    def fake_button(self, button: int, pressed: bool) -> None:
        """Press or release a pointer button (1 left, 2 middle, 3 right, 4–7 wheel)."""
        xtest.fake_input(self.display, X.ButtonPress if pressed else X.ButtonRelease, button)

    def keycode(self, keysym: int) -> int:
        """The keycode of ``keysym`` on the current keyboard map (0: none)."""
        return int(self.display.keysym_to_keycode(keysym))

    def fake_key(self, keycode: int, pressed: bool) -> None:
        """Press or release a key by keycode."""
        xtest.fake_input(self.display, X.KeyPress if pressed else X.KeyRelease, keycode)

    def flush(self) -> None:
        """Send buffered requests now."""
        self.display.flush()

    def sync(self) -> None:
        """Wait until the server has processed every request sent so far."""
        self.display.sync()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if not self._closed:
            self._closed = True
            # The server may have gone first: then there is nothing left to close.
            with contextlib.suppress(error.ConnectionClosedError, OSError):
                self.display.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed


@functools.cache
def _keysym_names() -> dict[int, str]:
    # Xlib.XK holds the names as XK_<name> constants (latin1 and miscellany groups);
    # the first name wins for keysyms with aliases.
    names: dict[int, str] = {}
    for attr, value in vars(XK).items():
        if attr.startswith("XK_") and isinstance(value, int):
            names.setdefault(value, attr[3:])
    return names


def keysym_name(keysym: int) -> str | None:
    """The X keysym's name (``Return``, ``a``), from Xlib's tables, no display needed."""
    return _keysym_names().get(keysym)
