"""P3: agent 1080p capture + mask + diff + encode + pack + encrypt, one core.

Usage: ``.venv/bin/python bench/pipeline_bench.py [--frames N] [--xvfb]``

Scenarios on a 1920×1080 deterministic pattern source (capture = rendering a fresh
frame, a full 8 MB copy like mss's buffer):
- ``typing``: one word typed per frame (the P3 "typical change");
- ``page switch``: the whole document changes (a window switch, through the diff path);
- ``full refresh``: ``next_update(full=True)`` (join / viewer refresh).
Each frame also serialises the plaintext and seals it with protocol.e2e.FrameSealer
(AES-256-GCM).  A mask region is active throughout.  ``--xvfb`` also times a real
mss grab of a 1080p Xvfb screen.  Prints a table; writes bench/results/p3.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.capture import PatternSource  # noqa: E402
from agent.pipeline import ScreenPipeline  # noqa: E402
from protocol.e2e import FrameSealer  # noqa: E402
from protocol.media import FLAG_FULL  # noqa: E402

TARGETS_MS = {"typing": 10.0, "page switch": 30.0, "full refresh": 30.0}
WORDS = ["invoice ", "printer ", "offline ", "hello ", "ticket ", "restart ", "driver "]


def run(
    name: str, frames: int, change: Callable[[PatternSource, int], None], full: bool
) -> dict[str, float | int | str]:
    src = PatternSource(1920, 1080, motion=False)
    pipe = ScreenPipeline(src, tile=64, quality=70)
    pipe.set_masks([(1500, 20, 300, 60)])  # a masked region, as a client would set
    sealer = FrameSealer("bench-session", 1, os.urandom(32))
    pipe.next_update(full=True)  # first frame, not timed
    totals, parts, sizes = [], {"capture": [], "mask": [], "diff": [], "encode": [], "seal": []}, []
    for i in range(frames):
        change(src, i)
        t0 = time.perf_counter()
        update = pipe.next_update(full=full)
        t1 = time.perf_counter()
        assert update is not None and pipe.last_stats is not None
        plaintext = bytes(update)
        frame = sealer.seal(FLAG_FULL if full else 0, plaintext)
        wire = bytes(frame)
        t2 = time.perf_counter()
        st = pipe.last_stats
        totals.append((t2 - t0) * 1e3)
        parts["capture"].append(st.capture_ms)
        parts["mask"].append(st.mask_ms)
        parts["diff"].append(st.diff_ms)
        parts["encode"].append(st.encode_ms)
        parts["seal"].append((t2 - t1) * 1e3)
        sizes.append(len(wire))
    result: dict[str, float | int | str] = {
        "scenario": name,
        "frames": frames,
        "median_ms": round(statistics.median(totals), 2),
        "p90_ms": round(sorted(totals)[int(0.9 * (len(totals) - 1))], 2),
        "target_ms": TARGETS_MS[name],
        "median_bytes": int(statistics.median(sizes)),
        "dirty_tiles": pipe.last_stats.dirty_tiles if pipe.last_stats else 0,
    }
    for k, v in parts.items():
        result[f"{k}_ms"] = round(statistics.median(v), 2)
    return result


def xvfb_grab_ms(frames: int) -> float | None:
    """Median mss grab of a 1080p Xvfb screen, or None without Xvfb."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        return None
    n = next(n for n in range(160, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = subprocess.Popen([xvfb, f":{n}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{n}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        from agent.capture.screen import ScreenSource

        with ScreenSource(f":{n}") as src:
            src.grab()
            times = []
            for _ in range(frames):
                t = time.perf_counter()
                src.grab()
                times.append((time.perf_counter() - t) * 1e3)
        return round(statistics.median(times), 2)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--xvfb", action="store_true", help="also time a real mss grab on Xvfb")
    args = ap.parse_args()

    def typing(src: PatternSource, i: int) -> None:
        src.type_text(WORDS[i % len(WORDS)])

    def page(src: PatternSource, i: int) -> None:
        src.set_page(i + 1)

    def refresh(src: PatternSource, i: int) -> None:
        src.type_text("x")

    results = [
        run("typing", args.frames, typing, full=False),
        run("page switch", max(10, args.frames // 2), page, full=False),
        run("full refresh", max(10, args.frames // 2), refresh, full=True),
    ]
    cols = ["scenario", "median_ms", "p90_ms", "target_ms", "capture_ms", "mask_ms", "diff_ms",
            "encode_ms", "seal_ms", "median_bytes", "dirty_tiles"]  # fmt: skip
    print(" | ".join(f"{c:>12}" for c in cols))
    for r in results:
        print(" | ".join(f"{r[c]!s:>12}" for c in cols))
    out: dict[str, object] = {
        "benchmark": "P3 agent pipeline, 1920x1080, one core",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": results,
        "pass": all(float(r["median_ms"]) <= float(r["target_ms"]) for r in results),
    }
    if args.xvfb:
        out["xvfb_mss_grab_ms"] = xvfb_grab_ms(args.frames)
        print(f"mss grab of 1080p Xvfb: {out['xvfb_mss_grab_ms']} ms (median)")
    dest = ROOT / "bench" / "results" / "p3.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {dest.relative_to(ROOT)}; P3 {'PASS' if out['pass'] else 'FAIL'}")


if __name__ == "__main__":
    main()
