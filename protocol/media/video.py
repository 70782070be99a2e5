"""Video chunks (SPEC §4.4, kind 0x04): the screen as an encoded video stream.

The clear header has the layout of a screen update's (SPEC §4.1) so that the broker
reads the ``KEY`` flag (a keyframe: a seek point that needs no earlier chunk) and
nothing else; codec, size, timestamp and the encoded bytes are inside the
ciphertext. Chunks share the session's seq counter and content key with screen
updates (one nonce space, SPEC §8.3); the kind byte is in the AAD, so one kind
cannot be passed off as the other.
"""

import struct
from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from protocol.limits import MAX_BINARY_MESSAGE, MAX_SCREEN_DIM, MAX_U32, MAX_U64
from protocol.media._common import Buffer, _check_range, _invalid, _malformed, _too_large

__all__ = [
    "FLAG_KEY",
    "KIND_VIDEO_CHUNK",
    "VIDEO_AV1",
    "VIDEO_CODECS",
    "VIDEO_CODEC_NAMES",
    "VIDEO_H264",
    "VIDEO_VP9",
    "VideoChunk",
    "VideoChunkFrame",
]

KIND_VIDEO_CHUNK: Final = 0x04
FLAG_KEY: Final = 0x01
"""Video chunk flag bit 0: a keyframe (decodable without any earlier chunk)."""
_KNOWN_VIDEO_FLAGS: Final = FLAG_KEY

VIDEO_VP9: Final = 1
"""VP9 profile 0, 8-bit 4:2:0 (WebCodecs ``vp09.00.*.08``)."""
VIDEO_H264: Final = 2
"""H.264 Annex B byte stream with in-band parameter sets (WebCodecs ``avc1.*``)."""
VIDEO_AV1: Final = 3
"""AV1 main profile, 8-bit 4:2:0, low-overhead OBU stream (WebCodecs ``av01.0.*.08``)."""
VIDEO_CODEC_NAMES: Final[dict[int, str]] = {VIDEO_VP9: "vp9", VIDEO_H264: "h264", VIDEO_AV1: "av1"}
"""Codec id → the name used in ``key.commit`` ``video_codecs`` (SPEC §3.4)."""
VIDEO_CODECS: Final = frozenset(VIDEO_CODEC_NAMES)

_VIDEO_HEADER: Final = struct.Struct(">BBIQ")  # kind, flags, epoch, seq: 14 bytes
_CHUNK_HEAD: Final = struct.Struct(">BHHQ")  # codec, width, height, timestamp µs: 13 bytes
_GCM_TAG: Final = 16


@dataclass(frozen=True, slots=True)
class VideoChunkFrame:
    """SPEC §4.4 kind 0x04, A→B→V: clear header + ciphertext of a :class:`VideoChunk`."""

    flags: int
    epoch: int
    seq: int
    ciphertext: bytes | memoryview
    kind: ClassVar[Literal[0x04]] = 0x04

    def __post_init__(self) -> None:
        _check_range("flags", self.flags, 0, _KNOWN_VIDEO_FLAGS)
        _check_range("epoch", self.epoch, 1, MAX_U32)
        _check_range("seq", self.seq, 1, MAX_U64)

    @property
    def key(self) -> bool:
        """Whether the ``KEY`` flag is set (a keyframe)."""
        return bool(self.flags & FLAG_KEY)

    @property
    def full(self) -> bool:
        """Alias of :attr:`key`: a keyframe is the video form of a ``FULL`` update."""
        return self.key

    def header(self) -> bytes:
        """The 14-byte clear header (the AEAD associated-data prefix)."""
        return _VIDEO_HEADER.pack(KIND_VIDEO_CHUNK, self.flags, self.epoch, self.seq)

    def __bytes__(self) -> bytes:
        return self.header() + self.ciphertext


def parse_video_frame(view: memoryview) -> VideoChunkFrame:
    """The clear header of a kind 0x04 frame (called by ``parse_binary``)."""
    if len(view) < _VIDEO_HEADER.size + _GCM_TAG:
        raise _malformed("video chunk shorter than header and tag")
    _, flags, epoch, seq = _VIDEO_HEADER.unpack_from(view)
    return VideoChunkFrame(flags, epoch, seq, view[_VIDEO_HEADER.size :])


@dataclass(frozen=True, slots=True)
class VideoChunk:
    """SPEC §4.4 plaintext: codec, the coded frame's size, timestamp and bytes."""

    codec: int
    width: int
    height: int
    timestamp_us: int
    data: bytes

    def __post_init__(self) -> None:
        if self.codec not in VIDEO_CODECS:
            raise _invalid(f"unknown video codec {self.codec!r}")
        _check_range("width", self.width, 1, MAX_SCREEN_DIM)
        _check_range("height", self.height, 1, MAX_SCREEN_DIM)
        _check_range("timestamp_us", self.timestamp_us, 0, MAX_U64)
        if not 1 <= len(self.data) <= MAX_BINARY_MESSAGE - _CHUNK_HEAD.size:
            raise _invalid(f"video chunk of {len(self.data)} bytes")

    @property
    def codec_name(self) -> str:
        """``vp9``, ``h264`` or ``av1``."""
        return VIDEO_CODEC_NAMES[self.codec]

    @classmethod
    def parse(cls, data: Buffer) -> "VideoChunk":
        """Decode a video chunk plaintext; raises :class:`ProtocolError`."""
        size = len(data)
        if size > MAX_BINARY_MESSAGE:
            raise _too_large(f"video chunk of {size} bytes")
        if size < _CHUNK_HEAD.size + 1:
            raise _malformed("video chunk shorter than its header and one byte")
        view = data if isinstance(data, memoryview) else memoryview(data)
        codec, width, height, ts = _CHUNK_HEAD.unpack_from(view, 0)
        return cls(codec, width, height, ts, bytes(view[_CHUNK_HEAD.size :]))

    def __bytes__(self) -> bytes:
        head = _CHUNK_HEAD.pack(self.codec, self.width, self.height, self.timestamp_us)
        return head + self.data
