"""Video encoders through PyAV's FFmpeg (MACHINE-NOTES "Video encoders in PyAV 18").

Realtime settings for screens, one frame in → one packet out, no automatic
keyframes (the pipeline asks for them: join, refresh, epoch, every 30 s):

- ``vp9``: libvpx-vp9, ``deadline=realtime``, ``cpu-used=6`` (8 costs 20 % more bytes
  on the office scenario; 9 is refused here), ``tune-content=screen``, one tile column
  (−11 % bytes), ``row-mt`` and at most 2 threads, constant quality.
- ``h264``: libx264 ``ultrafast``/``zerolatency``, constant quality, ``forced-idr``
  so an asked keyframe is an IDR (decodable alone), baseline-compatible settings.
- ``av1``: libsvtav1 preset 10, ``rtc`` (low delay), screen-content mode.

Frames arrive as BGRA and are converted to 4:2:0 by swscale (≈4–9 ms at 1080p on the
encoder's ≤ 2 threads). The 4:2:0 picture is kept between frames: when the pipeline
says which rows changed (``dirty``), only those :data:`STRIP`-row strips are converted
(≈0.3 ms each; a 64-px change costs ≈0.5 ms instead of a full frame's 4–9 ms), and the
swscale contexts are reused (making one costs as much as a conversion). Strips on
even rows convert exactly as the whole frame does (tested). An odd width or height is
padded by one pixel (4:2:0 needs even sizes); the viewer draws only the screen's size
(SPEC §4.4).
"""

from __future__ import annotations

import fractions
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import av
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import VideoReformatter

from agent.capture.base import Frame
from agent.video.base import STRIP, EncodedFrame, Rows, VideoEncoder, VideoError

__all__ = ["CODEC_SETTINGS", "MAX_THREADS", "PyAVEncoder"]

log = logging.getLogger(__name__)

MAX_THREADS: Final = 2
"""P3 is measured on ≤ 2 threads; the agent must not take the client's machine."""

#: name → (FFmpeg encoder, options). Quality: bench.p34_video on the office scenario
#: (docs/BENCHMARKS.md, P4 video): VP9 crf 40, cpu-used 6, one tile column: 24.2 KB/s
#: with text SSIM above the tile path's on every crop (crf 38, cpu-used 8, default tile
#: columns: 29.4 KB/s; per-frame time the same within the run's noise, a small change
#: ≈ 20 % slower). AV1 crf 40: ≈ 28 KB/s (not chosen by ``auto``: see agent.video).
CODEC_SETTINGS: Final[dict[str, tuple[str, dict[str, str]]]] = {
    "vp9": (
        "libvpx-vp9",
        {
            "deadline": "realtime",
            "cpu-used": "6",
            "tune-content": "screen",
            "row-mt": "1",
            "tile-columns": "0",
            "crf": "40",
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
PARTIAL_SHARE: Final = 0.5
"""Above this share of dirty rows the whole frame is converted (threaded, faster)."""


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
        self._yuv: np.ndarray | None = None  # the last picture, I420 (rows × width)
        self._full = VideoReformatter()
        self._strips: dict[int, VideoReformatter] = {}  # by strip height (≤ 2 sizes)
        self.converted_rows = 0
        """Rows converted for the last frame (tests, benchmarks)."""

    def encode(
        self, frame: Frame, key: bool, timestamp_us: int, dirty: Sequence[Rows] | None = None
    ) -> EncodedFrame:
        """Encode one frame; raises :class:`VideoError` if the encoder fails."""
        if self._ctx is None:
            raise VideoError("encoder is closed")
        h, w = frame.shape[:2]
        if (w, h) != (self.width, self.height):
            raise VideoError(f"frame of {w}x{h} for a {self.width}x{self.height} encoder")
        if self._coded != (w, h):
            cw, ch = self._coded
            frame = np.pad(frame, ((0, ch - h), (0, cw - w), (0, 0)), mode="edge")
            if dirty is not None:  # the padding row/column repeats the edge
                dirty = [(a, b + 1 if b == h else b) for a, b in dirty]
        vf = self._convert(frame, None if key or self._first else dirty)
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

    def _convert(self, frame: np.ndarray, dirty: Sequence[Rows] | None) -> Any:
        """The 4:2:0 frame for ``frame``: whole, or only the ``dirty`` rows' strips."""
        ch, cw = frame.shape[:2]
        strips = None if dirty is None or self._yuv is None else _strips(dirty, ch)
        if strips is None or len(strips) * STRIP > PARTIAL_SHARE * ch:
            # swscale on the encoder's threads (≤ 2): halves the 1080p conversion here.
            src = av.VideoFrame.from_ndarray(frame, format="bgra")
            vf = self._full.reformat(src, format="yuv420p", threads=self._threads)
            self._yuv = vf.to_ndarray()
            self.converted_rows = ch
            return vf
        yuv = self._yuv
        assert yuv is not None
        y, u, v = _planes(yuv, cw, ch)
        for start in strips:
            stop = min(ch, start + STRIP)
            n = stop - start
            fmt = self._strips.get(n)
            if fmt is None:
                fmt = self._strips[n] = VideoReformatter()
            src = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[start:stop]), format="bgra")
            py, pu, pv = _planes(fmt.reformat(src, format="yuv420p").to_ndarray(), cw, n)
            y[start:stop] = py
            u[start // 2 : stop // 2] = pu
            v[start // 2 : stop // 2] = pv
        self.converted_rows = sum(min(ch, s + STRIP) - s for s in strips)
        return av.VideoFrame.from_ndarray(yuv, format="yuv420p")

    def close(self) -> None:
        """Drop the codec context (no flush: nothing is pending in realtime mode)."""
        self._ctx = None
        self._yuv = None


def _planes(yuv: np.ndarray, width: int, height: int) -> tuple[np.ndarray, ...]:
    """Y, U and V of a PyAV ``yuv420p`` array (planes back to back), as 2-D views."""
    flat = yuv.reshape(-1)
    ys, cs = width * height, (width // 2) * (height // 2)
    return (
        flat[:ys].reshape(height, width),
        flat[ys : ys + cs].reshape(height // 2, width // 2),
        flat[ys + cs : ys + 2 * cs].reshape(height // 2, width // 2),
    )


def _strips(dirty: Sequence[Rows], height: int) -> list[int]:
    """The first rows of the :data:`STRIP`-row strips that ``dirty`` touches."""
    out: set[int] = set()
    for start, stop in dirty:
        start, stop = max(0, start), min(height, stop)
        if stop > start:
            out.update(range(start // STRIP * STRIP, stop, STRIP))
    return sorted(out)
