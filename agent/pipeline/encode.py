"""Image encoding for screen updates (DESIGN §6, MACHINE-NOTES "Encoding").

JPEG goes through simplejpeg (libjpeg-turbo) straight from the BGRA buffer with 4:2:0
chroma subsampling set explicitly (simplejpeg defaults to 4:4:4); there is no BGRA→RGB
copy.  Small images are also tried as PNG (zlib level 1): on screen text measured here
PNG is ≈2× smaller than JPEG q70 *and* lossless, at ≈0.2–1 ms for ≤ 8 tiles; on
photo-like content it is larger, so it is used only when it is not much bigger than
the JPEG (``PNG_SLACK``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import IntEnum

import simplejpeg
from PIL import Image

from agent.capture.base import Frame

DEFAULT_QUALITY = 70
#: Images up to this many pixels are also tried as lossless PNG.
DEFAULT_LOSSLESS_MAX_AREA = 32_768
#: PNG wins if its size ≤ PNG_SLACK × the JPEG's (lossless text is worth a few bytes).
PNG_SLACK = 1.25
PNG_LEVEL = 1


class Codec(IntEnum):
    """Image codecs of SPEC §4.1."""

    JPEG = 1
    PNG = 2


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """How to encode: JPEG quality 1–100 and the PNG area threshold (0 = never PNG)."""

    quality: int = DEFAULT_QUALITY
    lossless_max_area: int = DEFAULT_LOSSLESS_MAX_AREA

    def __post_init__(self) -> None:
        if not 1 <= self.quality <= 100:
            raise ValueError(f"JPEG quality must be 1..100, got {self.quality}")
        if self.lossless_max_area < 0:
            raise ValueError("lossless_max_area must be >= 0")


def encode_jpeg(image: Frame, quality: int = DEFAULT_QUALITY) -> bytes:
    """JPEG (4:2:0) of a BGRA array; alpha is ignored."""
    data: bytes = simplejpeg.encode_jpeg(
        image, quality=quality, colorspace="BGRA", colorsubsampling="420"
    )
    return data


def encode_png(image: Frame) -> bytes:
    """Lossless RGB PNG of a C-contiguous BGRA array; alpha is dropped (X leaves it 0)."""
    h, w = image.shape[:2]
    img = Image.frombuffer("RGB", (w, h), image, "raw", "BGRX", 0, 1)
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=PNG_LEVEL)
    return buf.getvalue()


def encode_image(image: Frame, settings: EncoderSettings) -> tuple[Codec, bytes]:
    """Encode ``image`` with the codec that pays: PNG for small text-like areas, else JPEG."""
    jpeg = encode_jpeg(image, settings.quality)
    h, w = image.shape[:2]
    if w * h <= settings.lossless_max_area and image.flags.c_contiguous:
        png = encode_png(image)
        if len(png) <= PNG_SLACK * len(jpeg):
            return Codec.PNG, png
    return Codec.JPEG, jpeg
