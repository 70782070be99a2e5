"""The real screen of an X display: one monitor or all, with the cursor drawn in.

Pixels come from mss (MACHINE-NOTES "Screen capture"); the monitor layout (RandR),
the cursor (XFixes) and the window list come from the agent's X11 binding.  The
layout is read again about once a second, so a resolution change moves the captured
rectangle and the input transform with it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import mss
import numpy as np

from agent.capture.base import CaptureError, CaptureSource, Frame
from agent.capture.cursor import Sprite, draw, sprite
from agent.capture.windows import WindowLister, WindowLocator
from agent.desktop.layout import FrameTransform, Layout, LayoutError, Monitor
from agent.x11 import X11Connection, X11Unavailable

#: How often the monitor layout is read again (resolution or arrangement changes).
LAYOUT_INTERVAL_S = 1.0


def read_layout(conn: X11Connection) -> Layout:
    """The X display's monitors (primary first) as a :class:`Layout`."""
    return Layout(
        tuple(
            Monitor(m.name, m.rect.x, m.rect.y, m.rect.width, m.rect.height, m.primary)
            for m in conn.monitors()
        )
    )


class ScreenSource(CaptureSource):
    """Monitor ``monitor`` of an X display (``"primary"``, ``"all"``, a 1-based index
    or a RandR name); ``cursor`` draws the pointer into the frames.

    ``grab()`` wraps mss's fresh BGRA buffer in a numpy array without copying it.
    If the chosen monitor disappears the next grab fails (it never falls back to
    sharing another monitor than the client chose).
    """

    def __init__(
        self,
        display: str | None = None,
        monitor: str | int = "primary",
        *,
        cursor: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        display = display or os.environ.get("DISPLAY")
        if not display:
            raise CaptureError("no X display: set DISPLAY")
        try:
            self._x = X11Connection(display)
        except X11Unavailable as exc:
            raise CaptureError(f"cannot open X display {display}: {exc}") from exc
        try:
            self._sct: Any = mss.MSS(display=display)
        except Exception as exc:  # mss raises ScreenShotError and OSError variants
            self._x.close()
            raise CaptureError(f"cannot open X display {display}: {exc}") from exc
        self._closed = False
        self.display = display
        self._clock = clock
        self._cursor = cursor
        # The cursor's shape (sprite, hot spot), fetched again only when XFixes says it
        # changed: GetCursorImage costs ≈ 1 ms, QueryPointer ≈ 0.14 ms per frame.
        self._sprite: tuple[Sprite, int, int] | None = None
        self._watching = cursor and self._x.watch_cursor()
        self._layout = read_layout(self._x)
        self._read_at = clock()
        try:
            self._view = monitor if isinstance(monitor, int) else self._layout.resolve(str(monitor))
            self._transform = self._layout.view(self._view)
        except LayoutError as exc:
            self.close()
            raise CaptureError(f"monitor {monitor} not found on {display}: {exc}") from exc

    # --- the view --------------------------------------------------------------------

    @property
    def layout(self) -> Layout:
        """The monitors as last read."""
        return self._layout

    @property
    def view(self) -> int:
        """The monitor shared now (1-based), or ``ALL``."""
        return self._view

    def select(self, view: int) -> None:
        """Share monitor ``view`` (1-based) or ``ALL`` from the next grab on."""
        try:
            transform = self._layout.view(view)
        except LayoutError as exc:
            raise CaptureError(str(exc)) from exc
        self._view, self._transform = view, transform

    @property
    def transform(self) -> FrameTransform:
        return self._transform

    @property
    def size(self) -> tuple[int, int]:
        return self._transform.frame_size

    def window_lister(self) -> WindowLister:
        return WindowLocator(self.display)

    def _refresh_layout(self) -> None:
        now = self._clock()
        if now - self._read_at < LAYOUT_INTERVAL_S:
            return
        self._read_at = now
        layout = read_layout(self._x)
        if layout == self._layout:
            return
        try:
            transform = layout.view(self._view)
        except LayoutError as exc:
            raise CaptureError(f"the shared monitor is gone: {exc}") from exc
        self._layout, self._transform = layout, transform

    # --- grabbing --------------------------------------------------------------------

    def grab(self) -> Frame:
        if self._closed:
            raise CaptureError("screen source is closed")
        self._refresh_layout()
        t = self._transform
        region = {"left": t.x, "top": t.y, "width": t.width, "height": t.height}
        try:
            shot = self._sct.grab(region)
        except Exception as exc:
            raise CaptureError(f"screen grab failed: {exc}") from exc
        w, h = shot.width, shot.height
        # shot.raw is a new bytearray per grab: writable, owned by the caller, no copy.
        frame = np.frombuffer(shot.raw, dtype=np.uint8).reshape(h, w, 4)
        if self._cursor:
            self._draw_cursor(frame, t)
        return frame

    def _draw_cursor(self, frame: Frame, t: FrameTransform) -> None:
        if not self._watching:
            return  # no XFixes: no cursor image to draw
        if self._x.cursor_changed() or self._sprite is None:
            cur = self._x.cursor_image()
            if cur is None or cur.width == 0 or cur.height == 0:
                self._sprite = None
                return
            self._sprite = (sprite(cur), cur.xhot, cur.yhot)  # converted once per shape
        spr, xhot, yhot = self._sprite
        x, y = self._x.pointer()
        draw(frame, spr, x - xhot - t.x, y - yhot - t.y)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sct.close()
        self._x.close()
