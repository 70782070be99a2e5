"""Apply a ScreenUpdate to a BGRA canvas: the Python reference of what the viewer draws.

Used by tests and benchmarks (round trips, "masked pixels never reach the encoder").
"""

from __future__ import annotations

import io

import numpy as np
import simplejpeg
from PIL import Image

from agent.capture.base import Frame
from agent.pipeline.encode import Codec
from protocol.media import EncodedImage, ScreenUpdate


def decode_image(image: EncodedImage) -> Frame:
    """Decode one encoded image to a BGRA array (alpha 255)."""
    if image.codec == Codec.JPEG:
        out: Frame = simplejpeg.decode_jpeg(image.data, colorspace="BGRA")
        return out
    if image.codec == Codec.PNG:
        with Image.open(io.BytesIO(image.data)) as img:
            rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
        return np.ascontiguousarray(rgba[:, :, [2, 1, 0, 3]])
    raise ValueError(f"unknown codec {image.codec}")


def new_canvas(width: int, height: int) -> Frame:
    """A black BGRA canvas, as the viewer starts."""
    canvas = np.zeros((height, width, 4), dtype=np.uint8)
    canvas[:, :, 3] = 255
    return canvas


def apply_update(canvas: Frame | None, update: ScreenUpdate) -> Frame:
    """Draw ``update`` on ``canvas`` in place and return it.

    A new canvas is made when ``canvas`` is None or the screen size changed.
    """
    if canvas is None or canvas.shape[:2] != (update.height, update.width):
        canvas = new_canvas(update.width, update.height)
    decoded = [decode_image(i) for i in update.images]
    for r in update.rects:
        src = decoded[r.image][r.sy : r.sy + r.h, r.sx : r.sx + r.w]
        if src.shape[:2] != (r.h, r.w):
            raise ValueError(f"rect {r} runs outside its image")
        canvas[r.dy : r.dy + r.h, r.dx : r.dx + r.w] = src
    return canvas
