"""The screen as video (DESIGN §6, SPEC §4.4, issue 17).

Owns: the encoder ABC (:mod:`.base`), the PyAV encoders (:mod:`.pyav`: VP9, H.264,
AV1 with realtime screen settings on ≤ 2 threads), the start-up measurement and
per-session negotiation (:mod:`.select`) and :class:`VideoPipeline`, the tile
pipeline with a video path (:mod:`.pipeline`). :func:`create_encoder` is the factory.
"""

from __future__ import annotations

from agent.video.base import CODEC_IDS, EncodedFrame, VideoEncoder, VideoError
from agent.video.pipeline import EncoderFactory, VideoPipeline, VideoStats, VideoUpdate
from agent.video.select import (
    DEFAULT_BUDGET_MS,
    CodecProbe,
    VideoChoice,
    load_factor,
    negotiate,
    probe,
    probe_tiles,
    rank,
)

__all__ = [
    "AUTO_CODECS",
    "CODEC_IDS",
    "DEFAULT_BUDGET_MS",
    "CodecProbe",
    "EncodedFrame",
    "EncoderFactory",
    "VideoChoice",
    "VideoEncoder",
    "VideoError",
    "VideoPipeline",
    "VideoStats",
    "VideoUpdate",
    "choose_codecs",
    "create_encoder",
    "load_factor",
    "negotiate",
    "probe",
    "probe_tiles",
    "rank",
]

CODEC_NAMES = ("vp9", "h264", "av1")
AUTO_CODECS = ("vp9", "h264")
"""What ``auto`` measures and may choose. Not AV1: SVT-AV1 (rtc, preset 10, this
build) leaves a changed 64×64 block at the top-left unencoded — the viewer would
never see that change (measured in bench.p56_live; tests/agent/test_video.py keeps
the check for the auto codecs). ``--video av1`` still forces it."""


def create_encoder(name: str, width: int, height: int) -> VideoEncoder:
    """The encoder for codec ``name`` (``vp9``, ``h264``, ``av1``) at that size.

    Raises :class:`VideoError` if the codec is unknown or not in this FFmpeg.
    """
    from agent.video.pyav import PyAVEncoder  # imports av only when video is used

    return PyAVEncoder(name, width, height)


def choose_codecs(
    mode: str = "auto", budget_ms: float = DEFAULT_BUDGET_MS, width: int = 1920, height: int = 1080
) -> list[str]:
    """The agent's codec ranking for this machine (best first; [] = tile path only).

    ``mode``: ``auto`` measures every codec (:func:`probe`, ≈ 1–3 s), ``off`` is the
    tile path, a codec name (``vp9``, ``h264``, ``av1``) forces it unmeasured.
    """
    if mode == "off":
        return []
    if mode in CODEC_NAMES:
        return [mode]
    if mode != "auto":
        raise VideoError(f"unknown video mode {mode!r}: use auto, off, vp9, h264 or av1")
    load = load_factor(probe_tiles(width, height))
    return rank(probe(AUTO_CODECS, create_encoder, width, height), budget_ms, load)
