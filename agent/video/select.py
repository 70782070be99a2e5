"""Choosing the codec: a quick measurement at start, then per-session negotiation.

:func:`probe` encodes a short synthetic office scene (never the real screen: nothing
is grabbed before consent, G2) with each codec and times every frame, colour
conversion included. :func:`rank` keeps the codecs whose p95 fits the budget and
orders them by bytes, VP9 first unless AV1 is clearly smaller (DESIGN §6: "VP9 by
default, H.264 or AV1 where they win"); an empty ranking means the tile path.
:func:`negotiate` picks, for the viewers holding ``view``, the best-ranked codec that
every one of them decodes (SPEC §4.4), else None (tile path).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from agent.capture.base import CaptureSource, Frame
from agent.capture.pattern import PatternSource
from agent.video.base import VideoEncoder, VideoError

__all__ = [
    "DEFAULT_BUDGET_MS",
    "CodecProbe",
    "VideoChoice",
    "load_factor",
    "negotiate",
    "probe",
    "probe_tiles",
    "rank",
]

log = logging.getLogger(__name__)

DEFAULT_BUDGET_MS: Final = 50.0
"""A codec whose p95 frame time (conversion + encode) exceeds this is too slow: at
the office profile's ≈10 updates/s it would lag behind typing (P5 ≤ 60 ms)."""
TILE_REFERENCE_MS: Final = 12.0
"""The tile path's p95 on the probe scene on an unloaded machine (issue 17: 11.7 ms)."""
AV1_MARGIN: Final = 0.9
"""AV1 goes before VP9 only when its probe is at least 10 % smaller."""
PREFERENCE: Final = ("vp9", "av1", "h264")


@dataclass(frozen=True, slots=True)
class CodecProbe:
    """One codec's measurement: p95 and worst frame time, total bytes, error."""

    name: str
    p95_ms: float
    max_ms: float
    total_bytes: int
    error: str | None = None
    small_ms: float = 0.0
    """A small change's time (the typing frames' median; the pipeline's dirty rows)."""


class _Frames(CaptureSource):
    """The probe's frames as a capture source (copies: the pipeline masks in place)."""

    def __init__(self, frames: list[Frame]) -> None:
        self._frames, self._i = frames, 0

    @property
    def size(self) -> tuple[int, int]:
        h, w = self._frames[0].shape[:2]
        return w, h

    def grab(self) -> Frame:
        frame = self._frames[self._i % len(self._frames)].copy()
        self._i += 1
        return frame


def office_scene(width: int, height: int) -> list[Frame]:
    """A keyframe, typing, a scroll and a page switch of the test pattern."""
    src = PatternSource(width, height, motion=False)
    frames = [src.grab()]
    for text in ("Dear ", "customer,"):
        src.type_text(text)
        frames.append(src.grab())
    for _ in range(2):
        src.scroll(3)
        frames.append(src.grab())
    src.set_page(1)
    frames.append(src.grab())
    src.type_text(" ok")
    frames.append(src.grab())
    return frames


SMALL_FRAMES: Final = (1, 2, 6)
"""The typing frames of :func:`office_scene` (a few characters): the live case (P5)."""
LIVE_SMALL_MS: Final = 12.0
"""A codec whose small-change frame (conversion + encode) takes longer than this (× the
machine's load) is too slow for live view: P5 ≤ 60 ms p95 leaves ≈ 20 ms after the
capture tick (≤ 33 ms) for encode, decode and draw (bench.p56_live by stage)."""
PROBE_ROUNDS: Final = 2


def probe(
    names: Sequence[str],
    factory: Callable[[str, int, int], VideoEncoder],
    width: int = 1920,
    height: int = 1080,
    rounds: int = PROBE_ROUNDS,
) -> list[CodecProbe]:
    """Time each codec on :func:`office_scene`, ``rounds`` passes interleaved.

    Each frame's time is the least over the passes: a busy moment on a shared machine
    slows one pass, not what the codec costs here (timings move ±30 % and more).
    """
    frames = office_scene(width, height)
    times: dict[str, list[list[float]]] = {n: [] for n in names}
    sizes: dict[str, int] = dict.fromkeys(names, 0)
    errors: dict[str, str] = {}
    for _ in range(max(1, rounds)):
        for name in names:
            if name in errors:
                continue
            try:
                run, total = _one_pass(name, factory, frames, width, height)
            except VideoError as exc:
                errors[name] = str(exc)
                continue
            times[name].append(run)
            sizes[name] = total
    out = []
    for name in names:
        if name in errors:
            out.append(CodecProbe(name, float("inf"), float("inf"), 0, errors[name]))
            continue
        best = [min(col) for col in zip(*times[name], strict=True)]
        # The first frame is a keyframe of a still screen (join): it is not a typical
        # change, and encoders warm up on it, so p95 is taken over the changes.
        changes = sorted(best[1:])
        p95 = changes[min(len(changes) - 1, int(0.95 * len(changes)))]
        small = sorted(best[i] for i in SMALL_FRAMES if i < len(best))
        out.append(CodecProbe(name, p95, max(best), sizes[name], small_ms=small[len(small) // 2]))
    return out


def _one_pass(
    name: str,
    factory: Callable[[str, int, int], VideoEncoder],
    frames: list[Frame],
    width: int,
    height: int,
) -> tuple[list[float], int]:
    """One pass of one codec over ``frames``: ms per frame, bytes after the first."""
    from agent.video.pipeline import changed_rows

    times: list[float] = []
    total = 0
    enc = factory(name, width, height)
    try:
        for i, frame in enumerate(frames):
            t0 = time.perf_counter()
            dirty = changed_rows(frames[i - 1], frame) if i else None
            size = len(enc.encode(frame.copy(), i == 0, i * 33_333, dirty).data)
            times.append((time.perf_counter() - t0) * 1e3)
            total += size if i else 0  # the join keyframe is paid once
    finally:
        enc.close()
    return times, total


def probe_tiles(width: int = 1920, height: int = 1080) -> float:
    """p95 ms of the tile path on the same scene: the load baseline of this run."""
    from agent.pipeline import ScreenPipeline

    frames = office_scene(width, height)
    runs: list[list[float]] = []
    for _ in range(PROBE_ROUNDS):
        pipeline = ScreenPipeline(_Frames(frames))
        times: list[float] = []
        for i in range(len(frames)):
            t0 = time.perf_counter()
            pipeline.next_update(i == 0)
            times.append((time.perf_counter() - t0) * 1e3)
        pipeline.close()
        runs.append(times)
    best = [min(col) for col in zip(*runs, strict=True)]  # least per frame (see probe)
    changes = sorted(best[1:])
    return float(changes[min(len(changes) - 1, int(0.95 * len(changes)))])


def load_factor(tile_p95_ms: float) -> float:
    """How much slower than unloaded this machine is now (≥ 1), from the tile path."""
    return max(1.0, tile_p95_ms / TILE_REFERENCE_MS)


def rank(
    probes: Iterable[CodecProbe], budget_ms: float = DEFAULT_BUDGET_MS, load: float = 1.0
) -> list[str]:
    """Codec names fast enough for ``budget_ms`` × ``load`` (p95 over the scene's
    changes) and for live view (a small change within :data:`LIVE_SMALL_MS` × ``load``),
    best first; [] = tile path.

    ``load`` (:func:`load_factor`) keeps a busy moment at start from choosing the
    tile path for the whole life of the agent: timings here move by ±30 % and more
    (DESIGN §9), so the budget is a ratio against the tile path in the same run.
    """
    fit = [
        p
        for p in probes
        if p.error is None and p.p95_ms <= budget_ms * load and p.small_ms <= LIVE_SMALL_MS * load
    ]

    def cost(p: CodecProbe) -> tuple[float, int]:
        weight = 1 / AV1_MARGIN if p.name == "av1" else 1.0
        order = PREFERENCE.index(p.name) if p.name in PREFERENCE else len(PREFERENCE)
        return p.total_bytes * weight, order

    # VP9 and AV1 compete on size; H.264 (≈ 2× the bytes) wins only on speed.
    fit.sort(key=cost)
    return [p.name for p in fit]


def negotiate(ranking: Sequence[str], offers: Iterable[Sequence[str] | None]) -> str | None:
    """The first codec of ``ranking`` that every viewer's offer lists, else None.

    ``offers`` has one entry per viewer holding ``view``; ``None`` (a viewer that
    offered nothing: no WebCodecs, or an old viewer) forces the tile path, and so
    does no viewer at all.
    """
    offered = list(offers)
    if not offered or any(o is None for o in offered):
        return None
    for name in ranking:
        if all(o is not None and name in o for o in offered):
            return name
    return None


class VideoChoice:
    """The session's side of negotiation: viewers' offers and the agent's ranking.

    The ranking is measured once, lazily, in a background thread, when the first
    viewer offers video (agents whose viewers never offer it pay nothing); until it
    is known, and whenever :func:`negotiate` says so, the tile path is used.
    Thread-safe: offers come from the event loop, ``codec_for`` from anywhere.
    """

    def __init__(self, chooser: Callable[[], list[str]]) -> None:
        self._chooser = chooser
        self._lock = threading.Lock()
        self._offers: dict[str, tuple[str, ...]] = {}
        self._ranking: list[str] | None = None
        self._probing = False

    @property
    def ranking(self) -> list[str] | None:
        """The measured ranking (None until measured)."""
        return self._ranking

    def offer(self, viewer_id: str, codecs: Sequence[str] | None) -> None:
        """Viewer ``viewer_id`` decodes ``codecs`` (``key.commit``); None = none."""
        with self._lock:
            if codecs is None:
                self._offers.pop(viewer_id, None)
                return
            self._offers[viewer_id] = tuple(codecs)
            start = self._ranking is None and not self._probing
            self._probing = self._probing or start
        if start:
            threading.Thread(target=self._measure, name="video-probe", daemon=True).start()

    def _measure(self) -> None:
        try:
            ranking = self._chooser()
        except Exception:  # a broken FFmpeg must not take the session down
            log.exception("video codec measurement failed: the tile path is used")
            ranking = []
        log.info("video codecs for this machine, best first: %s", ranking or "none (tiles)")
        with self._lock:
            self._ranking = ranking

    def wait_measured(self, timeout: float) -> bool:
        """Tests and benchmarks: wait until the ranking is known."""
        deadline = time.monotonic() + timeout
        while self._ranking is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self._ranking is not None

    def codec_for(self, viewers: Iterable[str]) -> str | None:
        """The codec for the viewers holding ``view`` now, or None (tile path)."""
        with self._lock:
            ranking = self._ranking
            offers = [self._offers.get(v) for v in viewers]
        if not ranking:
            return None
        return negotiate(ranking, offers)
