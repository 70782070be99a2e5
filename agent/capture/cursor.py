"""Drawing the client's cursor into a captured frame (before masks, diff and encode).

The cursor is composited into the frame the pipeline then masks, so it can never show
over a masked region (G6) and the viewer needs nothing new to draw it.  XFixes gives
the image as premultiplied ARGB words; blending is ``out = cursor + frame * (1 - a)``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from agent.capture.base import Frame
from agent.x11 import CursorImage

#: A cursor image converted for blending: premultiplied BGR (float32) and alpha (0..1).
Sprite = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


def sprite(cursor: CursorImage) -> Sprite:
    """Convert XFixes' ``0xAARRGGBB`` words into arrays ready to blend."""
    words = np.asarray(cursor.pixels, dtype=np.uint32).reshape(cursor.height, cursor.width)
    bgra = words.view(np.uint8).reshape(cursor.height, cursor.width, 4)  # little endian
    alpha = bgra[:, :, 3:4].astype(np.float32) / 255.0
    return bgra[:, :, :3].astype(np.float32), alpha


def draw(frame: Frame, spr: Sprite, left: int, top: int) -> None:
    """Blend the sprite into ``frame`` with its top-left at frame pixel (left, top)."""
    colour, alpha = spr
    h, w = alpha.shape[:2]
    fh, fw = frame.shape[:2]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + w, fw), min(top + h, fh)
    if x0 >= x1 or y0 >= y1:
        return  # the pointer is on another monitor than the one shared
    sx, sy = x0 - left, y0 - top
    c = colour[sy : sy + y1 - y0, sx : sx + x1 - x0]
    a = alpha[sy : sy + y1 - y0, sx : sx + x1 - x0]
    region = frame[y0:y1, x0:x1, :3]
    blended = c + region.astype(np.float32) * (1.0 - a) + 0.5  # + 0.5: round, not floor
    region[...] = np.clip(blended, 0, 255).astype(np.uint8)
