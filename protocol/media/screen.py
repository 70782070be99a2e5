"""The screen update plaintext (SPEC §4.1): size, encoded images, rectangles.

All limits of SPEC §2 are checked on construction, so a payload is always valid.
"""

import struct
from dataclasses import dataclass

from protocol.limits import (
    MAX_BINARY_MESSAGE,
    MAX_FRAME_AREA,
    MAX_IMAGES,
    MAX_RECTS,
    MAX_SCREEN_DIM,
)
from protocol.media._common import (
    _IMAGE_HEADER,
    _RECT,
    _RECT_COUNT,
    _SCREEN_SIZE,
    CODECS,
    Buffer,
    _check_range,
    _invalid,
    _malformed,
    _too_large,
)

__all__ = ["EncodedImage", "Rect", "ScreenUpdate"]


@dataclass(frozen=True, slots=True)
class EncodedImage:
    """One encoded image of a screen update: ``codec`` 1 = JPEG, 2 = PNG."""

    codec: int
    data: bytes

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise _invalid(f"unknown image codec {self.codec!r}")
        if not 1 <= len(self.data) <= MAX_BINARY_MESSAGE:
            raise _invalid(f"image of {len(self.data)} bytes")


@dataclass(frozen=True, slots=True)
class Rect:
    """Copy (sx, sy, w, h) of image ``image`` to (dx, dy) on the screen."""

    image: int
    sx: int
    sy: int
    dx: int
    dy: int
    w: int
    h: int

    def __post_init__(self) -> None:
        _check_range("image", self.image, 0, MAX_IMAGES - 1)
        for name in ("sx", "sy", "dx", "dy"):
            _check_range(name, getattr(self, name), 0, 0xFFFF)
        _check_range("w", self.w, 1, MAX_SCREEN_DIM)
        _check_range("h", self.h, 1, MAX_SCREEN_DIM)


@dataclass(frozen=True, slots=True)
class ScreenUpdate:
    """SPEC §4.1 plaintext: screen size, encoded images and where their parts go."""

    width: int
    height: int
    images: tuple[EncodedImage, ...]
    rects: tuple[Rect, ...]

    def __post_init__(self) -> None:
        _check_range("width", self.width, 1, MAX_SCREEN_DIM)
        _check_range("height", self.height, 1, MAX_SCREEN_DIM)
        if len(self.images) > MAX_IMAGES:
            raise _too_large(f"{len(self.images)} images > MAX_IMAGES")
        if len(self.rects) > MAX_RECTS:
            raise _too_large(f"{len(self.rects)} rects > MAX_RECTS")
        n, width, height, area = len(self.images), self.width, self.height, 0
        for r in self.rects:
            if r.image >= n:
                raise _invalid(f"rect refers to image {r.image} of {n}")
            if r.dx + r.w > width or r.dy + r.h > height:
                raise _invalid("destination rect outside the screen")
            area += r.w * r.h
        if area > MAX_FRAME_AREA:
            raise _too_large(f"rect area {area} > MAX_FRAME_AREA")

    @classmethod
    def parse(cls, data: Buffer) -> "ScreenUpdate":
        """Decode a screen update plaintext; raises :class:`ProtocolError`."""
        size = len(data)
        if size > MAX_BINARY_MESSAGE:
            raise _too_large(f"screen update of {size} bytes")
        view = data if isinstance(data, memoryview) else memoryview(data)
        try:
            width, height, n = _SCREEN_SIZE.unpack_from(view, 0)
            if n > MAX_IMAGES:
                raise _too_large(f"{n} images > MAX_IMAGES")
            pos = _SCREEN_SIZE.size
            images = []
            for _ in range(n):
                codec, length = _IMAGE_HEADER.unpack_from(view, pos)
                pos += _IMAGE_HEADER.size
                if pos + length > size:
                    raise _malformed("image length runs past the end")
                images.append(EncodedImage(codec, bytes(view[pos : pos + length])))
                pos += length
            (m,) = _RECT_COUNT.unpack_from(view, pos)
        except struct.error as exc:
            raise _malformed("screen update truncated") from exc
        if m > MAX_RECTS:
            raise _too_large(f"{m} rects > MAX_RECTS")
        pos += _RECT_COUNT.size
        if size - pos != m * _RECT.size:
            raise _malformed("rect count disagrees with the size")
        rects = tuple(Rect(*f) for f in _RECT.iter_unpack(view[pos:]))
        return cls(width, height, tuple(images), rects)

    def __bytes__(self) -> bytes:
        parts = [_SCREEN_SIZE.pack(self.width, self.height, len(self.images))]
        for image in self.images:
            parts.append(_IMAGE_HEADER.pack(image.codec, len(image.data)))
            parts.append(image.data)
        parts.append(_RECT_COUNT.pack(len(self.rects)))
        parts.extend(_RECT.pack(r.image, r.sx, r.sy, r.dx, r.dy, r.w, r.h) for r in self.rects)
        return b"".join(parts)
