"""Shared helpers for the benchmarks: results files, tables, percentiles, Xvfb, Chromium."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: Flags from MACHINE-NOTES (Chromium on these machines).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "loadavg_1m_at_write": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "mem_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def now_iso() -> str:
    """UTC time in ISO 8601, seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_result(figure: str, data: dict[str, Any]) -> Path:
    """Write ``bench/results/<figure>.json`` with date and machine; return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"figure": figure, "date": now_iso(), "machine": machine_info(), **data}
    dest = RESULTS / f"{figure.lower()}.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    return dest


def print_table(title: str, rows: Sequence[dict[str, Any]], cols: Sequence[str]) -> None:
    """Print ``rows`` as an aligned text table of ``cols``."""
    print(f"\n== {title}")
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).rjust(w) for c, w in zip(cols, widths, strict=True)))


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[k]


@dataclass(frozen=True)
class Display:
    """A running Xvfb."""

    name: str
    process: subprocess.Popen[bytes]


@contextmanager
def xvfb(width: int = 1920, height: int = 1080) -> Iterator[Display]:
    """Start an Xvfb of its own (as tests/conftest.py does); stop it on exit."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise RuntimeError("Xvfb is not installed: run `make system-deps`")
    for n in range(150, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    name = f":{n}"
    proc = subprocess.Popen(
        [exe, name, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    try:
        yield Display(name, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def isolated_home() -> Iterator[Path]:
    """Point HOME/XDG_* at a temporary folder: Chromium writes there even with a
    temporary profile (MACHINE-NOTES)."""
    home = Path(tempfile.mkdtemp(prefix="clearpane-bench-home-"))
    keys = ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    os.environ["XDG_CACHE_HOME"] = str(home / ".cache")
    try:
        yield home
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(home, ignore_errors=True)


def env_int(name: str, default: int) -> int:
    """An integer knob from the environment (``BENCH_*``)."""
    raw = os.environ.get(name)
    return int(raw) if raw else default


def env_float(name: str, default: float) -> float:
    """A float knob from the environment (``BENCH_*``)."""
    raw = os.environ.get(name)
    return float(raw) if raw else default


def start_profiler(pid: int, seconds: float, dest: Path) -> subprocess.Popen[bytes] | None:
    """Sample ``pid`` with py-spy (collapsed stacks in ``dest``) if py-spy is installed."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
         "--rate", "200", "--format", "raw", "--nonblocking", "--output", str(dest)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def top_frames(collapsed: Path, n: int = 15) -> list[dict[str, Any]]:
    """Self and inclusive share per function from py-spy's collapsed stacks."""
    if not collapsed.exists():
        return []
    self_t: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = [_func(f) for f in stack.split(";")]
        leaf = frames[-1]
        self_t[leaf] = self_t.get(leaf, 0) + c
        for f in set(frames):
            incl[f] = incl.get(f, 0) + c
    if not total:
        return []
    rows = [{"function": f, "self_%": round(100 * c / total, 1),
             "incl_%": round(100 * incl.get(f, 0) / total, 1)}
            for f, c in sorted(self_t.items(), key=lambda kv: -kv[1])[:n]]  # fmt: skip
    return rows


def _func(frame: str) -> str:
    """``name (path/file.py:123)`` → ``name (file.py)``: aggregate over lines."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(path.split('/')[-2:])})" if path else name


def top_inclusive(collapsed: Path, needles: Sequence[str]) -> dict[str, float]:
    """Inclusive share (%) of samples whose stack mentions each needle."""
    if not collapsed.exists():
        return {}
    total = 0
    hits = dict.fromkeys(needles, 0)
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        for nd in needles:
            if nd in stack:
                hits[nd] += int(count)
    return {k: round(100 * v / total, 1) for k, v in hits.items()} if total else {}
