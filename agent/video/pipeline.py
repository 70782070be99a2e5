"""VideoPipeline: capture → mask → encode as video, or the tile path (DESIGN §6).

A :class:`~agent.pipeline.ScreenPipeline` that can also encode video. With no codec
set (:meth:`VideoPipeline.set_codec` ``None``: a viewer without WebCodecs, or no
encoder fast enough) it *is* the tile path. With a codec, ``next_update`` masks the
frame exactly as the tile path does (G6: before encoding), skips an unchanged frame
(compared as 32-bit words, ≈ 1 ms at 1080p) and returns a :class:`VideoUpdate`.

Keyframes: the first frame of an encoder, ``full=True`` (join, refresh, new epoch,
mask change, resume: the session asks), and at most
``VIDEO_KEYFRAME_INTERVAL_S`` apart or :data:`KEYFRAME_MAX_CHUNKS` chunks apart,
whichever comes first (seek points for recordings: a seek decodes forward from the
keyframe before the target, ≈ 3–4 ms per 1080p chunk in Chromium, so the chunk
bound keeps P8 ≤ 1 s on a screen that changes at every tick). A size change
restarts the encoder, hence a keyframe. An encoder failure drops to the tile path
for the rest of the session (logged), with a full update.

Drops: the pipeline never drops an encoded frame; the session sends every
:class:`VideoUpdate` it asked for or, if it cannot (kill, pause, revoke during the
encode), asks for a keyframe next (SPEC §4.4).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agent.capture.base import CaptureSource, Frame
from agent.capture.damage import DamageTracker
from agent.capture.windows import WindowLister
from agent.pipeline.mask import Masker
from agent.pipeline.pipeline import ScreenPipeline
from agent.video.base import STRIP, Rows, VideoEncoder, VideoError
from agent.x11 import X11Unavailable
from protocol.limits import VIDEO_KEYFRAME_INTERVAL_S
from protocol.media import ScreenUpdate, VideoChunk

__all__ = [
    "KEYFRAME_MAX_CHUNKS",
    "EncoderFactory",
    "VideoPipeline",
    "VideoStats",
    "VideoUpdate",
    "changed_rows",
]

log = logging.getLogger(__name__)

EncoderFactory = Callable[[str, int, int], VideoEncoder]

KEYFRAME_MAX_CHUNKS = 150
"""At most this many chunks from one keyframe to the next (P8: a seek decodes ≤ 150
chunks, ≈ 0.5 s; the office scenario sends ≈ 100 chunks in 30 s, so it never reaches
this bound and pays no extra keyframe — bench.p8_seek, docs/BENCHMARKS.md)."""


@dataclass(frozen=True, slots=True)
class VideoUpdate:
    """One encoded frame for SPEC §4.4: the chunk plaintext and its ``KEY`` flag."""

    chunk: VideoChunk
    key: bool

    def __bytes__(self) -> bytes:
        return bytes(self.chunk)


@dataclass(frozen=True, slots=True)
class VideoStats:
    """What the last video ``next_update`` did (benchmarks, debug log)."""

    key: bool
    payload_bytes: int
    capture_ms: float
    mask_ms: float
    encode_ms: float


class VideoPipeline(ScreenPipeline):
    """The tile path plus a video path; ``set_codec`` switches between them."""

    def __init__(
        self,
        source: CaptureSource,
        encoder_factory: EncoderFactory,
        *,
        window_lister: WindowLister | None = None,
        clock: Callable[[], float] = time.monotonic,
        damage: bool = True,
    ) -> None:
        super().__init__(source, window_lister=window_lister, clock=clock)
        self._damage = _damage_tracker(source) if damage else None
        self._factory = encoder_factory
        self._codec: str | None = None
        self._encoder: VideoEncoder | None = None
        self._video_prev: Frame | None = None
        self._key_at = float("-inf")
        self._since_key = 0
        self._grabbed_at = float("-inf")
        self._t0 = clock()
        self._broken: set[str] = set()
        self.video_stats: VideoStats | None = None

    @property
    def codec(self) -> str | None:
        """The codec in use, or None for the tile path."""
        return self._codec

    def set_codec(self, name: str | None) -> bool:
        """Use ``name`` from the next frame (None = tile path); True if it changed.

        A change restarts the stream: the next update is a keyframe or ``FULL``.
        A codec that failed earlier in this session stays off.
        """
        if name in self._broken:
            name = None
        if name == self._codec:
            return False
        self._close_encoder()
        self._codec = name
        self._video_prev = None
        self.reset()
        return True

    def next_update(self, full: bool = False) -> ScreenUpdate | VideoUpdate | None:  # type: ignore[override]
        """The next update: video if a codec is set, else tiles; None if unchanged.

        Where X offers DAMAGE, a frame that is not ``full`` is grabbed only if the
        screen or the pointer changed since the last one (a still screen costs one
        event check per tick, no grab).
        """
        if not full and self._damage is not None and self._have_picture():
            if not self._damage.changed():
                return None
        elif self._damage is not None:
            self._damage.changed()  # re-arm: this grab sees everything drawn so far
        self._grabbed_at = time.monotonic()  # a grab follows (wait_for_change's gap)
        if self._codec is None:
            return super().next_update(full)
        t0 = time.perf_counter()
        frame = self.source.grab()
        t1 = time.perf_counter()
        h, w = frame.shape[:2]
        if self._masker is None or (self._masker.width, self._masker.height) != (w, h):
            self._masker = Masker(w, h)
            self._close_encoder()
        self._apply_masks(frame, self._masker)
        t2 = time.perf_counter()
        prev = self._video_prev
        dirty = None
        if prev is not None and prev.shape == frame.shape:
            dirty = changed_rows(prev, frame)
            if not full and not dirty:
                return None
        now = self._clock()
        key = (
            full
            or self._encoder is None
            or now - self._key_at >= VIDEO_KEYFRAME_INTERVAL_S
            or self._since_key >= KEYFRAME_MAX_CHUNKS
        )
        try:
            if self._encoder is None:
                self._encoder = self._factory(self._codec, w, h)
            encoded = self._encoder.encode(frame, key, int((now - self._t0) * 1e6), dirty)
        except VideoError as exc:
            log.warning("video codec %s failed (%s): the tile path takes over", self._codec, exc)
            self._broken.add(self._codec)
            self.set_codec(None)
            return super().next_update(True)
        t3 = time.perf_counter()
        self._video_prev = frame
        self._since_key += 1
        if encoded.key:
            self._key_at, self._since_key = now, 1
        assert self._encoder is not None
        chunk = VideoChunk(self._encoder.codec_id, w, h, int((now - self._t0) * 1e6), encoded.data)
        self.video_stats = VideoStats(
            encoded.key, len(encoded.data), (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3
        )
        return VideoUpdate(chunk, encoded.key)

    def wait_for_change(self, timeout: float, min_gap: float = 0.0) -> bool:
        """Block up to ``timeout`` s until X reports drawing (True), where X offers
        DAMAGE; without it return False at once (the caller sleeps to its next tick).

        Never returns (True) sooner than ``min_gap`` s after the last grab: an
        application that redraws identical pixels at 60 Hz must not make the agent
        grab more often than its frame rate; after a still spell the last grab is
        long past, so a change is grabbed at once (P5).
        """
        tracker = self._damage
        if tracker is None:
            return False
        end = time.monotonic() + max(0.0, timeout)
        woke = tracker.wait(timeout)
        if woke:
            wait = min(end, self._grabbed_at + min_gap) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        return woke

    def _have_picture(self) -> bool:
        """A previous frame exists to compare with (else the next grab is needed)."""
        return (self._video_prev if self._codec is not None else self._prev) is not None

    @property
    def damage(self) -> DamageTracker | None:
        """The damage tracker in use, if any (tests, benchmarks)."""
        return self._damage

    def _close_encoder(self) -> None:
        if self._encoder is not None:
            self._encoder.close()
            self._encoder = None

    def close(self) -> None:
        """Close the encoder and the window locator this pipeline opened."""
        self._close_encoder()
        if self._damage is not None:
            self._damage.close()
            self._damage = None
        super().close()


def changed_rows(prev: Frame, frame: Frame, strip: int = STRIP) -> list[Rows]:
    """The ``strip``-row bands where ``frame`` differs from ``prev``, merged.

    Compared as 32-bit words strip by strip (≈1 ms at 1080p, like one whole-frame
    comparison): the encoder then converts only those rows.
    """
    a, b = prev.view(np.uint32), frame.view(np.uint32)
    out: list[Rows] = []
    for start in range(0, frame.shape[0], strip):
        stop = min(frame.shape[0], start + strip)
        if not np.array_equal(a[start:stop], b[start:stop]):
            if out and out[-1][1] == start:
                out[-1] = (out[-1][0], stop)
            else:
                out.append((start, stop))
    return out


def _damage_tracker(source: CaptureSource) -> DamageTracker | None:
    """A tracker for the X screen ``source`` reads, or None (not X, no DAMAGE)."""
    from agent.capture.screen import ScreenSource

    if not isinstance(source, ScreenSource):
        return None
    try:
        return DamageTracker(source.display)
    except X11Unavailable as exc:  # DamageUnavailable too
        log.info("no damage tracking (%s): the screen is compared every tick", exc)
        return None
