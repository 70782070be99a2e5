"""Video encoders through PyAV's FFmpeg (MACHINE-NOTES "Video encoders in PyAV 18").

Realtime settings for screens, one frame in → one packet out, no automatic
keyframes (the pipeline asks for them: join, refresh, epoch, every 30 s):

- ``vp9``: libvpx-vp9, ``deadline=realtime``, ``cpu-used=8`` (9 is refused here),
  ``tune-content=screen``, ``row-mt`` and at most 2 threads, constant quality.
- ``h264``: libx264 ``ultrafast``/``zerolatency``, constant quality, ``forced-idr``
  so an asked keyframe is an IDR (decodable alone), baseline-compatible settings.
- ``av1``: libsvtav1 preset 10, ``rtc`` (low delay), screen-content mode.

Frames arrive as BGRA and are converted to 4:2:0 by swscale (≈5–9 ms at 1080p on one
thread; the encoder's ≤ 2 threads are used, which halved it under load). An
odd width or height is padded by one pixel (4:2:0 needs even sizes); the viewer
draws only the screen's size (SPEC §4.4).
"""

from __future__ import annotations

import fractions
import logging
from collections.abc import Mapping
from typing import Any, Final

import av
import numpy as np
from av.video.frame import PictureType

from agent.capture.base import Frame
from agent.video.base import EncodedFrame, VideoEncoder, VideoError

__all__ = ["CODEC_SETTINGS", "MAX_THREADS", "PyAVEncoder"]

log = logging.getLogger(__name__)

MAX_THREADS: Final = 2
"""P3 is measured on ≤ 2 threads; the agent must not take the client's machine."""

#: name → (FFmpeg encoder, options). Quality: bench.p34_video on the office scenario
#: (docs/BENCHMARKS.md, P4 video): VP9 crf 38 and AV1 crf 40 keep text SSIM above the
#: tile path's on every crop at ≈ 29 / 28 KB/s (crf 30: 36 KB/s for no visible gain).
CODEC_SETTINGS: Final[dict[str, tuple[str, dict[str, str]]]] = {
    "vp9": (
        "libvpx-vp9",
        {
            "deadline": "realtime",
            "cpu-used": "8",
            "tune-content": "screen",
            "row-mt": "1",
            "crf": "38",
            "b": "0",
            "lag-in-frames": "0",
            "error-resilient": "0",
        },
    ),
    "h264": (
        "libx264",
        {"preset": "ultrafast", "tune": "zerolatency", "crf": "26", "forced-idr": "1"},
    ),
    "av1": ("libsvtav1", {"preset": "10", "crf": "40", "svtav1-params": "rtc=1:scm=1:keyint=-1"}),
}
_NO_AUTO_KEYFRAMES: Final = 1 << 30


class PyAVEncoder(VideoEncoder):
    """One of :data:`CODEC_SETTINGS` for frames of ``width`` × ``height``."""

    def __init__(
        self,
        name: str,
        width: int,
        height: int,
        threads: int = MAX_THREADS,
        *,
        options: Mapping[str, str] | None = None,
    ) -> None:
        """``options`` override :data:`CODEC_SETTINGS`' FFmpeg options (measurements)."""
        if name not in CODEC_SETTINGS:
            raise VideoError(f"unknown video codec {name!r}")
        self.name = name
        self.width, self.height = width, height
        self._coded = (width + (width & 1), height + (height & 1))
        encoder, defaults = CODEC_SETTINGS[name]
        try:
            ctx: Any = av.CodecContext.create(encoder, "w")
        except (av.FFmpegError, ValueError) as exc:  # not built into this FFmpeg
            raise VideoError(f"{encoder} is not available: {exc}") from exc
        ctx.width, ctx.height = self._coded
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = fractions.Fraction(1, 1_000_000)
        ctx.framerate = fractions.Fraction(30, 1)
        self._threads = max(1, min(threads, MAX_THREADS))
        ctx.thread_count = self._threads
        if name != "av1":  # SVT-AV1 takes keyint from its params
            ctx.gop_size = _NO_AUTO_KEYFRAMES
        ctx.options = {**defaults, **(options or {})}
        self._ctx: Any = ctx
        self._first = True
        self._last_pts = -1

    def encode(self, frame: Frame, key: bool, timestamp_us: int) -> EncodedFrame:
        """Encode one frame; raises :class:`VideoError` if the encoder fails."""
        if self._ctx is None:
            raise VideoError("encoder is closed")
        h, w = frame.shape[:2]
        if (w, h) != (self.width, self.height):
            raise VideoError(f"frame of {w}x{h} for a {self.width}x{self.height} encoder")
        if self._coded != (w, h):
            cw, ch = self._coded
            frame = np.pad(frame, ((0, ch - h), (0, cw - w), (0, 0)), mode="edge")
        # swscale on the encoder's threads (≤ 2): halves the 1080p conversion here.
        vf = av.VideoFrame.from_ndarray(frame, format="bgra").reformat(
            format="yuv420p", threads=self._threads
        )
        # pts must increase strictly; two frames in one microsecond get the next one.
        pts = max(timestamp_us, self._last_pts + 1)
        self._last_pts = pts
        vf.pts = pts
        if key or self._first:
            vf.pict_type = PictureType.I
        try:
            packets = self._ctx.encode(vf)
        except av.FFmpegError as exc:
            raise VideoError(f"{self.name} encoder failed: {exc}") from exc
        if not packets:
            raise VideoError(f"{self.name} encoder held a frame back (not realtime)")
        data = b"".join(bytes(p) for p in packets)
        is_key = any(p.is_keyframe for p in packets)
        self._first = False
        return EncodedFrame(data, is_key)

    def close(self) -> None:
        """Drop the codec context (no flush: nothing is pending in realtime mode)."""
        self._ctx = None
