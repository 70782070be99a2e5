"""Shared pieces of :mod:`protocol.media`: kinds, flags, codecs, struct layouts
and the error helpers every parser uses (SPEC §4, §7)."""

import struct
from typing import Final

from protocol.errors import ErrorCode, ProtocolError

__all__ = [
    "CODECS",
    "CODEC_JPEG",
    "CODEC_PNG",
    "FLAG_FULL",
    "GCM_TAG_SIZE",
    "KIND_ACK",
    "KIND_INPUT",
    "KIND_SCREEN_UPDATE",
    "KNOWN_FLAGS",
    "Buffer",
]

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
