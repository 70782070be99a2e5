"""P9: several broker processes on NATS — capacity with 2 processes ÷ 1 process on
2 cores, and the latency a cross-process hop adds, in the same run.

The real cluster of ``tools/cluster.py`` (two ``clearpane broker`` processes on the NATS
relay backend, ``nats-server``, HAProxy with TLS passthrough, PostgreSQL) and the load
generator of ``bench/relay.py`` (scripted agents and viewers, office profile: 2,250 B
updates at 10/s, acked by the viewer, credit-limited like the real agent).

Each process runs at the same load point in every setup: the two-process setups carry
twice the sessions (``--same-total`` turns that off), because an event loop's CPU per
frame falls as it gets busier, and at capacity every process is busy. Every setup runs
``--rounds`` times in turn and the median is reported; each process's idle CPU (its
fixed cost: timers, heartbeats, the store's polls) is measured first and the capacity
is where the marginal cost per frame fills the cores the fixed cost leaves.

* **one process**: every session's agent and viewer pinned to node 1 (HAProxy's pinned
  frontend); CPU per session of node 1.
* **two processes, routed** (the product's way, docs/operations.md §6.3): agents
  through the load balancer (round robin, no stickiness); each viewer joins once its
  agent is in and opens its WebSocket at the join's ``ws_url`` (the node holding the
  session, through that node's HAProxy frontend), as the web viewer does. CPU per
  session of node 1 + node 2 + nats-server.
  Capacity ratio = (2 cores ÷ CPU per session with two) ÷ (1 core ÷ CPU per session
  with one): what the machine carries with a process per core over one process,
  extrapolated from CPU per session as P1 does (the load generators share the cores,
  so saturating them would measure the generators).
* **two processes, every session cross-process**: half the agents on node 1 with their
  viewers on node 2 and the other half the other way round (through the nodes' HAProxy
  frontends): the cost of the NATS path, for clients that cannot be routed (round robin
  alone puts anything from none to all of them there, depending on how the generators'
  connections interleave).
* **latency**: at light load, sessions with agent and viewer on the same process,
  sessions with them on different processes, and routed sessions through the load
  balancer, driven **at the same time**; the added p50 is the difference to the first.

Usage: ``python -m bench.p9_cluster [--sessions 80] [--duration 15] [--latency-sessions 20]
[--rounds 2]`` (each setup runs ``--rounds`` times in turn; the median is reported).
(re-runs itself under tools/with_postgres.sh when no PostgreSQL is configured).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import ROOT, env_float, env_int, percentile, print_table, write_result
from bench.relay import FRAME_BYTES, RATE, _proc_stat, make_broker_sessions, worker_main

PG_ENV = "CLEARPANE_TEST_DATABASE_URL"
P9_RATIO_TARGET = 1.8
P9_ADDED_P50_TARGET_MS = 5.0


def _wss(url: str) -> str:
    return url.replace("https://", "wss://")


def drive(
    groups: dict[str, list[dict[str, Any]]], pids: dict[str, int], duration: float,
    workers: int, cafile: str, base_url: str, warmup: float = 3.0,
) -> tuple[dict[str, dict[str, Any]], dict[str, float], float]:  # fmt: skip
    """Run every group's sessions at once from ``workers`` processes per group; return
    per-group delivery/latency, CPU seconds per pid name, and the measured seconds."""
    ctx = mp.get_context("spawn")
    spec = {"mode": "broker", "url": _wss(base_url), "cafile": cafile, "base_url": base_url,
            "frame_bytes": FRAME_BYTES, "rate": RATE, "stalled": False, "flood": False}  # fmt: skip
    pipes: dict[str, list[Any]] = {}
    procs = []
    for name, sessions in groups.items():
        pipes[name] = []
        for w in range(workers):
            a, b = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=({**spec, "sessions": sessions[w::workers]}, b),
                            daemon=True)  # fmt: skip
            p.start()
            procs.append(p)
            pipes[name].append(a)
    every = [a for mine in pipes.values() for a in mine]
    try:
        for a in every:
            if not a.poll(240):
                raise RuntimeError("a load generator was not ready after 240 s")
            if (msg := a.recv()) != "ready":
                raise RuntimeError(f"worker failed: {msg}")
        for a in every:
            a.send("go")
        time.sleep(warmup)
        start = {n: _proc_stat(p)[0] for n, p in pids.items()}
        t0 = time.monotonic()
        for a in every:
            a.send("measure")
        time.sleep(duration)
        cpu = {n: _proc_stat(p)[0] - start[n] for n, p in pids.items()}
        secs = time.monotonic() - t0
        for a in every:
            a.send("stop")
        out: dict[str, dict[str, Any]] = {}
        for name, mine in pipes.items():
            res = []
            for a in mine:
                if not a.poll(30):
                    raise RuntimeError("a worker did not report")
                res.append(a.recv())
            fatal = [r["fatal"] for r in res if "fatal" in r]
            if fatal:
                raise RuntimeError(fatal[0])
            lat = [x for r in res for x in r["latencies"]]
            out[name] = {
                "sessions": len(groups[name]),
                "frames_per_s": round(sum(r["received"] for r in res) / secs, 1),
                "offered_per_s": round(sum(r["sent"] for r in res) / secs, 1),
                "p50_ms": round(percentile(lat, 0.5), 2),
                "p95_ms": round(percentile(lat, 0.95), 2),
                "p99_ms": round(percentile(lat, 0.99), 2),
                "errors": sum(r["n_errors"] for r in res),
                "error_samples": [e for r in res for e in r["errors"]][:3],
            }
        return out, cpu, secs
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


def _pin(sessions: list[dict[str, Any]], agent: str, viewer: str) -> list[dict[str, Any]]:
    return [{**s, "agent_url": _wss(agent), "viewer_url": _wss(viewer)} for s in sessions]


def run(args: argparse.Namespace, server_url: str) -> dict[str, Any]:
    """The three measurements on one cluster."""
    from broker.testing import drop_test_databases, postgres_test_database
    from tools.cluster import LocalCluster

    db = asyncio.run(postgres_test_database(server_url, f"cp_p9_{uuid.uuid4().hex[:10]}"))
    work = Path(tempfile.mkdtemp(prefix="cp-p9-"))
    cluster = LocalCluster(work, db).start()  # INFO: attach lines say who is cross-process
    try:
        assert cluster.admin is not None
        info = {
            "base_url": cluster.url,
            "cafile": str(cluster.ca_file),
            "admin": list(cluster.admin),
        }
        pids = {"node1": cluster.nodes[0].proc.pid, "node2": cluster.nodes[1].proc.pid,
                "nats": cluster.nats_pid}  # fmt: skip
        n1, n2, lb = cluster.pinned_url(0), cluster.pinned_url(1), cluster.url
        common = (pids, args.duration, args.workers, str(cluster.ca_file), cluster.url)

        idle = _idle(pids, args.idle)
        # Equal load per process (the default): two processes carry twice the sessions,
        # so each runs at the load point of the one-process run (an event loop's cost per
        # frame falls as it gets busier; at capacity every process is busy).
        many = args.sessions * (2 if args.equal_load else 1)
        runs: dict[str, list[tuple[dict[str, Any], dict[str, float], float]]] = {}
        shares: dict[str, list[str]] = {"routed": [], "cross": []}
        for _ in range(args.rounds):  # the setups in turn, so a load spike hits all alike
            one = _pin(asyncio.run(make_broker_sessions(info, args.sessions, False)), n1, n1)
            _settle(pids, idle)
            runs.setdefault("one", []).append(_only(drive({"one": one}, *common)))
            before = _cross_count(cluster)
            two = _routed(asyncio.run(make_broker_sessions(info, many, False)), lb)
            _settle(pids, idle)
            runs.setdefault("routed", []).append(_only(drive({"two": two}, *common)))
            shares["routed"].append(f"{_cross_count(cluster) - before}/{len(two)}")
            before = _cross_count(cluster)
            crossing = asyncio.run(make_broker_sessions(info, many, False))
            half = len(crossing) // 2
            spread = _pin(crossing[:half], n1, n2) + _pin(crossing[half:], n2, n1)
            _settle(pids, idle)
            runs.setdefault("cross", []).append(_only(drive({"spread": spread}, *common)))
            shares["cross"].append(f"{_cross_count(cluster) - before}/{len(spread)}")
        same = _pin(asyncio.run(make_broker_sessions(info, args.latency_sessions, False)), n1, n1)
        hop = _pin(asyncio.run(make_broker_sessions(info, args.latency_sessions, False)), n1, n2)
        routed = _routed(asyncio.run(make_broker_sessions(info, args.latency_sessions, False)), lb)
        _settle(pids, idle)
        lat, _, _ = drive({"same": same, "cross": hop, "routed": routed}, *common)
    finally:
        cluster.stop()
        asyncio.run(drop_test_databases())

    def row(
        setup: str, res: dict[str, Any], cpu: dict[str, float], secs: float,
        used: tuple[str, ...], machine: float,
    ) -> dict[str, Any]:  # fmt: skip
        # Only the processes the setup uses count (node 2 idles in the one-process run);
        # "marginal" leaves out their fixed cost (idle_cores), which does not grow
        # with load: capacity is where the marginal cost fills the cores left.
        cores = sum(cpu[k] for k in used) / secs
        fixed = sum(idle[k] for k in used)
        per = max(1e-9, res["frames_per_s"])
        return {"setup": setup, **res, "cores_used": round(cores, 3),
                "cpu_us_per_frame": round(cores / per * 1e6, 1),
                "marginal_us_per_frame": round(max(0.0, cores - fixed) / per * 1e6, 1),
                "capacity_frames_per_s": round((machine - fixed)
                                               / max(1e-9, (cores - fixed) / per)),
                **{f"{k}_cores": round(v / secs, 3) for k, v in cpu.items()}}  # fmt: skip

    labels = {
        "one": "1 process (all on node 1)",
        "routed": f"2 processes, viewers routed ({', '.join(shares['routed'])} cross-process)",
        "cross": f"2 processes, all cross-process ({', '.join(shares['cross'])})",
    }
    rows = []
    per_round: dict[str, list[dict[str, Any]]] = {}
    for key, label in labels.items():
        used = ("node1",) if key == "one" else ("node1", "node2", "nats")
        machine = 1.0 if key == "one" else 2.0  # cores: one process uses one
        each = [row(label, res, cpu, secs, used, machine) for res, cpu, secs in runs[key]]
        per_round[key] = each
        mean = {k: round(sum(r[k] for r in each) / len(each), 1)
                for k in ("cpu_us_per_frame", "marginal_us_per_frame", "capacity_frames_per_s")}  # fmt: skip
        rows.append({**each[-1], **mean,
                     "cpu_us_per_frame_rounds": [r["cpu_us_per_frame"] for r in each]})  # fmt: skip
    cols = ["setup", "sessions", "frames_per_s", "offered_per_s", "cores_used", "node1_cores",
            "node2_cores", "nats_cores", "cpu_us_per_frame", "cpu_us_per_frame_rounds",
            "marginal_us_per_frame", "capacity_frames_per_s",
            "p50_ms", "p99_ms", "errors"]  # fmt: skip
    print_table("P9 capacity: broker + NATS CPU per delivered frame", rows, cols)
    lrows = [{"setup": k, **v} for k, v in lat.items()]
    print_table("P9 latency, same and cross-process sessions side by side", lrows,
                ["setup", "sessions", "frames_per_s", "offered_per_s", "p50_ms", "p95_ms",
                 "p99_ms", "errors"])  # fmt: skip

    # Capacity on 2 cores with two processes ÷ one process on its one core, extrapolated
    # (the load generators share the cores: nothing can be saturated honestly): each
    # setup's capacity is where its marginal cost per frame fills the cores its fixed
    # cost leaves; also the plain ratio of CPU per frame (fixed cost included). Ratios per round (the setups of one round ran minutes apart, not the rounds), then
    # their mean: a load spike from the machine's other users moves one round.
    def paired(key: str, field: str, factor: float) -> list[float]:
        return [round(factor * (b[field] / a[field] if field.startswith("capacity")
                                else a[field] / b[field]), 3)
                for a, b in zip(per_round["one"], per_round[key], strict=True)]  # fmt: skip

    rounds_marginal = paired("routed", "capacity_frames_per_s", 1.0)
    rounds_cross = paired("cross", "capacity_frames_per_s", 1.0)
    ratio_marginal = sum(rounds_marginal) / len(rounds_marginal)
    crossed_marginal = sum(rounds_cross) / len(rounds_cross)
    ratio = sum(paired("routed", "cpu_us_per_frame", 2.0)) / args.rounds
    crossed = sum(paired("cross", "cpu_us_per_frame", 2.0)) / args.rounds
    added = round(lat["cross"]["p50_ms"] - lat["same"]["p50_ms"], 2)
    added_routed = round(lat["routed"]["p50_ms"] - lat["same"]["p50_ms"], 2)
    out = {
        "command": "python -m bench.p9_cluster " + " ".join(sys.argv[1:]),
        "load_average": os.getloadavg(),
        "capacity": rows, "latency": lrows,
        "cross_process_sessions": shares,
        "idle_cores": idle,
        "p9_capacity_ratio_rounds": rounds_marginal,
        "p9_capacity_ratio_all_cross_rounds": rounds_cross,
        "p9_capacity_ratio": round(ratio_marginal, 3) if ratio_marginal else None,
        "p9_capacity_ratio_all_cross": round(crossed_marginal, 3) if crossed_marginal else None,
        "p9_cpu_per_frame_ratio": round(ratio, 3) if ratio else None,
        "p9_cpu_per_frame_ratio_all_cross": round(crossed, 3) if crossed else None,
        "p9_added_p50_ms_routed": added_routed,
        "p9_added_p50_ms_cross_path": added,
        "targets": {"ratio": P9_RATIO_TARGET, "added_p50_ms": P9_ADDED_P50_TARGET_MS},
    }  # fmt: skip
    print(f"P9 capacity ratio {out['p9_capacity_ratio']} routed (target ≥ {P9_RATIO_TARGET}; "
          f"{out['p9_capacity_ratio_all_cross']} all cross-process; from CPU per frame with "
          f"the fixed cost: {out['p9_cpu_per_frame_ratio']} / "
          f"{out['p9_cpu_per_frame_ratio_all_cross']}); added p50: routed "
          f"{added_routed} ms, the cross-process path {added} ms "
          f"(target ≤ {P9_ADDED_P50_TARGET_MS}); load {os.getloadavg()[0]:.1f}")  # fmt: skip
    return out


def _only(
    result: tuple[dict[str, dict[str, Any]], dict[str, float], float],
) -> tuple[dict[str, Any], dict[str, float], float]:
    """One group's result of :func:`drive`."""
    res, cpu, secs = result
    (only,) = res.values()
    return only, cpu, secs


def _idle(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """Each process's CPU (cores) with no session at all: its fixed cost (timers,
    heartbeats, the store's polls), which weighs more per frame the less each does."""
    start = {n: _proc_stat(p)[0] for n, p in pids.items()}
    time.sleep(seconds)
    return {n: round((_proc_stat(p)[0] - start[n]) / seconds, 4) for n, p in pids.items()}


def _settle(pids: dict[str, int], idle: dict[str, float], limit_s: float = 60.0) -> None:
    """Wait until the processes are back near idle: the sessions of the previous run
    end (logs sealed, recordings closed) and must not be counted in the next."""
    quiet = sum(idle.values()) + 0.02
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and sum(_idle(pids, 1.0).values()) > quiet:
        pass


def _routed(sessions: list[dict[str, Any]], lb: str) -> list[dict[str, Any]]:
    """Agents through the load balancer; viewers where their late join says."""
    return [{**s, "agent_url": _wss(lb), "rejoin": True} for s in sessions]


def _cross_count(cluster: Any) -> int:
    """How many WebSockets so far were attached to a session's home over NATS."""
    return sum(1 for line in cluster.nodes[0].lines + cluster.nodes[1].lines
               if "attached to its home" in line)  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """P9 (see the module docstring)."""
    ap = argparse.ArgumentParser(description="P9: two broker processes on NATS vs one")
    ap.add_argument("--sessions", type=int, default=env_int("BENCH_P9_SESSIONS", 80))
    ap.add_argument("--duration", type=float, default=env_float("BENCH_P9_DURATION", 15.0))
    ap.add_argument(
        "--latency-sessions", type=int, default=env_int("BENCH_P9_LATENCY_SESSIONS", 20)
    )
    ap.add_argument("--workers", type=int, default=env_int("BENCH_P9_WORKERS", 2))
    ap.add_argument(
        "--rounds",
        type=int,
        default=env_int("BENCH_P9_ROUNDS", 2),
        help="each setup this many times, in turn (the median is reported)",
    )
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of idle measurement")
    ap.add_argument(
        "--same-total",
        dest="equal_load",
        action="store_false",
        help="two processes carry the same sessions as one (not twice as many)",
    )
    args = ap.parse_args(argv)
    server_url = os.environ.get(PG_ENV)
    if not server_url:  # a throwaway PostgreSQL for the run
        script = str(ROOT / "tools" / "with_postgres.sh")
        os.execv(
            script, [script, sys.executable, "-m", "bench.p9_cluster", *(argv or sys.argv[1:])]
        )
    out = run(args, server_url)
    write_result("P9", out)
    return out


if __name__ == "__main__":
    main()
