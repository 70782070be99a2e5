"""The agent's screen pipeline (DESIGN §6): mask → tile diff → pack → encode.

``ScreenPipeline(source, tile=64, quality=70)`` turns a ``agent.capture`` source into
``protocol.media.ScreenUpdate`` plaintexts (``next_update(full)``; None when nothing
changed); ``set_masks(regions, windows)`` blanks client-chosen rectangles and windows
before anything is diffed or encoded (G6).  ``apply_update`` is the reference decoder
(what the viewer draws).  Encryption belongs to the session (``protocol.e2e``).
"""

from __future__ import annotations

from agent.pipeline.apply import apply_update, decode_image, new_canvas
from agent.pipeline.diff import dirty_tiles
from agent.pipeline.encode import Codec, EncoderSettings, encode_image
from agent.pipeline.mask import MASK_FILL, Masker, MaskError, MaskRegion, WindowMask
from agent.pipeline.pack import Box, Placement, dirty_boxes, pack_boxes
from agent.pipeline.pipeline import FrameStats, ScreenPipeline

__all__ = [
    "MASK_FILL",
    "Box",
    "Codec",
    "EncoderSettings",
    "FrameStats",
    "MaskError",
    "MaskRegion",
    "Masker",
    "Placement",
    "ScreenPipeline",
    "WindowMask",
    "apply_update",
    "decode_image",
    "dirty_boxes",
    "dirty_tiles",
    "encode_image",
    "new_canvas",
    "pack_boxes",
]
