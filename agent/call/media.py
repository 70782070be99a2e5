"""Local media for a call: the client's camera and microphone (PyAV via aiortc's
``MediaPlayer``) or synthetic sources for tests and headless machines.

Spec strings (config ``CLEARPANE_CALL_VIDEO`` / ``CLEARPANE_CALL_AUDIO``):

- video: ``synthetic`` or ``synthetic:WIDTHxHEIGHT@FPS`` (a moving test pattern),
  ``v4l2:/dev/video0`` (a camera), ``none``, ``auto`` (``/dev/video0`` if it exists,
  else none: a client without a camera must never send a test pattern);
- audio: ``synthetic`` or ``synthetic:HZ`` (a quiet tone), ``pulse:default``,
  ``alsa:default`` (a microphone), ``none``, ``auto`` (PulseAudio's default source if
  a Pulse server is reachable, else none).

Synthetic sources are only ever chosen by name (tests and demo machines set
``CLEARPANE_CALL_VIDEO=synthetic``): the engineer must see the client's real camera or
be told there is none, never a stand-in.

Nothing here is opened at import or configuration time: :func:`open_media` is called
by the runner only after the client started the call (G3). Every track is wrapped in a
:class:`MutableTrack`, so mute sends black frames / silence without renegotiating.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_PTIME_S = 0.020


class MediaError(Exception):
    """A media spec is invalid or a device cannot be opened."""


@dataclass(frozen=True, slots=True)
class VideoSpec:
    """Where the client's video comes from."""

    kind: str  # "synthetic", "v4l2", "none"
    device: str = ""
    width: int = 640
    height: int = 480
    fps: int = 15


@dataclass(frozen=True, slots=True)
class AudioSpec:
    """Where the client's audio comes from."""

    kind: str  # "synthetic", "pulse", "alsa", "none"
    device: str = ""
    tone_hz: int = 440


_SIZE = re.compile(r"^(\d{2,4})x(\d{2,4})(?:@(\d{1,2}))?$")


def parse_video_spec(spec: str) -> VideoSpec:
    """Parse a video spec string (module docstring); raises :class:`MediaError`."""
    spec = spec.strip() or "auto"
    kind, _, arg = spec.partition(":")
    if kind == "auto":
        return (
            VideoSpec("v4l2", "/dev/video0") if Path("/dev/video0").exists() else VideoSpec("none")
        )
    if kind == "none":
        return VideoSpec("none")
    if kind == "synthetic":
        if not arg:
            return VideoSpec("synthetic")
        m = _SIZE.match(arg)
        if m is None:
            raise MediaError(f"bad synthetic video size {arg!r} (want WIDTHxHEIGHT[@FPS])")
        w, h, fps = int(m[1]), int(m[2]), int(m[3] or 15)
        if not (16 <= w <= 1920 and 16 <= h <= 1080 and 1 <= fps <= 60) or w % 2 or h % 4:
            raise MediaError(f"synthetic video {arg!r} out of range")
        return VideoSpec("synthetic", width=w, height=h, fps=fps)
    if kind == "v4l2":
        return VideoSpec("v4l2", arg or "/dev/video0")
    raise MediaError(f"unknown video source {kind!r}")


def parse_audio_spec(spec: str) -> AudioSpec:
    """Parse an audio spec string (module docstring); raises :class:`MediaError`."""
    spec = spec.strip() or "auto"
    kind, _, arg = spec.partition(":")
    if kind == "auto":
        if os.environ.get("PULSE_SERVER") or Path(f"/run/user/{os.getuid()}/pulse").exists():
            return AudioSpec("pulse", "default")
        return AudioSpec("none")
    if kind == "none":
        return AudioSpec("none")
    if kind == "synthetic":
        if not arg:
            return AudioSpec("synthetic")
        if not arg.isdigit() or not 20 <= int(arg) <= 8_000:
            raise MediaError(f"bad synthetic tone {arg!r} (20..8000 Hz)")
        return AudioSpec("synthetic", tone_hz=int(arg))
    if kind in ("pulse", "alsa"):
        return AudioSpec(kind, arg or "default")
    raise MediaError(f"unknown audio source {kind!r}")


def has_devices(video: VideoSpec, audio: AudioSpec) -> tuple[bool, bool]:
    """Whether a call here can send a picture and sound: ``(camera, microphone)``.
    Nothing is opened (G3): ``none`` is no device, a ``v4l2`` camera must exist, a
    synthetic source stands in for a device (tests, demo machines)."""
    camera = video.kind != "none" and (video.kind != "v4l2" or Path(video.device).exists())
    return camera, audio.kind != "none"


# -- synthetic sources ---------------------------------------------------------------


class _Pacer:
    """Real-time pacing for a synthetic track: frame n is due at start + n * period."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.start: float | None = None
        self.count = 0

    async def next(self) -> int:
        if self.start is None:
            self.start = time.monotonic()
        else:
            self.count += 1
        delay = self.start + self.count * self.period_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return self.count


class SyntheticVideoTrack(MediaStreamTrack):
    """A moving pattern (diagonal bars that scroll) at a fixed size and frame rate.

    Frames are built directly in YUV 4:2:0, the encoder's format, so a frame costs a
    numpy roll and no colour conversion."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 10) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._pacer = _Pacer(1 / fps)
        x = np.arange(width, dtype=np.int32)[None, :]
        y = np.arange(height, dtype=np.int32)[:, None]
        self._luma = ((((x + y) // 16) % 2) * 160 + 40).astype(np.uint8)
        chroma = np.empty((height // 2, width), dtype=np.uint8)
        chroma[: height // 4] = 90  # U plane rows (w/2 x h/2, packed two per row)
        chroma[height // 4 :] = 170  # V plane rows
        self._chroma = chroma

    async def recv(self) -> av.VideoFrame:
        """The next frame, paced to the frame rate."""
        if self.readyState != "live":
            raise MediaStreamError
        n = await self._pacer.next()
        if self.readyState != "live":
            raise MediaStreamError
        luma = np.roll(self._luma, 4 * n, axis=1)
        frame = av.VideoFrame.from_ndarray(np.vstack([luma, self._chroma]), format="yuv420p")
        frame.pts = n * (VIDEO_CLOCK // self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


class SyntheticAudioTrack(MediaStreamTrack):
    """A quiet sine tone, mono 48 kHz, 20 ms frames."""

    kind = "audio"

    def __init__(self, tone_hz: int = 440) -> None:
        super().__init__()
        self._pacer = _Pacer(AUDIO_PTIME_S)
        self._samples = int(AUDIO_RATE * AUDIO_PTIME_S)
        self._step = 2 * math.pi * tone_hz / AUDIO_RATE

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms of tone, paced in real time."""
        if self.readyState != "live":
            raise MediaStreamError
        n = await self._pacer.next()
        if self.readyState != "live":
            raise MediaStreamError
        t = np.arange(n * self._samples, (n + 1) * self._samples)
        pcm = (np.sin(t * self._step) * 3_000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = n * self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


# -- mute --------------------------------------------------------------------------


class MutableTrack(MediaStreamTrack):
    """Wraps a source track; while ``muted`` it sends black frames or silence with the
    source's timing, so the engineer sees a dark picture, never the camera."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.muted = False
        self.frames_sent = 0
        #: The frame most recently sent (the client's preview shows it).
        self.last_frame: Any = None
        self._blank: np.ndarray[Any, np.dtype[np.uint8]] | None = None

    async def recv(self) -> Any:
        """The source's next frame, or its blank twin while muted."""
        if self.readyState != "live":
            raise MediaStreamError
        frame: Any = await self.source.recv()
        if self.readyState != "live":
            raise MediaStreamError
        self.frames_sent += 1
        if not self.muted:
            self.last_frame = frame
            return frame
        blank = self._blank_like(frame)
        blank.pts, blank.time_base = frame.pts, frame.time_base
        if isinstance(blank, av.AudioFrame):
            blank.sample_rate = frame.sample_rate
        self.last_frame = blank
        return blank

    def _blank_like(self, frame: Any) -> Any:
        if isinstance(frame, av.VideoFrame):
            w, h = frame.width, frame.height
            if self._blank is None or self._blank.shape != (h * 3 // 2, w):
                yuv = np.full((h * 3 // 2, w), 128, dtype=np.uint8)
                yuv[:h] = 16  # black luma, neutral chroma
                self._blank = yuv
            return av.VideoFrame.from_ndarray(self._blank, format="yuv420p")
        samples = frame.samples
        channels = len(frame.layout.channels)
        pcm = np.zeros((1, samples * channels), dtype=np.int16)
        return av.AudioFrame.from_ndarray(pcm, format="s16", layout=frame.layout.name)

    def stop(self) -> None:
        """Stop this track and its source (closes the device when it is the last)."""
        super().stop()
        self.source.stop()


# -- opening ------------------------------------------------------------------------


@dataclass
class LocalMedia:
    """The tracks of one call; :meth:`close` stops them and releases the devices."""

    audio: MutableTrack | None
    video: MutableTrack | None
    _players: tuple[MediaPlayer, ...] = ()

    @property
    def tracks(self) -> list[MutableTrack]:
        """The open tracks (audio first)."""
        return [t for t in (self.audio, self.video) if t is not None]

    def set_muted(self, *, audio: bool, video: bool) -> None:
        """Mute or unmute each kind."""
        if self.audio is not None:
            self.audio.muted = audio
        if self.video is not None:
            self.video.muted = video

    @property
    def live(self) -> bool:
        """True while any track is still live."""
        return any(t.readyState == "live" for t in self.tracks)

    def close(self) -> None:
        """Stop every track now (synchronous: the kill path relies on it)."""
        for track in self.tracks:
            track.stop()
        for player in self._players:
            for t in (player.audio, player.video):
                if t is not None:
                    t.stop()


MediaFactory = Callable[[], LocalMedia]


def open_media(video: VideoSpec, audio: AudioSpec) -> LocalMedia:
    """Open the configured sources. Called only after the client started the call."""
    players: list[MediaPlayer] = []
    vtrack: MediaStreamTrack | None = None
    atrack: MediaStreamTrack | None = None
    try:
        if video.kind == "synthetic":
            vtrack = SyntheticVideoTrack(video.width, video.height, video.fps)
        elif video.kind == "v4l2":
            options = {"video_size": f"{video.width}x{video.height}", "framerate": str(video.fps)}
            player = MediaPlayer(video.device, format="v4l2", options=options)
            players.append(player)
            vtrack = player.video
        if audio.kind == "synthetic":
            atrack = SyntheticAudioTrack(audio.tone_hz)
        elif audio.kind in ("pulse", "alsa"):
            player = MediaPlayer(audio.device, format=audio.kind)
            players.append(player)
            atrack = player.audio
    except (av.FFmpegError, OSError) as exc:
        for p in players:
            for t in (p.audio, p.video):
                if t is not None:
                    t.stop()
        raise MediaError(f"cannot open the camera or microphone: {exc}") from exc
    return LocalMedia(
        audio=MutableTrack(atrack) if atrack is not None else None,
        video=MutableTrack(vtrack) if vtrack is not None else None,
        _players=tuple(players),
    )


def media_factory(video_spec: str, audio_spec: str) -> MediaFactory:
    """Validate the specs now (at configuration time) and return a factory that opens
    the sources later, when the client starts a call."""
    video, audio = parse_video_spec(video_spec), parse_audio_spec(audio_spec)
    return lambda: open_media(video, audio)
