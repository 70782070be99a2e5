"""Run every figure of DESIGN §9 (``make bench``) and print one summary table.

Each figure runs in its own process (a crash in one does not hide the others) and
writes ``bench/results/<figure>.json``; this script then reads them all, prints the
summary and writes ``bench/results/summary.json`` and ``summary.md`` (the table for
docs/BENCHMARKS.md).

``--quick`` (the default) fits in 10 minutes on 2 cores; ``--full`` scales up
(more sessions, longer runs).  Every knob can also be set on its own through the
environment: ``BENCH_SESSIONS``, ``BENCH_WORKERS``, ``BENCH_RELAY_DURATION``,
``BENCH_FLOOD_SESSIONS``, ``BENCH_STALLED_SESSIONS``, ``BENCH_STALLED_DURATION``,
``BENCH_P4_DURATION``, ``BENCH_P4_FPS``, ``BENCH_P3_REPEAT``, ``BENCH_P3_FRAMES``,
``BENCH_P56_ROUNDS``.  ``--only P4,P3`` runs a subset.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from bench.common import RESULTS, ROOT, machine_info, now_iso, print_table

#: figure → (module, result file, quick env, full env)
FIGURES: dict[str, tuple[str, str, dict[str, str], dict[str, str]]] = {
    "P4": ("bench.p4_bandwidth", "p4.json",
           {"BENCH_P4_DURATION": "40"}, {"BENCH_P4_DURATION": "120"}),
    "P3": ("bench.p3_pipeline", "p3.json",
           {"BENCH_P3_REPEAT": "3"}, {"BENCH_P3_REPEAT": "10", "BENCH_P3_FRAMES": "200"}),
    "P1": ("bench.relay", "p1_p2_p7.json",
           {"BENCH_SESSIONS": "150", "BENCH_WORKERS": "4", "BENCH_RELAY_DURATION": "20"},
           {"BENCH_SESSIONS": "500", "BENCH_WORKERS": "8", "BENCH_RELAY_DURATION": "60",
            "BENCH_STALLED_DURATION": "120", "BENCH_STALLED_SESSIONS": "200"}),
    "P6": ("bench.p56_live", "p5_p6.json", {"BENCH_P56_ROUNDS": "40"}, {"BENCH_P56_ROUNDS": "120", "BENCH_P56_KILLS": "10"}),
    "P8": ("bench.p8_seek", "p8.json", {"BENCH_P8_SEEKS": "30"}, {"BENCH_P8_SEEKS": "100"}),
    "P9": ("bench.p9_cluster", "p9.json", {"BENCH_P9_SESSIONS": "30", "BENCH_P9_DURATION": "10"},
           {"BENCH_P9_SESSIONS": "60", "BENCH_P9_DURATION": "30", "BENCH_P9_ROUNDS": "3"}),
}  # fmt: skip
TIMEOUT_S = {"P4": 240, "P3": 180, "P1": 420, "P6": 240, "P8": 300, "P9": 1200}


def _summary_rows() -> list[dict[str, Any]]:
    """One row per DESIGN §9 number, from whatever result files exist."""

    def load(name: str) -> dict[str, Any] | None:
        path = RESULTS / name
        return json.loads(path.read_text()) if path.exists() else None

    rows: list[dict[str, Any]] = []
    relay = load("p1_p2_p7.json")
    if relay and "office" in relay:
        by = {r["mode"]: r for r in relay["office"]}
        fwd = by["forwarder"]
        refused = "; ".join(relay.get("p1_refused", []))
        per_core = relay.get("p1_sessions_per_core_extrapolated")
        rows.append({
            "figure": "P1", "what": "sessions one core carries (from measured CPU of every data-path process), × the bare forwarder's; latency through the relay",
            "result": (f"{per_core} sessions/core, ×{relay.get('p1_ratio_median')} the forwarder "
                       f"({relay.get('p1_valid_reps')} valid runs); " if per_core else f"REFUSED ({refused}); ")
                      + f"p50/p99 {relay.get('p1_light_p50_ms')}/{relay.get('p1_light_p99_ms')} ms at {relay.get('p1_latency_sessions')} sessions",
            "target": "≥ 2.5× the forwarder, all frames delivered, p99 ≤ 25 ms",
            "baseline": f"bare forwarder: {relay.get('p1_fwd_sessions_per_core_extrapolated')} sessions/core; "
                        f"p50/p99 {relay.get('p1_light_fwd_p50_ms')}/{relay.get('p1_light_fwd_p99_ms')} ms (side by side)",
            "date": relay["date"],
        })  # fmt: skip
        rows.append({
            "figure": "P2", "what": "broker CPU per delivered frame ÷ the bare forwarder's (same run); flood throughput broker/forwarder",
            "result": f"{relay.get('p2_ratio_median') or 'REFUSED'} (CPU); {relay.get('p2_flood_throughput_ratio', '-')} (flood)",
            "target": "≤ 0.4", "baseline": "bare aiohttp forwarder, same TLS, same run",
            "date": relay["date"],
        })  # fmt: skip
    p3 = load("p3.json")
    if p3:
        rows.append({
            "figure": "P3", "what": "1080p pipeline per frame (typical / worst full change)",
            "result": f"{p3['result_typical_ms']} ms / {p3['result_full_ms']} ms ({p3['worst_full_scenario']})",
            "target": "≤ 10 ms / ≤ 30 ms", "baseline": "-", "date": p3["date"],
        })  # fmt: skip
    p4 = load("p4.json")
    if p4:
        rows.append({
            "figure": "P4", "what": f"office scenario bandwidth ({p4['duration_s']} s, {p4['fps']:g} fps)",
            "result": f"{p4['result_kbps']} KB/s", "target": "≤ 50 KB/s",
            "baseline": f"full JPEG every tick {p4['baseline_kbps']} KB/s", "date": p4["date"],
        })  # fmt: skip
    live = load("p5_p6.json")
    if live:
        for key in ("p5", "p6"):
            if key in live:
                rows.append({"figure": key.upper(), **live[key]["summary"], "date": live["date"]})
    if relay and "office" in relay:
        st = relay.get("stalled", {})
        rows.append({
            "figure": "P7", "what": "broker RSS per live session; RSS slope with stalled viewers",
            "result": f"{relay['p7_kb_per_session']} KB/session; slope {st.get('rss_slope_kb_per_s_second_half', '-')} KB/s",
            "target": "≤ 256 KB; no growth",
            "baseline": f"forwarder TLS {fwd['kb_per_session']} KB, plain {by.get('forwarder-plain', {}).get('kb_per_session', '-')} KB; broker with 32 KiB TLS buffers {by.get('broker+sslbuf', {}).get('kb_per_session', '-')} KB",
            "date": relay["date"],
        })  # fmt: skip
    p8 = load("p8.json")
    if p8:
        rec = p8["recording"]
        rows.append({
            "figure": "P8",
            "what": f"seek in a {rec['minutes']}-minute synthetic 1080p recording, replay page ({p8['seeks']} seeks)",
            "result": f"p95 {p8['seek_ms_p95']} ms (p50 {p8['seek_ms_p50']}, max {p8['seek_ms_max']})",
            "target": "≤ 1 s", "baseline": "-", "date": p8["date"],
        })  # fmt: skip
    else:
        rows.append({"figure": "P8", "what": "seek in a one-hour recording",
                     "result": "not measured (bench.p8_seek did not run)", "target": "≤ 1 s",
                     "baseline": "-", "date": now_iso()})  # fmt: skip
    p9 = load("p9.json")
    if p9:
        rows.append({
            "figure": "P9",
            "what": "2 broker processes on NATS vs 1 on 2 cores, viewers routed (capacity from the marginal CPU per frame); added latency",
            "result": f"{p9['p9_capacity_ratio']}× routed (rounds {p9['p9_capacity_ratio_rounds']}; "
                      f"{p9['p9_capacity_ratio_all_cross']}× every session cross-process); added p50 "
                      f"routed {p9['p9_added_p50_ms_routed']} ms, cross path {p9['p9_added_p50_ms_cross_path']} ms",
            "target": "≥ 1.8×; ≤ 5 ms", "baseline": "1 process, same-process sessions (same run)",
            "date": p9["date"],
        })  # fmt: skip
    order = {f"P{i}": i for i in range(1, 10)}
    rows.sort(key=lambda r: order.get(r["figure"], 99))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the figures; return 0 if every figure ran (pass or miss), 1 otherwise."""
    ap = argparse.ArgumentParser(description="Run every DESIGN §9 benchmark")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the default: ≤ 10 min on 2 cores")
    mode.add_argument("--full", action="store_true", help="more sessions, longer runs")
    ap.add_argument("--only", default="", help="comma-separated figures, e.g. P4,P3")
    args = ap.parse_args(argv)
    wanted = [f.strip().upper() for f in args.only.split(",") if f.strip()] or list(FIGURES)
    failed = []
    started = time.monotonic()
    for fig in wanted:
        if fig not in FIGURES:
            print(f"unknown figure {fig}; known: {', '.join(FIGURES)}")
            return 2
        module, _, quick, full = FIGURES[fig]
        env = dict(os.environ)
        for k, v in (full if args.full else quick).items():
            env.setdefault(k, v)  # an explicit BENCH_* in the environment wins
        print(f"\n##### {fig}: {module}", flush=True)
        t0 = time.monotonic()
        try:
            rc = subprocess.run([sys.executable, "-m", module], cwd=ROOT, env=env,
                                timeout=TIMEOUT_S[fig] * (3 if args.full else 1)).returncode  # fmt: skip
        except subprocess.TimeoutExpired:
            rc = -1
            print(f"{fig} timed out")
        print(f"##### {fig} done in {time.monotonic() - t0:.0f} s (exit {rc})", flush=True)
        if rc != 0:
            failed.append(fig)
    rows = _summary_rows()
    cols = ["figure", "result", "target", "baseline", "date"]
    print_table(f"Summary ({time.monotonic() - started:.0f} s)", rows, cols)
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    (RESULTS / "summary.json").write_text(
        json.dumps({"date": now_iso(), "machine": info, "rows": rows, "failed": failed}, indent=2)
    )
    md = ["| # | what | result | target | baseline (same run) |", "|---|---|---|---|---|"]
    md += [f"| {r['figure']} | {r['what']} | {r['result']} | {r['target']} | {r['baseline']} |"
           for r in rows]  # fmt: skip
    (RESULTS / "summary.md").write_text("\n".join(md) + "\n")
    if failed:
        print(f"figures that did not run to the end: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
