"""A local Clearpane cluster: NATS, N broker processes on the NATS relay backend, and
HAProxy (TLS passthrough, round robin, no stickiness) in front, on one PostgreSQL.

``make cluster`` runs it until Ctrl-C (on a throwaway PostgreSQL from
tools/with_postgres.sh); tests/cluster and bench P9 use :class:`LocalCluster`.
Configuration files: deploy/cluster/ (the ones docs/operations.md §6 describes).

Usage: ``python -m tools.cluster [--nodes 2] [--database-url URL] [--port 9443]``
(the database URL defaults to ``CLEARPANE_DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "cluster"
__all__ = ["LocalCluster", "Node", "free_port"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@dataclass
class Node:
    """One broker process."""

    name: str
    port: int
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def saw(self, pattern: str) -> bool:
        """Whether the broker's output has a line matching ``pattern``."""
        return any(re.search(pattern, line) for line in list(self.lines))


class LocalCluster:
    """Start with :meth:`start`, stop with :meth:`stop` (or use ``with``)."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        *,
        nodes: int = 2,
        lb_port: int | None = None,
        event_loop: str = "auto",
        log_level: str = "INFO",
        route_viewers: bool = True,
        nats_ports: dict[int, int] | None = None,
    ) -> None:
        if nodes != 2:
            raise ValueError("deploy/cluster/haproxy.cfg lists two nodes")
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"  # shared by every node (shared storage)
        self.database_url = database_url
        self.lb_port = lb_port or free_port()
        self.pin_ports = [free_port(), free_port()]
        self.nats_port = free_port()
        self.node_ports = [free_port() for _ in range(nodes)]
        self.event_loop = event_loop
        self.log_level = log_level
        self.route_viewers = route_viewers
        """Whether each node has a ``CLEARPANE_NODE_URL`` (its pinned frontend), so a
        viewer's join names the session's node (False: every viewer through round robin)."""
        self.nats_ports = dict(nats_ports or {})
        """Per node index, another port for its NATS link (a test's fault proxy)."""
        self.nodes: list[Node] = []
        self.admin: tuple[str, str] | None = None
        self._nats: subprocess.Popen[str] | None = None
        self._haproxy: subprocess.Popen[str] | None = None
        self._haproxy_log: Any = None

    # -- addresses -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The load balancer's URL (what agents and browsers use)."""
        return f"https://127.0.0.1:{self.lb_port}"

    def pinned_url(self, index: int) -> str:
        """A URL through HAProxy that always reaches node ``index`` (tests only)."""
        return f"https://127.0.0.1:{self.pin_ports[index]}"

    @property
    def nats_pid(self) -> int:
        """The nats-server's process id (bench P9 counts its CPU)."""
        assert self._nats is not None
        return self._nats.pid

    @property
    def ca_file(self) -> Path:
        """The organisation root every node's certificate chains to."""
        return self.data_dir / "ca" / "root.pem"

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> LocalCluster:
        """NATS, then the nodes one after the other (the first creates the PKI), then
        HAProxy. On failure whatever started is stopped."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._nats = subprocess.Popen(
            ["nats-server", "-c", str(DEPLOY / "nats.conf"), "-a", "127.0.0.1",
             "-p", str(self.nats_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        _wait_port(self.nats_port, 10, self._nats)
        for i in range(len(self.node_ports)):
            self.nodes.append(self._start_node(i))
        env = {
            **os.environ,
            "CLEARPANE_LB_BIND": f"127.0.0.1:{self.lb_port}",
            "CLEARPANE_PIN1_BIND": f"127.0.0.1:{self.pin_ports[0]}",
            "CLEARPANE_PIN2_BIND": f"127.0.0.1:{self.pin_ports[1]}",
            "CLEARPANE_NODE1": f"127.0.0.1:{self.node_ports[0]}",
            "CLEARPANE_NODE2": f"127.0.0.1:{self.node_ports[1]}",
        }
        # HAProxy's own messages (a node going down, a failed check) for a test to read.
        self._haproxy_log = open(self.workdir / "haproxy.log", "w")  # noqa: SIM115 - kept open
        self._haproxy = subprocess.Popen(
            ["haproxy", "-db", "-f", str(DEPLOY / "haproxy.cfg"),
             "-f", str(DEPLOY / "haproxy-pinned.cfg")],
            env=env, stdout=self._haproxy_log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        _wait_port(self.lb_port, 10, self._haproxy)
        return self

    def _start_node(self, index: int) -> Node:
        name = f"node{index + 1}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "CLEARPANE_DATA_DIR": str(self.data_dir),
            "CLEARPANE_DATABASE_URL": self.database_url,
            "CLEARPANE_RELAY_BACKEND": "nats",
            "CLEARPANE_NATS_URL": f"nats://127.0.0.1:{self.nats_ports.get(index, self.nats_port)}",
            "CLEARPANE_NODE_ID": name,
            "CLEARPANE_HOST": "127.0.0.1",
            "CLEARPANE_PORT": str(self.node_ports[index]),
            "CLEARPANE_PUBLIC_URL": self.url,
            "CLEARPANE_EVENT_LOOP": self.event_loop,
            "CLEARPANE_LOG_LEVEL": self.log_level,
            "CLEARPANE_AGENT_REQUESTS_PER_MINUTE": "100000",
        }
        if self.route_viewers:
            env["CLEARPANE_NODE_URL"] = self.pinned_url(index)
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "broker"],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        node = Node(name, self.node_ports[index], proc)
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                node.lines.append(line.rstrip("\n"))
                if line.startswith("Enrollment file for agents"):  # printed last
                    ready.set()
            ready.set()

        threading.Thread(target=read, name=f"{name} output", daemon=True).start()
        if not ready.wait(60) or proc.poll() is not None:
            raise RuntimeError(f"{name} did not start:\n" + "\n".join(node.lines[-30:]))
        for i, line in enumerate(node.lines):
            if line.strip().startswith("username:") and i + 1 < len(node.lines):
                self.admin = (
                    line.split(":", 1)[1].strip(),
                    node.lines[i + 1].split(":", 1)[1].strip(),
                )
        return node

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` (a crash: nothing is flushed or told)."""
        proc = self.nodes[index].proc
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        """Stop everything (brokers gracefully, then the rest)."""
        for node in self.nodes:
            if node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes:
            try:
                node.proc.wait(15)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
        for proc in (self._haproxy, self._nats):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._haproxy_log is not None:
            self._haproxy_log.close()
            self._haproxy_log = None

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run a local cluster until Ctrl-C."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--port", type=int, default=9443, help="the load balancer's port")
    ap.add_argument("--database-url", default=os.environ.get("CLEARPANE_DATABASE_URL")
                    or os.environ.get("CLEARPANE_TEST_DATABASE_URL"))  # fmt: skip
    ap.add_argument("--workdir", help="keep data here (default: a temporary folder)")
    args = ap.parse_args(argv)
    if not args.database_url:
        print("need --database-url or CLEARPANE_DATABASE_URL (PostgreSQL)", file=sys.stderr)
        return 2
    for tool in ("nats-server", "haproxy"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: make system-deps installs it", file=sys.stderr)
            return 2
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="cp-cluster-"))
    cluster = LocalCluster(workdir, args.database_url, nodes=args.nodes, lb_port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with cluster:
        print(f"Clearpane cluster: {args.nodes} brokers on NATS behind HAProxy at {cluster.url}")
        print(f"  data (shared by the nodes): {cluster.data_dir}")
        if cluster.admin:
            print(f"  first admin: {cluster.admin[0]} / {cluster.admin[1]}")
        print(f"  agents enroll with {cluster.data_dir / 'enrollment.json'}; Ctrl-C stops")
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
