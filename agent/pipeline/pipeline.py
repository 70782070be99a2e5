"""ScreenPipeline: capture → mask → tile diff → pack → encode (DESIGN §6).

Encryption and sending are the session's job (``protocol.e2e.FrameSealer``); this
class only turns frames into ``protocol.media.ScreenUpdate`` plaintexts.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from agent.capture.base import CaptureSource, Frame
from agent.capture.windows import WindowLister, WindowLookupError
from agent.desktop.layout import FrameTransform, identity
from agent.pipeline.diff import dirty_tiles, grid_shape
from agent.pipeline.encode import EncoderSettings, encode_image
from agent.pipeline.mask import Masker, MaskError, MaskRegion, WindowMask, to_regions
from agent.pipeline.pack import Box, dirty_boxes, pack_boxes
from protocol.limits import MAX_MASK_REGIONS
from protocol.media import EncodedImage, Rect, ScreenUpdate

log = logging.getLogger(__name__)

#: How often window titles are searched again (new windows with a masked title).
WINDOW_SEARCH_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class FrameStats:
    """What the last ``next_update`` did, for benchmarks and the agent's debug log."""

    full: bool
    dirty_tiles: int
    images: int
    rects: int
    payload_bytes: int
    capture_ms: float
    mask_ms: float
    diff_ms: float
    encode_ms: float


class ScreenPipeline:
    """Turns a capture source into screen updates.

    ``next_update(full=False)`` grabs a frame, blanks the masks (G6: before diff and
    encode), compares it with the previous frame tile by tile and returns a
    ``ScreenUpdate`` of the dirty tiles, or None if nothing changed.  ``full=True``
    (join, viewer ``refresh``) returns the whole screen.  Not thread-safe.
    """

    def __init__(
        self,
        source: CaptureSource,
        tile: int = 64,
        quality: int = 70,
        *,
        lossless_max_area: int | None = None,
        window_lister: WindowLister | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 16 <= tile <= 1024 or tile % 16:
            raise ValueError(f"tile must be a multiple of 16 in 16..1024, got {tile}")
        self.source = source
        self.tile = tile
        self.settings = (
            EncoderSettings(quality)
            if lossless_max_area is None
            else EncoderSettings(quality, lossless_max_area)
        )
        self._clock = clock
        self._locator = window_lister
        self._own_locator = window_lister is None
        self._prev: Frame | None = None
        self._masker: Masker | None = None
        self._regions: tuple[MaskRegion, ...] = ()
        self._desktop_regions: tuple[tuple[float, float, float, float], ...] = ()
        self._windows: tuple[WindowMask, ...] = ()
        self._window_ids: dict[WindowMask, list[int]] = {}
        self._searched_at = float("-inf")
        self._lookup_failed = False
        self.last_stats: FrameStats | None = None

    # --- masks -----------------------------------------------------------------------

    def set_masks(
        self,
        regions: Iterable[MaskRegion | Sequence[int]] = (),
        windows: Iterable[WindowMask] = (),
    ) -> None:
        """Replace the masked regions and windows; effective from the next frame.

        Raises ``MaskError`` (and changes nothing) if a region is malformed or there
        are more than ``MAX_MASK_REGIONS`` regions or windows.
        """
        new_regions = to_regions(regions)
        new_windows = tuple(windows)
        if len(new_regions) > MAX_MASK_REGIONS or len(new_windows) > MAX_MASK_REGIONS:
            raise MaskError(f"at most {MAX_MASK_REGIONS} masked regions and windows")
        for w in new_windows:
            if not isinstance(w, WindowMask):
                raise MaskError(f"not a WindowMask: {w!r}")
        self._regions, self._windows = new_regions, new_windows
        # Regions are drawn on the view shared now; kept in desktop units too, so they
        # stay on the same content if the view changes (another monitor, all of them).
        t = self._transform()
        self._desktop_regions = tuple(
            (t.x + r.x / t.scale, t.y + r.y / t.scale, r.w / t.scale, r.h / t.scale)
            for r in new_regions
        )
        self._window_ids = {}
        self._searched_at = float("-inf")

    @property
    def masks(self) -> tuple[tuple[MaskRegion, ...], tuple[WindowMask, ...]]:
        """The current ``(regions, windows)``."""
        return self._regions, self._windows

    def _transform(self) -> FrameTransform:
        # Duck-typed sources (tests, benchmarks) without a desktop: frame = desktop.
        t = getattr(self.source, "transform", None)
        return t if isinstance(t, FrameTransform) else identity(*self.source.size)

    def _window_regions(self) -> list[MaskRegion]:
        """Current rectangles of the masked windows, in frame coordinates."""
        if self._locator is None:
            # The source's own lister (X11: its display); none means "cannot list".
            lister = getattr(self.source, "window_lister", None)
            self._locator = lister() if lister is not None else None
            if self._locator is None:
                raise WindowLookupError("this desktop cannot list other windows")
        now = self._clock()
        if now - self._searched_at >= WINDOW_SEARCH_INTERVAL_S:
            self._window_ids = {
                w: [w.window_id] if w.window_id is not None else self._locator.search(w.title or "")
                for w in self._windows
            }
            self._searched_at = now
        t = self._transform()
        out = []
        for ids in self._window_ids.values():
            for wid in ids:
                g = self._locator.geometry(wid)
                if g is not None:
                    out.append(_frame_rect(t, g.x, g.y, g.width, g.height))
        return out

    def _apply_masks(self, frame: Frame, masker: Masker) -> None:
        if self._regions:
            t = self._transform()
            masker.apply(frame, [_frame_rect(t, *r) for r in self._desktop_regions])
        if not self._windows:
            return
        try:
            rects = self._window_regions()
        except WindowLookupError as exc:
            # Fail closed (G6): a window we cannot locate might be anywhere.
            if not self._lookup_failed:
                log.warning("window masks cannot be located (%s): blanking the screen", exc)
            self._lookup_failed = True
            self._searched_at = float("-inf")
            masker.blank_all(frame)
            return
        self._lookup_failed = False
        masker.apply(frame, rects)

    # --- updates ---------------------------------------------------------------------

    def next_update(self, full: bool = False) -> ScreenUpdate | None:
        """The next update (dirty tiles, or everything if ``full``); None if unchanged."""
        t0 = time.perf_counter()
        frame = self.source.grab()
        t1 = time.perf_counter()
        h, w = frame.shape[:2]
        if self._masker is None or (self._masker.width, self._masker.height) != (w, h):
            self._masker = Masker(w, h)
            self._prev = None  # new screen size: nothing to diff against
        self._apply_masks(frame, self._masker)
        t2 = time.perf_counter()
        prev, self._prev = self._prev, frame
        if full or prev is None:
            rows, cols = grid_shape(w, h, self.tile)
            n_dirty = rows * cols
            boxes = [Box(0, 0, w, h)]
            is_full = True
        else:
            grid = dirty_tiles(prev, frame, self.tile)
            n_dirty = int(grid.sum())
            boxes = dirty_boxes(grid, self.tile, w, h) if n_dirty else []
            is_full = False
        t3 = time.perf_counter()
        if not boxes:
            self.last_stats = FrameStats(False, 0, 0, 0, 0, *_ms(t0, t1, t2, t3, t3))
            return None
        arrays, placements = pack_boxes(frame, boxes, w, h)
        images = []
        for arr in arrays:
            codec, data = encode_image(arr, self.settings)
            images.append(EncodedImage(int(codec), data))
        rects = tuple(Rect(p.image, p.sx, p.sy, p.dx, p.dy, p.w, p.h) for p in placements)
        update = ScreenUpdate(w, h, tuple(images), rects)
        t4 = time.perf_counter()
        size = sum(len(i.data) for i in images)
        self.last_stats = FrameStats(
            is_full, n_dirty, len(images), len(rects), size, *_ms(t0, t1, t2, t3, t4)
        )
        return update

    def reset(self) -> None:
        """Forget the previous frame (the next update will be full)."""
        self._prev = None

    def close(self) -> None:
        """Close the window lister this pipeline opened (not the source)."""
        if self._own_locator and self._locator is not None:
            self._locator.close()
            self._locator = None


def _frame_rect(t: FrameTransform, x: float, y: float, w: float, h: float) -> MaskRegion:
    """A desktop rectangle in frame pixels of view ``t``, rounded outwards (a mask
    never leaves a sliver of what it covers)."""
    s = t.scale
    x0, y0 = math.floor((x - t.x) * s), math.floor((y - t.y) * s)
    x1, y1 = math.ceil((x + w - t.x) * s), math.ceil((y + h - t.y) * s)
    return MaskRegion(x0, y0, x1 - x0, y1 - y0)


def _ms(t0: float, t1: float, t2: float, t3: float, t4: float) -> tuple[float, ...]:
    return (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t4 - t3) * 1e3
