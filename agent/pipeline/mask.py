"""Masking (G6): blank client-chosen regions and windows before diff and encode.

Masked pixels are overwritten in the captured frame itself, so they never reach the
differ, the encoder or the wire.  The fill is a solid dark slate with diagonal stripes
every 16 px, so the engineer sees at a glance that something is hidden on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.capture.base import Frame

MASK_FILL = (72, 56, 48, 255)  # BGRA dark slate
MASK_STRIPE = (110, 90, 80, 255)
STRIPE_PERIOD = 16
STRIPE_WIDTH = 4


class MaskError(ValueError):
    """A mask request is malformed (negative size, too many regions)."""


@dataclass(frozen=True, slots=True)
class MaskRegion:
    """A screen rectangle to blank, in frame pixels."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if self.w < 0 or self.h < 0:
            raise MaskError(f"mask region with negative size: {self}")

    def clip(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """``(x0, y0, x1, y1)`` inside a width×height frame, or None if outside it."""
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.x + self.w), min(height, self.y + self.h)
        if x0 >= x1 or y0 >= y1:
            return None
        return x0, y0, x1, y1


@dataclass(frozen=True, slots=True)
class WindowMask:
    """A window to blank, named by X11 window id or by (part of) its title."""

    title: str | None = None
    window_id: int | None = None

    def __post_init__(self) -> None:
        if (self.title is None) == (self.window_id is None):
            raise MaskError("a window mask names exactly one of title or window_id")
        if self.title is not None and not self.title:
            raise MaskError("an empty title would match every window")


def mask_pattern(width: int, height: int) -> Frame:
    """The fill used for masked pixels: a ``height × width`` BGRA array."""
    yy, xx = np.ogrid[:STRIPE_PERIOD, :STRIPE_PERIOD]
    stripe = ((xx + yy) % STRIPE_PERIOD) < STRIPE_WIDTH
    cell = np.where(
        stripe[:, :, None],
        np.asarray(MASK_STRIPE, dtype=np.uint8),
        np.asarray(MASK_FILL, dtype=np.uint8),
    )
    reps = (-(-height // STRIPE_PERIOD), -(-width // STRIPE_PERIOD), 1)
    return np.ascontiguousarray(np.tile(cell.astype(np.uint8), reps)[:height, :width])


def to_regions(items: Iterable[MaskRegion | Sequence[int]]) -> tuple[MaskRegion, ...]:
    """Normalise ``MaskRegion`` objects or ``(x, y, w, h)`` sequences."""
    out: list[MaskRegion] = []
    for item in items:
        if isinstance(item, MaskRegion):
            out.append(item)
        else:
            if len(item) != 4:
                raise MaskError(f"a region is (x, y, w, h), got {item!r}")
            x, y, w, h = (int(v) for v in item)
            out.append(MaskRegion(x, y, w, h))
    return tuple(out)


class Masker:
    """Applies rectangles to frames in place with a pattern anchored to the screen.

    The pattern is anchored to screen coordinates (not to the region), so a window
    that moves does not make its masked pixels change — only its edges.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._fill: npt.NDArray[np.uint8] = mask_pattern(width, height)

    def apply(self, frame: Frame, rects: Iterable[MaskRegion]) -> int:
        """Blank every rect of ``frame`` in place; returns how many were inside it."""
        n = 0
        for r in rects:
            box = r.clip(self.width, self.height)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            frame[y0:y1, x0:x1] = self._fill[y0:y1, x0:x1]
            n += 1
        return n

    def blank_all(self, frame: Frame) -> None:
        """Blank the whole frame (fail closed when window positions are unknown)."""
        frame[:] = self._fill
