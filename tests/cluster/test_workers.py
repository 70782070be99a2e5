"""``clearpane broker --workers 2`` (one machine, one process per core): both workers
serve the one port (SO_REUSEPORT) and each its own; a viewer's join sends it to the
worker holding the session; a worker that dies is started again under a new node id;
SIGTERM stops them all. Real processes, real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from broker.testing import drop_test_databases, postgres_test_database
from protocol import messages as m
from protocol.media import ScreenUpdateFrame, parse_binary
from tests.broker.conftest import update
from tests.cluster.testing import Api, start_session, ws
from tests.helpers import eventually, eventually_blocking
from tools.cluster import DEPLOY, ROOT, free_port

PG_ENV = "CLEARPANE_TEST_DATABASE_URL"


def _three_free_ports() -> int:
    """A port P with P, P+1 and P+2 free (the shared port and two workers' own)."""
    for _ in range(50):
        port = free_port()
        try:
            for p in (port, port + 1, port + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no three consecutive free ports")


class Supervisor:
    """``clearpane broker --workers 2`` as a subprocess, its output kept."""

    def __init__(self, workdir: Path, database_url: str, nats_port: int) -> None:
        self.port = _three_free_ports()
        self.data_dir = workdir / "data"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
               "CLEARPANE_DATA_DIR": str(self.data_dir), "CLEARPANE_DATABASE_URL": database_url,
               "CLEARPANE_RELAY_BACKEND": "nats", "CLEARPANE_NATS_URL": f"nats://127.0.0.1:{nats_port}",
               "CLEARPANE_NODE_ID": "box", "CLEARPANE_HOST": "127.0.0.1",
               "CLEARPANE_LOG_LEVEL": "INFO"}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "broker", "--workers", "2", "--port", str(self.port)],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in list(self.lines))

    def admin(self) -> tuple[str, str]:
        user = next(x for x in self.lines if "username:" in x).split(":", 1)[1].strip()
        pw = next(x for x in self.lines if "password:" in x).split(":", 1)[1].strip()
        return user, pw

    def url(self, port: int | None = None) -> str:
        return f"https://127.0.0.1:{port or self.port}"


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        pytest.skip("the workers share a PostgreSQL store: make test-postgres runs it")
    if shutil.which("nats-server") is None:
        pytest.fail("nats-server is missing: make system-deps installs it")
    nats_port = free_port()
    nats = subprocess.Popen(
        ["nats-server", "-c", str(DEPLOY / "nats.conf"), "-a", "127.0.0.1", "-p", str(nats_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = asyncio.run(postgres_test_database(server_url, f"cp_workers_{uuid.uuid4().hex[:10]}"))
    sup = Supervisor(tmp_path, url, nats_port)
    try:
        eventually_blocking(lambda: sup.saw(r"2 workers on port"), timeout=90,
                            what="both workers serving")  # fmt: skip
        yield sup
    finally:
        if sup.proc.poll() is None:
            sup.proc.send_signal(signal.SIGTERM)
            try:
                sup.proc.wait(40)
            except subprocess.TimeoutExpired:
                sup.proc.kill()
                sup.proc.wait()
        nats.terminate()
        nats.wait(5)
        asyncio.run(drop_test_databases())


async def _node(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url + "/api/v1/health") as r:
        body = await r.json()
        return body.get("node") if r.status == 200 else None


async def test_two_workers_serve_one_port_and_their_own(supervisor: Supervisor) -> None:
    sup = supervisor
    ctx = ssl.create_default_context(cafile=str(sup.data_dir / "ca" / "root.pem"))
    # A new connection each time, so the kernel picks a worker each time.
    connector = aiohttp.TCPConnector(ssl=ctx, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        own = [await _node(http, sup.url(sup.port + 1 + i)) for i in (0, 1)]
        assert own == ["box-w0", "box-w1"]
        shared = {await _node(http, sup.url()) for _ in range(30)}
        assert shared == {"box-w0", "box-w1"}, shared  # SO_REUSEPORT spreads them

        # A session: the agent on the shared port, the viewer where its join says.
        # (Api and start_session need a cluster's url, CA file and admin: duck-typed.)
        box = SimpleNamespace(url=sup.url(), ca_file=sup.data_dir / "ca" / "root.pem",
                              admin=sup.admin())  # fmt: skip
        api = Api(box)
        try:
            _, eng = await api.engineer(box)
            async with ws(sup.url(), "/ws/agent", api.ssl) as agent:
                sid, _ = await start_session(api, box, eng, agent, ["view"])
                join = await api.call("POST", f"/sessions/{sid}/join", eng, {})
                worker_url = join["ws_url"].removesuffix("/ws/viewer").replace("wss:", "https:")
                assert worker_url in (sup.url(sup.port + 1), sup.url(sup.port + 2))
                async with ws(worker_url, "/ws/viewer", api.ssl, origin=sup.url()) as viewer:
                    await viewer.say(m.Hello(token=join["ws_token"], client="test-viewer"))
                    vid = (await viewer.expect("welcome")).viewer_id
                    req = await agent.expect("consent.request")
                    await agent.say(m.ConsentGrant(request_id=req.request_id, viewer_id=vid,
                                                   permissions=("view",)))  # fmt: skip
                    await viewer.expect("consent.grant")
                    await agent.ws.send(update(1, full=True))
                    frame = parse_binary(await viewer.expect_binary())
                    assert isinstance(frame, ScreenUpdateFrame) and frame.seq == 1
            assert not sup.saw(rf"session {sid}: .* attached to its home")  # one process
        finally:
            await api.http.close()

        # A worker that dies is started again, under a new node id.
        os.kill(_pid_of(sup, 1), signal.SIGKILL)

        async def restarted() -> bool:
            try:
                return await _node(http, sup.url(sup.port + 2)) == "box-w1-g1"
            except aiohttp.ClientError:
                return False

        await eventually(restarted, timeout=60, interval=0.3, what="worker 1 started again")
    sup.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(sup.proc.wait, 40) == 0


def _pid_of(sup: Supervisor, index: int) -> int:
    """Worker ``index``'s process id (a child of the supervisor, by its command line)."""
    out = subprocess.run(["pgrep", "-P", str(sup.proc.pid), "-f", f"worker-index {index}$"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return int(out.stdout.split()[0])
