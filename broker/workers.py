"""``clearpane broker --workers N``: one broker process per core on one machine
(docs/operations.md §6.6).

Decided: the workers **share the one port with SO_REUSEPORT** (the kernel spreads new
connections over them, no load balancer needed) **and each also listens on its own
port** (``port + 1 + i``): that is the worker's node address (``CLEARPANE_NODE_URL``),
which a viewer's join answers so that the viewer lands on the worker holding its
session and the frames stay in one process (SO_REUSEPORT alone cannot send a
connection to a chosen process). Behind HAProxy, list the workers' own ports as
servers (health checks reach each one) or the shared port.

The workers run the NATS relay backend on one shared PostgreSQL store (the config check
insists). This supervisor starts worker 0 first (a first start creates the PKI, the
token keys and the first admin, printed once), then the others; it forwards their
output with a ``[wI]`` prefix and SIGINT/SIGTERM to all. A worker that dies is started
again under a new node id (``…-wI-gG``): the other workers see the old id's heartbeat
stop and end its sessions cleanly (node failure, §6.2), which a reused id would hide.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from broker.config import BrokerConfig

__all__ = ["WORKER_FLAG", "run_workers", "worker_node_url", "worker_port"]

WORKER_FLAG = "--worker-index"
"""The hidden flag that makes ``clearpane broker`` one worker of a supervisor."""
READY_LINE = "Enrollment file for agents"
"""The last line a broker prints once it serves."""
RESTART_DELAY_S = 1.0


def worker_port(config: BrokerConfig, index: int) -> int:
    """Worker ``index``'s own port: right after the shared one."""
    return config.port + 1 + index


def worker_node_url(config: BrokerConfig, index: int) -> str:
    """Worker ``index``'s address for viewers: ``CLEARPANE_NODE_URL`` with ``{port}``
    replaced by its own port, else the public URL's host with that port."""
    port = worker_port(config, index)
    if config.node_url:
        return config.node_url.replace("{port}", str(port))
    parts = urlsplit(config.broker_url())
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return urlunsplit((parts.scheme, f"{host}:{port}", "", "", ""))


@dataclass
class _Worker:
    index: int
    generation: int = 0
    proc: subprocess.Popen[str] | None = None
    ready: threading.Event = field(default_factory=threading.Event)


def run_workers(config: BrokerConfig, workers: int, argv: Sequence[str]) -> int:
    """Supervise ``workers`` broker processes (module docstring); ``argv`` are the
    ``clearpane broker`` arguments to pass on (without ``--workers``)."""
    if config.relay_backend != "nats":
        print(
            "clearpane broker: --workers needs CLEARPANE_RELAY_BACKEND=nats (and a "
            "PostgreSQL CLEARPANE_DATABASE_URL): the workers share sessions over NATS",
            file=sys.stderr,
        )
        return 2
    if config.port == 0:
        print("clearpane broker: --workers needs a fixed --port", file=sys.stderr)
        return 2
    base = config.node_id or socket.gethostname()
    pool = [_Worker(i) for i in range(workers)]
    stopping = threading.Event()

    def start(worker: _Worker) -> None:
        env = {
            **os.environ,
            "CLEARPANE_NODE_ID": f"{base}-w{worker.index}"
            + (f"-g{worker.generation}" if worker.generation else ""),
            "CLEARPANE_NODE_URL": worker_node_url(config, worker.index),
            # Every worker's public address is the shared port (the pages' origin, which
            # a viewer's WebSocket to a worker's own port is checked against).
            "CLEARPANE_PUBLIC_URL": config.broker_url(),
            "PYTHONUNBUFFERED": "1",
        }
        worker.ready.clear()
        worker.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "broker", *argv, WORKER_FLAG, str(worker.index)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=_forward, args=(worker,), daemon=True).start()

    def stop_all(*_: object) -> None:
        stopping.set()
        for w in pool:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    for worker in pool:  # one after the other: the first may create the PKI
        start(worker)
        while not worker.ready.wait(0.2):
            if stopping.is_set() or (worker.proc is not None and worker.proc.poll() is not None):
                stop_all()
                _wait_all(pool)
                return 1
    print(f"Clearpane broker: {workers} workers on port {config.port}", flush=True)
    while not stopping.is_set():
        for worker in pool:
            if worker.proc is not None and worker.proc.poll() is not None and not stopping.is_set():
                print(
                    f"[w{worker.index}] exited with {worker.proc.returncode}; starting it again",
                    flush=True,
                )
                time.sleep(RESTART_DELAY_S)
                worker.generation += 1
                start(worker)
        stopping.wait(0.5)
    return _wait_all(pool)


def _forward(worker: _Worker) -> None:
    """Print a worker's output with its prefix; note when it serves."""
    proc = worker.proc
    assert proc is not None and proc.stdout is not None
    for line in proc.stdout:
        print(f"[w{worker.index}] {line.rstrip()}", flush=True)
        if line.startswith(READY_LINE):
            worker.ready.set()


def _wait_all(pool: Sequence[_Worker]) -> int:
    code = 0
    for worker in pool:
        if worker.proc is None:
            continue
        try:
            worker.proc.wait(30)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()
        code = code or (worker.proc.returncode if worker.proc.returncode > 0 else 0)
    return code
