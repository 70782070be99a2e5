"""Fixtures and helpers of the broker tests, written once (import helpers from here,
never from another test module): a real broker (TLS, store) with a fake clock, the
store URL, and scripted WebSocket peers (:class:`Peer`, :func:`ws_connect`). Set CLEARPANE_TEST_DATABASE_URL to a PostgreSQL server URL
(``postgresql+asyncpg://user@host:port/postgres``) to run the store-backed tests on
PostgreSQL: each test then gets its own fresh database on that server."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

from broker.store import queries
from broker.store.db import DB
from broker.testing import FakeClock, RunningBroker, drop_test_databases, running_broker
from protocol import messages as m
from protocol.media import FLAG_FULL, ScreenUpdateFrame
from tests.helpers import eventually, eventually_blocking

PG_ENV = "CLEARPANE_TEST_DATABASE_URL"
NATS_CONF = Path(__file__).resolve().parents[2] / "deploy" / "cluster" / "nats.conf"


@pytest.fixture(scope="session", autouse=True)
def _drop_broker_databases() -> Iterator[None]:
    """On PostgreSQL, drop the databases that ``running_broker`` made for this run."""
    yield
    if os.environ.get(PG_ENV):
        asyncio.run(drop_test_databases())


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: SQLite in ``tmp_path``, or a new PostgreSQL database
    on the server named by CLEARPANE_TEST_DATABASE_URL (dropped afterwards)."""
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"cp_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock(1_800_000_000_000)


@pytest.fixture
async def broker(
    tmp_path: Path, clock: FakeClock, database_url: str
) -> AsyncIterator[RunningBroker]:
    """The real broker on 127.0.0.1 with TLS, a fake clock and a fresh store."""
    async with running_broker(
        tmp_path, clock=clock, database_url=database_url, login_base_delay_s=10.0
    ) as b:
        yield b


async def staff(
    broker: RunningBroker, username: str, role: str, skills: tuple[str, ...] = ()
) -> str:
    """Create a user and return an access token for them."""
    name, password = await broker.create_user(username, role, skills)
    return await broker.login(name, password)


# -- scripted WebSocket peers (/ws/agent, /ws/viewer) -------------------------------

PROTO = [Subprotocol("clearpane.v1")]


class Peer:
    """A scripted endpoint: sends protocol messages, waits for the ones it expects."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[m.ControlMessage] = []
        self.binary: list[bytes] = []

    async def say(self, msg: m.ControlMessage) -> None:
        await self.ws.send(m.serialize_control(msg))

    async def expect(self, msg_type: str, timeout: float = 5.0) -> Any:
        """Receive until a control message of ``msg_type`` (others are kept in seen)."""
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.ws.recv()
                if isinstance(raw, bytes):
                    self.binary.append(raw)
                    continue
                msg = m.parse_control(raw)
                self.seen.append(msg)
                if msg.type == msg_type:
                    return msg

    async def expect_binary(self, timeout: float = 5.0) -> bytes:
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.ws.recv()
                if isinstance(raw, bytes):
                    return raw
                self.seen.append(m.parse_control(raw))

    async def closed(self, timeout: float = 5.0) -> tuple[int, str]:
        """Drain until the server closes; return (code, reason)."""
        async with asyncio.timeout(timeout):
            try:
                while True:
                    raw = await self.ws.recv()
                    if isinstance(raw, str):
                        self.seen.append(m.parse_control(raw))
            except ConnectionClosed as exc:
                assert exc.rcvd is not None, "the server did not send a close frame"
                return exc.rcvd.code, exc.rcvd.reason

    def errors(self) -> list[str]:
        return [msg.code for msg in self.seen if isinstance(msg, m.ErrorMessage)]


@asynccontextmanager
async def ws_connect(
    b: RunningBroker, path: str, *, origin: str | None = None, subprotocols: Any = PROTO
) -> AsyncIterator[Peer]:
    async with connect(
        b.ws_url + path,
        ssl=b.ssl_context(),
        subprotocols=subprotocols,
        origin=Origin(origin) if origin else None,
        compression=None,
        max_size=None,
        open_timeout=5,
        close_timeout=2,
    ) as ws:
        yield Peer(ws)


async def agent_request(b: RunningBroker) -> tuple[str, str]:
    status, body, _ = await b.request(
        "POST",
        "/api/v1/agent/requests",
        json={"description": "My printer prints blank pages", "client_name": "Alice"},
    )
    assert status == 201, body
    return body["session_id"], body["token"]


async def engineer_token(b: RunningBroker, username: str = "eve") -> str:
    user, password = await b.create_user(username, "engineer", name="Eve Engineer")
    return await b.login(user, password)


async def join(b: RunningBroker, token: str, sid: str, perms: list[str]) -> str:
    status, body, _ = await b.request(
        "POST", f"/api/v1/sessions/{sid}/join", token=token, json={"permissions": perms}
    )
    assert status == 200, body
    return str(body["ws_token"])


def update(seq: int, full: bool = True) -> bytes:
    # fake ciphertext: the broker never decrypts (G8)
    return bytes(ScreenUpdateFrame(FLAG_FULL if full else 0, 1, seq, b"\xab" * 48))


async def wait_for_row(b: RunningBroker, sid: str, state: str) -> queries.SessionInfo:
    """The session's store row once it reaches ``state``."""

    async def row() -> queries.SessionInfo | None:
        found = await queries.get_session(b.app[DB], sid)
        assert found is not None
        return found if found.state == state else None

    return await eventually(row, timeout=5, what=f"session {sid} {state}")


# -- the SLA workflow (issue 19) -----------------------------------------------------

SLA_EVENTS = ["sla.at_risk", "sla.breached", "escalation.raised", "escalation.acknowledged"]
DEFAULT_CHAIN: list[dict[str, Any]] = [
    {"clock": "response", "at": 0.8, "to": "supervisor"},
    {"clock": "resolution", "at": 0.5, "to": "assignee"},
    {"clock": "resolution", "at": 0.8, "to": "supervisor"},
    {"clock": "resolution", "at": 1.0, "to": "owner"},
]


async def subscribe(b: RunningBroker, admin: str, events: list[str]) -> None:
    """A webhook endpoint for ``events`` (its outbox rows are what the tests read)."""
    status, body, _ = await b.request(
        "POST",
        "/api/v1/webhooks",
        token=admin,
        json={"url": "https://helpdesk.example.com/hook", "events": events},
    )
    assert status == 201, body


async def outbox(b: RunningBroker, event_type: str) -> list[dict[str, Any]]:
    """The bodies of the webhook events of ``event_type`` queued so far, oldest first."""
    import json

    from sqlalchemy import select

    from broker.store.webhook_models import WebhookOutboxModel

    async with b.app[DB].sessions() as s:
        rows = await s.scalars(
            select(WebhookOutboxModel.body)
            .where(WebhookOutboxModel.event_type == event_type)
            .order_by(WebhookOutboxModel.created_at_ms, WebhookOutboxModel.id)
        )
        return [json.loads(body) for body in rows]


async def put_contract(
    b: RunningBroker,
    admin: str,
    tier: str,
    *,
    response_s: int,
    resolution_s: int,
    calendar: str | None = None,
    pause: tuple[str, ...] = ("pending_vendor", "waiting_for_client"),
    chain: list[dict[str, Any]] | None = None,
    remind_after_s: int | None = None,
) -> dict[str, Any]:
    """Replace ``tier``'s contract with one target for every priority."""
    body: dict[str, Any] = {
        "pause_statuses": list(pause),
        "at_risk_fraction": 0.8,
        "chain": DEFAULT_CHAIN if chain is None else chain,
        "targets": {"normal": {"response_s": response_s, "resolution_s": resolution_s}},
    }
    if calendar is not None:
        body["calendar"] = calendar
    if remind_after_s is not None:
        body["remind_after_s"] = remind_after_s
    status, answer, _ = await b.request(
        "PUT", f"/api/v1/sla/contracts/{tier}", token=admin, json=body
    )
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


def _accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
    except OSError:
        return False
    return True


@pytest.fixture
def nats_url() -> Iterator[str]:
    """A real nats-server (Debian's, the cluster's config) on a free loopback port."""
    if shutil.which("nats-server") is None:
        pytest.fail("nats-server is missing: make system-deps installs it")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["nats-server", "-c", str(NATS_CONF), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    eventually_blocking(lambda: _accepts(port), what="nats-server to listen")
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(5)
