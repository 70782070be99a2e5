"""P5 side cost: what the agent's capture rate costs on the client's machine when
nothing changes on the screen (the usual state of a support session: the engineer
reads).

An Xvfb of our own at 1920×1080 with a static picture; the real ``screen`` source
(mss) and the real :class:`agent.pipeline.ScreenPipeline`, primed with one full update,
then ``next_update(False)`` once per tick (grab + mask + uint32 tile diff, no change
found) paced like the agent's capture loop, for each frame rate. CPU is measured as
process time of this process (the agent's side) plus the Xvfb server's CPU from
``/proc`` (the X server copies the screen for every grab; on a real desktop Xorg pays
this), both over the same wall-clock window.

Usage: ``python -m bench.p5_idle [--fps 20,30,60] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from bench.common import env_float, print_table, write_result, xvfb


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(fps: float, seconds: float, xvfb_pid: int, damage: bool = False) -> dict[str, Any]:
    """Run the idle capture loop at ``fps`` for ``seconds``; CPU shares and per-tick cost.

    ``damage``: the agent's pipeline (agent.video.VideoPipeline, tile path) with XDamage
    tracking, which grabs nothing while the screen is still.
    """
    from agent.capture import open_source
    from agent.pipeline import ScreenPipeline
    from agent.video import VideoPipeline, create_encoder

    source = open_source("screen")
    pipeline = VideoPipeline(source, create_encoder) if damage else ScreenPipeline(source)
    try:
        pipeline.next_update(True)  # prime: the agent sends a full frame on join
        interval = 1.0 / fps
        ticks, changed = 0, 0
        tick_ms: list[float] = []
        x0, c0, t0 = _proc_cpu_s(xvfb_pid), time.process_time(), time.monotonic()
        while time.monotonic() - t0 < seconds:
            started = time.monotonic()
            s = time.perf_counter()
            if pipeline.next_update(False) is not None:
                changed += 1
            tick_ms.append((time.perf_counter() - s) * 1000)
            ticks += 1
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
        wall = time.monotonic() - t0
        agent_cpu, x_cpu = time.process_time() - c0, _proc_cpu_s(xvfb_pid) - x0
    finally:
        pipeline.close()
        source.close()
    tick_ms.sort()
    return {
        "damage": damage,
        "fps": fps,
        "ticks_per_s": round(ticks / wall, 1),
        "changed_ticks": changed,
        "agent_cpu_ms_per_tick": round(agent_cpu / max(1, ticks) * 1000, 2),
        "tick_wall_ms_p50": round(tick_ms[len(tick_ms) // 2], 2),
        "agent_core_share": round(agent_cpu / wall, 3),
        "xserver_core_share": round(x_cpu / wall, 3),
        "total_core_share": round((agent_cpu + x_cpu) / wall, 3),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure the idle capture cost at each frame rate; write ``p5_idle.json``."""
    ap = argparse.ArgumentParser(description="P5: idle CPU cost of the capture rate")
    ap.add_argument("--fps", default="20,30,60")
    ap.add_argument("--damage", default="no,yes", help="without / with XDamage: no, yes or both")
    ap.add_argument("--seconds", type=float, default=env_float("BENCH_P5_IDLE_SECONDS", 10.0))
    args = ap.parse_args(argv)
    rows = []
    with xvfb() as display:
        os.environ["DISPLAY"] = display.name
        for dmg in args.damage.split(","):
            for fps in (float(f) for f in args.fps.split(",")):
                rows.append(measure(fps, args.seconds, display.process.pid, dmg == "yes"))
    print_table(
        "P5 idle cost: 1080p screen, nothing changes (grab + mask + diff per tick; "
        "with damage: one event check per tick, no grab)",
        rows,
        list(rows[0]),
    )
    out = {"command": "python -m bench.p5_idle " + " ".join(argv or []), "rows": rows}
    write_result("p5_idle", out)
    return out


if __name__ == "__main__":
    main()
