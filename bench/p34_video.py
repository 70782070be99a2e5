"""P3/P4 for each video codec and the tile path on the same frames (issue 17).

bench.p4_bandwidth's real-Chromium office scenario (typing, scrolling, tab switch) runs
under an Xvfb of our own; the real screen source captures it at ``--fps`` (the office
profile's ≈ 10 updates/s) and keeps every frame that differs from the previous one
(a still tick costs nothing on either path: the damage tracker or the tile diff finds
no change). Then, offline and one path at a time on exactly those frames:

- ``tiles``: agent.pipeline.ScreenPipeline (diff, pack, JPEG/PNG), as today;
- ``vp9``, ``h264``, ``av1``: agent.video's encoders (realtime screen settings, ≤ 2
  threads, BGRA→4:2:0 conversion included), one keyframe at the start (join);

every output is sealed with protocol.e2e.FrameSealer as the agent sends it.
Bandwidth = sealed bytes / scenario seconds. P3 = milliseconds per frame (capture
excluded), p50 / p95 over all changed frames and p95 over the large changes (≥ 200
dirty 64×64 tiles of 510: tab switches, big scrolls). Text legibility = SSIM (luma,
8×8 windows) of the picture the viewer would show (tiles applied / video decoded with
FFmpeg) against the source, on text crops of each phase's page.

Usage: ``python -m bench.p34_video [--duration S] [--fps N] [--codecs tiles,vp9,h264,av1]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from agent.capture.base import CaptureSource, Frame
from bench.common import env_float, isolated_home, print_table, write_result, xvfb
from bench.office import Office, chromium_office, drive
from protocol.e2e import FrameSealer
from protocol.media import FLAG_FULL, VideoChunk

TARGET_KBPS = 25.0
LARGE_TILES = 200
#: Text crops (x, y, w, h) on the 1920×1080 screen per phase: the typed notes, the
#: document's paragraphs, the grid's cells (below Chromium's tab strip and toolbar).
CROPS: dict[str, tuple[tuple[int, int, int, int], ...]] = {
    "typing": ((390, 215, 700, 130), (20, 210, 340, 200)),  # typed notes, client panel
    "scrolling": ((490, 160, 920, 700),),  # the document's paragraphs
    "reading": ((40, 100, 1560, 600),),  # the grid's numbers
}
DECODERS = {"vp9": "vp9", "h264": "h264", "av1": "libdav1d"}


class Recorder:
    """The capture thread: the real screen every 1/fps s, changed frames kept."""

    def __init__(self, display: str, fps: float, office: Office) -> None:
        from agent.capture.screen import ScreenSource

        self.source = ScreenSource(display)
        self.fps, self.office = fps, office
        self.stop = threading.Event()
        self.frames: list[tuple[str, Frame]] = []
        self.ticks = 0
        self.elapsed = 0.0

    def run(self) -> None:
        interval, prev = 1.0 / self.fps, None
        started = time.monotonic()
        while not self.stop.is_set():
            t = time.monotonic()
            frame = self.source.grab()
            self.ticks += 1
            if prev is None or not np.array_equal(prev.view(np.uint32), frame.view(np.uint32)):
                self.frames.append((self.office.phase, frame))
                prev = frame
            time.sleep(max(0.0, interval - (time.monotonic() - t)))
        self.elapsed = time.monotonic() - started
        self.source.close()


async def record(duration: float, fps: float) -> Recorder:
    """Xvfb + Chromium + the office driver + the capture thread for ``duration`` s."""
    with xvfb() as disp, isolated_home(), tempfile.TemporaryDirectory() as tmp:
        async with chromium_office(disp.name, Path(tmp)) as office:
            await asyncio.sleep(1.0)  # first paint
            rec = Recorder(disp.name, fps, office)
            thread = threading.Thread(target=rec.run, name="capture", daemon=True)
            stop = asyncio.Event()
            thread.start()
            driver = asyncio.create_task(drive(office, stop))
            await asyncio.sleep(duration)
            stop.set()
            await driver
            rec.stop.set()
            await asyncio.to_thread(thread.join)
            return rec


class _Held(CaptureSource):
    def __init__(self, frame: Frame) -> None:
        self.frame = frame

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.frame.shape[:2]
        return w, h

    def grab(self) -> Frame:
        return self.frame.copy()


def luma(img: Frame) -> np.ndarray:
    """BT.601 luma of a BGRA image, float64."""
    b, g, r = (img[..., i].astype(np.float64) for i in range(3))
    return 0.114 * b + 0.587 * g + 0.299 * r


def _box(a: np.ndarray, k: int = 8) -> np.ndarray:
    c = np.cumsum(np.cumsum(np.pad(a, ((1, 0), (1, 0))), 0), 1)
    return np.asarray((c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k))


def ssim(x: Frame, y: Frame) -> float:
    """Mean SSIM of two BGRA crops (luma, 8×8 uniform windows)."""
    a, b = luma(x), luma(y)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = _box(a), _box(b)
    va, vb = _box(a * a) - ma * ma, _box(b * b) - mb * mb
    cov = _box(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s.mean())


def text_ssim(src: Frame, shown: Frame, phase: str) -> float | None:
    """Mean SSIM over the phase's text crops, or None for a phase without any."""
    boxes = CROPS.get(phase)
    if not boxes:
        return None
    return float(np.mean([ssim(src[y : y + h, x : x + w], shown[y : y + h, x : x + w])
                          for x, y, w, h in boxes]))  # fmt: skip


def run_tiles(
    frames: list[tuple[str, Frame]],
) -> tuple[list[int], list[float], list[Frame], list[int]]:
    """Sealed bytes, ms, the viewer's picture and dirty tiles per frame (tile path)."""
    from agent.pipeline import ScreenPipeline
    from agent.pipeline.apply import apply_update

    src = _Held(frames[0][1])
    pipe = ScreenPipeline(src)
    sealer = FrameSealer("bench-p34", 1, os.urandom(32))
    sizes, ms, shown, dirty = [], [], [], []
    canvas: Frame | None = None
    for i, (_, frame) in enumerate(frames):
        src.frame = frame
        t0 = time.perf_counter()
        update = pipe.next_update(full=i == 0)
        sealed = bytes(sealer.seal(FLAG_FULL if i == 0 else 0, bytes(update))) if update else b""
        ms.append((time.perf_counter() - t0) * 1e3)
        sizes.append(len(sealed))
        dirty.append(pipe.last_stats.dirty_tiles if pipe.last_stats else 0)
        if update is not None:
            canvas = apply_update(canvas, update)
        assert canvas is not None
        shown.append(canvas.copy())
    pipe.close()
    return sizes, ms, shown, dirty


def run_video(
    name: str, frames: list[tuple[str, Frame]], options: dict[str, str] | None = None
) -> tuple[list[int], list[float], list[Frame]]:
    """Sealed bytes, ms and the decoded picture per frame (one keyframe, at the start)."""
    import av

    from agent.video.pyav import PyAVEncoder

    h, w = frames[0][1].shape[:2]
    enc = PyAVEncoder(name, w, h, options=options)
    sealer = FrameSealer("bench-p34", 1, os.urandom(32))
    sizes, ms, chunks = [], [], []
    from agent.video.pipeline import changed_rows

    for i, (_, frame) in enumerate(frames):
        t0 = time.perf_counter()
        # As VideoPipeline does: the changed rows, so only those are converted.
        rows = changed_rows(frames[i - 1][1], frame) if i else None
        out = enc.encode(frame, i == 0, i * 100_000, rows)
        chunk = VideoChunk(enc.codec_id, w, h, i * 100_000, out.data)
        sealed = bytes(sealer.seal_video(out.key, bytes(chunk)))
        ms.append((time.perf_counter() - t0) * 1e3)
        sizes.append(len(sealed))
        chunks.append(out.data)
    enc.close()
    dec: Any = av.CodecContext.create(DECODERS[name], "r")
    shown = []
    for data in chunks:
        shown += [f.to_ndarray(format="bgra")[:h, :w] for f in dec.decode(av.Packet(data))]
    shown += [f.to_ndarray(format="bgra")[:h, :w] for f in dec.decode(None)]
    assert len(shown) == len(frames), (name, len(shown), len(frames))
    return sizes, ms, shown


def summarise(
    path: str, frames: list[tuple[str, Frame]], sizes: list[int], ms: list[float],
    shown: list[Frame], dirty: list[int], secs: float,
) -> dict[str, Any]:  # fmt: skip
    """One row of the table."""
    large = [t for t, d in zip(ms, dirty, strict=True) if d >= LARGE_TILES]
    row: dict[str, Any] = {
        "path": path,
        "KB/s": round(sum(sizes) / secs / 1000, 1),
        "KB/s excl. join": round(sum(sizes[1:]) / secs / 1000, 1),
        "ms p50": round(float(np.percentile(ms[1:], 50)), 1),
        "ms p95": round(float(np.percentile(ms[1:], 95)), 1),
        "ms p95 large": round(float(np.percentile(large, 95)), 1) if large else None,
    }
    for phase in CROPS:
        scores = []
        for (ph, src), got in zip(frames, shown, strict=True):
            score = text_ssim(src, got, phase) if ph == phase else None
            if score is not None:
                scores.append(score)
        row[f"SSIM {phase}"] = round(float(np.mean(scores)), 4) if scores else None
    by_phase = {}
    for phase in sorted({p for p, _ in frames}):
        by_phase[phase] = sum(s for (p, _), s in zip(frames, sizes, strict=True) if p == phase)
    row["bytes by phase"] = by_phase
    return row


def save_frames(folder: Path, frames: list[tuple[str, Frame]], secs: float, ticks: int) -> None:
    """Write the frames as PNG and their phases and timing as ``frames.json``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, (_, f) in enumerate(frames):
        Image.frombuffer("RGB", (f.shape[1], f.shape[0]), f, "raw", "BGRX", 0, 1).save(
            folder / f"{i:04d}.png", compress_level=1
        )
    meta = {"phases": [p for p, _ in frames], "seconds": secs, "ticks": ticks}
    (folder / "frames.json").write_text(json.dumps(meta))


def load_frames(folder: Path) -> tuple[list[tuple[str, Frame]], float, int]:
    """The frames written by :func:`save_frames`."""
    from agent.capture.sequence import load_bgra

    meta = json.loads((folder / "frames.json").read_text())
    files = sorted(folder.glob("*.png"))
    frames = [(p, load_bgra(f)) for p, f in zip(meta["phases"], files, strict=True)]
    return frames, float(meta["seconds"]), int(meta["ticks"])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Record the scenario once, run every path on it; print and write p34_video.json."""
    ap = argparse.ArgumentParser(description="P3/P4 per codec and the tile path")
    ap.add_argument("--duration", type=float, default=env_float("BENCH_P34_DURATION", 18.0))
    ap.add_argument("--fps", type=float, default=env_float("BENCH_P34_FPS", 10.0))
    ap.add_argument("--codecs", default="tiles,vp9,h264,av1")
    ap.add_argument("--save", type=Path, help="keep the recorded frames (PNG) in this folder")
    ap.add_argument("--load", type=Path, help="run on frames saved by --save (no Chromium)")
    args = ap.parse_args(argv)
    if args.load:
        frames, secs, ticks = load_frames(args.load)
    else:
        rec = asyncio.run(record(args.duration, args.fps))
        frames, secs, ticks = rec.frames, rec.elapsed, rec.ticks
        if args.save:
            save_frames(args.save, frames, secs, ticks)
    load = os.getloadavg()[0]
    print(f"{len(frames)} changed frames of {ticks} ticks in {secs:.1f} s "
          f"(load average {load:.1f} on {os.cpu_count()} cores)")  # fmt: skip
    tile_sizes, tile_ms, tile_shown, dirty = run_tiles(frames)
    rows = []
    for path in args.codecs.split(","):
        if path == "tiles":
            sizes, ms, shown = tile_sizes, tile_ms, tile_shown
        else:  # "vp9" or "vp9:crf=34" (a what-if with other encoder options)
            name, _, opts = path.partition(":")
            options = dict(o.split("=", 1) for o in opts.split("/") if o) or None
            sizes, ms, shown = run_video(name, frames, options)
        rows.append(summarise(path, frames, sizes, ms, shown, dirty, secs))
        del shown
    cols = ["path", "KB/s", "KB/s excl. join", "ms p50", "ms p95", "ms p95 large",
            *[f"SSIM {p}" for p in CROPS]]  # fmt: skip
    print_table(
        f"P3/P4 per path: {secs:.0f} s office scenario, {len(frames)} changed 1080p frames, "
        f"load {load:.1f}",
        rows,
        cols,
    )
    data = {
        "command": "python -m bench.p34_video " + " ".join(argv or []),
        "duration_s": round(secs, 1),
        "fps": args.fps,
        "ticks": ticks,
        "changed_frames": len(frames),
        "large_changes": sum(1 for d in dirty if d >= LARGE_TILES),
        "load_average": round(load, 1),
        "rows": rows,
        "target_kbps": TARGET_KBPS,
    }
    dest = write_result("p34_video", data)
    print(f"wrote {dest}")
    return data


if __name__ == "__main__":
    main()
