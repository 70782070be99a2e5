"""Binary frames (SPEC §4) and their plaintext payloads.

Frames: :class:`ScreenUpdateFrame` (kind 0x01), :class:`InputFrame` (0x02),
:class:`AckFrame` (0x03) and :class:`UnknownBinary` for kinds this version does
not know (skipped, not fatal). :func:`parse_binary` reads only the clear header;
the ciphertext is a zero-copy ``memoryview`` slice of the input (the relay reads
thousands of headers per second). ``header()`` is the AEAD associated-data
prefix; ``bytes(frame)`` is the wire form.

Plaintext payloads (inside the ciphertext): :class:`ScreenUpdate` and
:class:`InputBatch`, each with ``parse(data)`` and ``__bytes__()``. All limits of
SPEC §2 are checked on construction, so a payload object is always valid.
"""

import struct
from dataclasses import dataclass
from typing import ClassVar, Final, Literal, Union

from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import (
    MAX_BINARY_MESSAGE,
    MAX_FRAME_AREA,
    MAX_IMAGES,
    MAX_INPUT_EVENTS,
    MAX_RECTS,
    MAX_SCREEN_DIM,
    MAX_U32,
    MAX_U64,
)

KIND_SCREEN_UPDATE: Final = 0x01
KIND_INPUT: Final = 0x02
KIND_ACK: Final = 0x03
FLAG_FULL: Final = 0x01
"""Screen update flag bit 0: a complete frame that needs no earlier one."""
KNOWN_FLAGS: Final = FLAG_FULL
CODEC_JPEG: Final = 1
CODEC_PNG: Final = 2
CODECS: Final = frozenset({CODEC_JPEG, CODEC_PNG})
GCM_TAG_SIZE: Final = 16
"""Shortest valid ciphertext: an AES-GCM tag of an empty plaintext."""

# Precompiled layouts (hot path).
_SCREEN_HEADER: Final = struct.Struct(">BBIQ")  # kind, flags, epoch, seq: 14 bytes
_INPUT_HEADER: Final = struct.Struct(">BIQ")  # kind, sender, seq: 13 bytes
_ACK: Final = struct.Struct(">BQ")  # kind, seq: 9 bytes
_SCREEN_SIZE: Final = struct.Struct(">HHB")  # width, height, image count
_IMAGE_HEADER: Final = struct.Struct(">BI")  # codec, length
_RECT_COUNT: Final = struct.Struct(">H")
_RECT: Final = struct.Struct(">BHHHHHH")  # image, sx, sy, dx, dy, w, h: 13 bytes
_EVENT_COUNT: Final = struct.Struct(">H")
_POINTER: Final = struct.Struct(">HH")
_BUTTON: Final = struct.Struct(">HHB")
_WHEEL: Final = struct.Struct(">HHhh")
_KEY: Final = struct.Struct(">IB")

Buffer = bytes | bytearray | memoryview


def _malformed(why: str) -> ProtocolError:
    return ProtocolError.of(ErrorCode.MALFORMED_BINARY, why)


def _invalid(why: str) -> ProtocolError:
    return ProtocolError.of(ErrorCode.INVALID_FIELD, why)


def _too_large(why: str) -> ProtocolError:
    return ProtocolError.of(ErrorCode.TOO_LARGE, why)


def _check_range(name: str, value: int, lo: int, hi: int) -> None:
    if type(value) is not int or not lo <= value <= hi:
        raise _invalid(f"{name}={value!r} not in [{lo}, {hi}]")


# --- frames (SPEC §4.1-4.3) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScreenUpdateFrame:
    """SPEC §4.1 kind 0x01, A→B→V: clear header + ciphertext of a :class:`ScreenUpdate`."""

    flags: int
    epoch: int
    seq: int
    ciphertext: bytes | memoryview
    kind: ClassVar[Literal[0x01]] = 0x01

    def __post_init__(self) -> None:
        _check_range("flags", self.flags, 0, KNOWN_FLAGS)
        _check_range("epoch", self.epoch, 1, MAX_U32)
        _check_range("seq", self.seq, 1, MAX_U64)

    @property
    def full(self) -> bool:
        """Whether the ``FULL`` flag is set."""
        return bool(self.flags & FLAG_FULL)

    def header(self) -> bytes:
        """The 14-byte clear header (the AEAD associated-data prefix)."""
        return _SCREEN_HEADER.pack(KIND_SCREEN_UPDATE, self.flags, self.epoch, self.seq)

    def __bytes__(self) -> bytes:
        return self.header() + self.ciphertext


@dataclass(frozen=True, slots=True)
class InputFrame:
    """SPEC §4.2 kind 0x02, V→B→A: clear header + ciphertext of an :class:`InputBatch`."""

    sender: int
    seq: int
    ciphertext: bytes | memoryview
    kind: ClassVar[Literal[0x02]] = 0x02

    def __post_init__(self) -> None:
        _check_range("sender", self.sender, 0, MAX_U32)
        _check_range("seq", self.seq, 1, MAX_U64)

    def header(self) -> bytes:
        """The 13-byte clear header (the AEAD associated-data prefix)."""
        return _INPUT_HEADER.pack(KIND_INPUT, self.sender, self.seq)

    def __bytes__(self) -> bytes:
        return self.header() + self.ciphertext


@dataclass(frozen=True, slots=True)
class AckFrame:
    """SPEC §4.3 kind 0x03: the highest screen-update ``seq`` drawn. Not encrypted."""

    seq: int
    kind: ClassVar[Literal[0x03]] = 0x03

    def __post_init__(self) -> None:
        _check_range("seq", self.seq, 1, MAX_U64)

    def header(self) -> bytes:
        """The whole frame (an ack is all header)."""
        return _ACK.pack(KIND_ACK, self.seq)

    def __bytes__(self) -> bytes:
        return self.header()


@dataclass(frozen=True, slots=True)
class UnknownBinary:
    """A frame of a kind this version does not know: skip it (SPEC §4)."""

    kind: int
    data: bytes | memoryview

    def header(self) -> bytes:
        """The kind byte (the only part known)."""
        return bytes((self.kind,))

    def __bytes__(self) -> bytes:
        return self.header() + self.data


BinaryMessage = Union[ScreenUpdateFrame, InputFrame, AckFrame, UnknownBinary]  # noqa: UP007
"""Any binary frame."""


def parse_binary(data: Buffer) -> BinaryMessage:
    """Parse one binary frame's clear header (SPEC §4); the ciphertext is not copied.

    Raises :class:`ProtocolError`: ``too_large`` over ``MAX_BINARY_MESSAGE``,
    ``malformed_binary`` if shorter than the header or sizes disagree,
    ``invalid_field`` for out-of-range header values.
    """
    size = len(data)
    if size > MAX_BINARY_MESSAGE:
        raise _too_large(f"binary frame of {size} bytes")
    if size == 0:
        raise _malformed("empty binary frame")
    view = data if isinstance(data, memoryview) else memoryview(data)
    kind = view[0]
    if kind == KIND_SCREEN_UPDATE:
        if size < _SCREEN_HEADER.size + GCM_TAG_SIZE:
            raise _malformed("screen update shorter than header and tag")
        _, flags, epoch, seq = _SCREEN_HEADER.unpack_from(view)
        return ScreenUpdateFrame(flags, epoch, seq, view[_SCREEN_HEADER.size :])
    if kind == KIND_INPUT:
        if size < _INPUT_HEADER.size + GCM_TAG_SIZE:
            raise _malformed("input frame shorter than header and tag")
        _, sender, seq = _INPUT_HEADER.unpack_from(view)
        return InputFrame(sender, seq, view[_INPUT_HEADER.size :])
    if kind == KIND_ACK:
        if size != _ACK.size:
            raise _malformed(f"ack of {size} bytes, expected {_ACK.size}")
        return AckFrame(_ACK.unpack_from(view)[1])
    return UnknownBinary(kind, view[1:])


# --- screen update payload (SPEC §4.1) ------------------------------------------------


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


# --- input batch payload (SPEC §4.2) --------------------------------------------------

BUTTONS: Final = frozenset({1, 2, 3})
MODIFIER_SHIFT: Final = 0x01
MODIFIER_CTRL: Final = 0x02
MODIFIER_ALT: Final = 0x04
MODIFIER_META: Final = 0x08
MODIFIERS_MASK: Final = 0x0F


def _check_xy(x: int, y: int) -> None:
    _check_range("x", x, 0, 0xFFFF)
    _check_range("y", y, 0, 0xFFFF)


@dataclass(frozen=True, slots=True)
class PointerMove:
    """Event type 1."""

    x: int
    y: int
    event_type: ClassVar[int] = 1

    def __post_init__(self) -> None:
        _check_xy(self.x, self.y)

    def _pack(self) -> bytes:
        return _POINTER.pack(self.x, self.y)


@dataclass(frozen=True, slots=True)
class ButtonDown:
    """Event type 2; ``button`` 1 left, 2 middle, 3 right."""

    x: int
    y: int
    button: int
    event_type: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _check_xy(self.x, self.y)
        if self.button not in BUTTONS:
            raise _invalid(f"button {self.button!r}")

    def _pack(self) -> bytes:
        return _BUTTON.pack(self.x, self.y, self.button)


@dataclass(frozen=True, slots=True)
class ButtonUp:
    """Event type 3."""

    x: int
    y: int
    button: int
    event_type: ClassVar[int] = 3

    def __post_init__(self) -> None:
        _check_xy(self.x, self.y)
        if self.button not in BUTTONS:
            raise _invalid(f"button {self.button!r}")

    def _pack(self) -> bytes:
        return _BUTTON.pack(self.x, self.y, self.button)


@dataclass(frozen=True, slots=True)
class Wheel:
    """Event type 4; ``dx``/``dy`` are signed 16-bit."""

    x: int
    y: int
    dx: int
    dy: int
    event_type: ClassVar[int] = 4

    def __post_init__(self) -> None:
        _check_xy(self.x, self.y)
        _check_range("dx", self.dx, -0x8000, 0x7FFF)
        _check_range("dy", self.dy, -0x8000, 0x7FFF)

    def _pack(self) -> bytes:
        return _WHEEL.pack(self.x, self.y, self.dx, self.dy)


@dataclass(frozen=True, slots=True)
class KeyDown:
    """Event type 5: X11 keysym and modifier bits (shift, ctrl, alt, meta)."""

    keysym: int
    modifiers: int
    event_type: ClassVar[int] = 5

    def __post_init__(self) -> None:
        _check_range("keysym", self.keysym, 0, MAX_U32)
        _check_range("modifiers", self.modifiers, 0, MODIFIERS_MASK)

    def _pack(self) -> bytes:
        return _KEY.pack(self.keysym, self.modifiers)


@dataclass(frozen=True, slots=True)
class KeyUp:
    """Event type 6."""

    keysym: int
    modifiers: int
    event_type: ClassVar[int] = 6

    def __post_init__(self) -> None:
        _check_range("keysym", self.keysym, 0, MAX_U32)
        _check_range("modifiers", self.modifiers, 0, MODIFIERS_MASK)

    def _pack(self) -> bytes:
        return _KEY.pack(self.keysym, self.modifiers)


InputEvent = Union[PointerMove, ButtonDown, ButtonUp, Wheel, KeyDown, KeyUp]  # noqa: UP007
"""Any input event."""

EVENT_LAYOUTS: Final[dict[int, tuple[type[InputEvent], struct.Struct]]] = {
    1: (PointerMove, _POINTER),
    2: (ButtonDown, _BUTTON),
    3: (ButtonUp, _BUTTON),
    4: (Wheel, _WHEEL),
    5: (KeyDown, _KEY),
    6: (KeyUp, _KEY),
}
"""Event type byte → (class, layout of the fields after the type byte)."""


@dataclass(frozen=True, slots=True)
class InputBatch:
    """SPEC §4.2 plaintext: up to ``MAX_INPUT_EVENTS`` events."""

    events: tuple[InputEvent, ...]

    def __post_init__(self) -> None:
        if len(self.events) > MAX_INPUT_EVENTS:
            raise _too_large(f"{len(self.events)} events > MAX_INPUT_EVENTS")

    @classmethod
    def parse(cls, data: Buffer) -> "InputBatch":
        """Decode an input batch plaintext; raises :class:`ProtocolError`."""
        size = len(data)
        if size > MAX_BINARY_MESSAGE:
            raise _too_large(f"input batch of {size} bytes")
        view = data if isinstance(data, memoryview) else memoryview(data)
        try:
            (count,) = _EVENT_COUNT.unpack_from(view, 0)
            if count > MAX_INPUT_EVENTS:
                raise _too_large(f"{count} events > MAX_INPUT_EVENTS")
            pos = _EVENT_COUNT.size
            events: list[InputEvent] = []
            for _ in range(count):
                layout = EVENT_LAYOUTS.get(view[pos])
                if layout is None:
                    raise _malformed(f"unknown input event type {view[pos]}")
                event_cls, fields = layout
                events.append(event_cls(*fields.unpack_from(view, pos + 1)))
                pos += 1 + fields.size
        except (struct.error, IndexError) as exc:
            raise _malformed("input batch truncated") from exc
        if pos != size:
            raise _malformed("trailing bytes after input events")
        return cls(tuple(events))

    def __bytes__(self) -> bytes:
        parts = [_EVENT_COUNT.pack(len(self.events))]
        for e in self.events:
            parts.append(bytes((e.event_type,)))
            parts.append(e._pack())
        return b"".join(parts)
