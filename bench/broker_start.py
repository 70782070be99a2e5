"""How long the broker takes to start (``start_server`` until it listens; imports not
counted), for two source trees in the same run, alternating — the A/B for a change
to start-up (e.g. the webhook client's trust store loaded at the first delivery).

    PYTHONPATH=. .venv/bin/python bench/broker_start.py BEFORE_TREE AFTER_TREE [RUNS]

Each tree is a checkout of the repository (``git archive <commit> | tar -x -C dir``).
Every sample is a fresh process on that tree's own data folder, which one unmeasured
start has made first (CA, keys, database): the samples are restarts, as in production.
Prints the median and min per tree, in ms, and their ratio.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# Runs in the tree under test (its own broker package on PYTHONPATH).
_CHILD = r"""
import asyncio, json, sys, time
from pathlib import Path
from broker.server import start_server
from broker.testing import fast_passwords, test_config

async def main() -> None:
    config = test_config(Path(sys.argv[1]))
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    t0 = time.perf_counter()
    server = await start_server(config, passwords=fast_passwords())
    took = time.perf_counter() - t0
    await server.stop()
    print(json.dumps({"start_ms": took * 1000}))

asyncio.run(main())
"""


def sample(tree: Path, data: Path) -> float:
    """One start of ``tree``'s broker on ``data``, in ms."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["start_ms"])


def main() -> None:
    """Alternate the two trees, print the figures."""
    before, after = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": (before, Path(tmp, "before")), "after": (after, Path(tmp, "after"))}
        for tree, data in trees.values():
            sample(tree, data)  # first start: CA, keys, database (not measured)
        got: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(runs):
            for name, (tree, data) in trees.items():
                got[name].append(sample(tree, data))
    for name, values in got.items():
        print(f"{name}: median {statistics.median(values):.1f} ms, min {min(values):.1f} ms")
    ratio = statistics.median(got["after"]) / statistics.median(got["before"])
    print(f"after/before (median): {ratio:.2f}; runs per tree: {runs}")


if __name__ == "__main__":
    main()
