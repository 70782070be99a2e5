"""Binary frames (SPEC §4.1–§4.4) and :func:`parse_binary`, the relay's hot path.

:func:`parse_binary` reads only the clear header; the ciphertext is a zero-copy
``memoryview`` slice of the input. ``header()`` is the AEAD associated-data
prefix; ``bytes(frame)`` is the wire form.
"""

from dataclasses import dataclass
from typing import ClassVar, Literal, Union

from protocol.limits import MAX_BINARY_MESSAGE, MAX_U32, MAX_U64
from protocol.media._common import (
    _ACK,
    _INPUT_HEADER,
    _SCREEN_HEADER,
    FLAG_FULL,
    GCM_TAG_SIZE,
    KIND_ACK,
    KIND_INPUT,
    KIND_SCREEN_UPDATE,
    KNOWN_FLAGS,
    Buffer,
    _check_range,
    _malformed,
    _too_large,
)
from protocol.media.video import KIND_VIDEO_CHUNK, VideoChunkFrame, parse_video_frame

__all__ = [
    "AckFrame",
    "BinaryMessage",
    "InputFrame",
    "ScreenUpdateFrame",
    "UnknownBinary",
    "parse_binary",
]


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


BinaryMessage = Union[ScreenUpdateFrame, InputFrame, AckFrame, VideoChunkFrame, UnknownBinary]  # noqa: UP007
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
    if kind == KIND_VIDEO_CHUNK:
        return parse_video_frame(view)
    return UnknownBinary(kind, view[1:])
