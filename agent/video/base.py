"""The encoder contract (DESIGN §6): BGRA frames in, one encoded video frame out.

Like aiortc's ``codecs/base.py``: a tiny ABC, one small module per implementation
(:mod:`agent.video.pyav`), picked by a factory (:func:`agent.video.create_encoder`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from agent.capture.base import Frame
from protocol.media import VIDEO_CODEC_NAMES

__all__ = ["CODEC_IDS", "STRIP", "EncodedFrame", "Rows", "VideoEncoder", "VideoError"]

Rows = tuple[int, int]
"""A band of rows ``[start, stop)`` of a frame."""

STRIP = 64
"""Rows per strip for change detection and partial colour conversion (even, so 4:2:0
chroma rows never straddle two strips)."""

CODEC_IDS: dict[str, int] = {name: cid for cid, name in VIDEO_CODEC_NAMES.items()}
"""Codec name (``vp9``, ``h264``, ``av1``) → SPEC §4.4 codec id."""


class VideoError(Exception):
    """Root exception of ``agent.video``: an encoder cannot be opened or failed."""


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded frame: the bitstream and whether it is a keyframe."""

    data: bytes
    key: bool


class VideoEncoder(ABC):
    """Encodes frames of one size, one at a time, with no lookahead (zero latency).

    ``encode`` returns exactly one :class:`EncodedFrame` per input frame (realtime
    settings: no frame is held back), a keyframe when ``key`` is set (and the
    first). Not thread-safe; ``close`` is idempotent.
    """

    name: str
    """``vp9``, ``h264`` or ``av1``."""

    @property
    def codec_id(self) -> int:
        """The SPEC §4.4 codec id."""
        return CODEC_IDS[self.name]

    @abstractmethod
    def encode(
        self, frame: Frame, key: bool, timestamp_us: int, dirty: Sequence[Rows] | None = None
    ) -> EncodedFrame:
        """Encode one BGRA frame (its size must be the encoder's).

        ``dirty``: the row ranges ``[start, stop)`` that differ from the previous frame
        given to this encoder (None: unknown, all of it). An encoder may convert only
        those rows; a keyframe ignores it.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the encoder."""
