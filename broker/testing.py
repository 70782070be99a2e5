"""Test helpers for everyone who needs a broker: :func:`running_broker` starts the
REAL broker (TLS from certs.bootstrap, SQLite, 127.0.0.1, random port) in the current
event loop; :class:`FakeClock` lets tests move time without sleeping.

A new SQLite store starts as a copy of one migrated in this process
(:func:`seed_migrated_sqlite`): Alembic's ``upgrade head`` runs once per test process
instead of once per broker (≈ 0.3–0.5 s each); the broker still runs its migrations at
start, which find nothing to do. The migrations themselves are tested from an empty
database in tests/broker/test_store.py.

With ``CLEARPANE_TEST_DATABASE_URL`` set (``make test-postgres``), a broker started
without an explicit ``database_url`` gets its own PostgreSQL database instead of SQLite,
named after its data directory (so a restart on the same folder finds its data);
:func:`drop_test_databases` removes them at the end of the run.

Usage (pytest, asyncio_mode=auto)::

    async def test_x(tmp_path):
        async with running_broker(tmp_path) as b:
            token = await b.login(b.admin_username, b.admin_password)
            async with b.client() as http:
                async with http.get(b.base_url + "/api/v1/me",
                                    headers={"Authorization": f"Bearer {token}"}) as r:
                    ...
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import ssl
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from argon2 import PasswordHasher

from broker.auth.passwords import PASSWORDS, PasswordService, random_password
from broker.clock import CLOCK, SystemClock
from broker.config import CONFIG, BrokerConfig
from broker.server import FIRST_ADMIN, RunningServer, start_server
from broker.store import queries
from broker.store.db import DB, Database
from certs.store import CaStore

__all__ = [
    "FakeClock",
    "FakeRelay",
    "RunningBroker",
    "drop_test_databases",
    "fast_passwords",
    "postgres_test_database",
    "running_broker",
    "seed_migrated_sqlite",
    "test_config",
]


class FakeClock:
    """A clock that only moves when told (epoch milliseconds)."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now = start_ms if start_ms is not None else SystemClock().now_ms()

    def now_ms(self) -> int:
        """The current fake time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self._now += int(seconds * 1000)


class FakeRelay:
    """Stands in for the relay in API tests: records ``end_session`` calls and marks
    the session ended in the store as the real relay does."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self.ended: list[tuple[str, str, str | None, str | None]] = []
        self.notices: list[tuple[str, str, dict[str, Any]]] = []

    async def end_session(
        self, sid: str, *, reason: str, by: queries.User | None, resolution: str | None
    ) -> bool:
        """Record the call and end the session in the store."""
        self.ended.append((sid, reason, by.id if by else None, resolution))
        app = self._app
        await queries.mark_ended(app[DB], sid, reason, app[CLOCK].now_ms(), resolution)
        return True

    async def notice(self, sid: str, event: str, detail: dict[str, Any]) -> bool:
        """Record the notice (no session is live in a fake relay)."""
        self.notices.append((sid, event, detail))
        return False


def fast_passwords() -> PasswordService:
    """argon2id with small cost parameters: real hashing, fast enough for tests.
    Never use outside tests."""
    return PasswordService(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))


def test_config(data_dir: Path, **overrides: Any) -> BrokerConfig:
    """A config for tests: data in ``data_dir``, 127.0.0.1, a random port, TLS on."""
    base = BrokerConfig(
        data_dir=data_dir,
        host="127.0.0.1",
        port=0,
        hostnames=("localhost",),
        ip_addresses=("127.0.0.1",),
        escalation_interval_s=3600.0,  # tests call Escalator.run_once() themselves
        routing_interval_s=3600.0,  # routing runs on events; tests call Router.run_once()
    )
    return base.with_overrides(**overrides) if overrides else base


test_config.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


@dataclass
class RunningBroker:
    """What :func:`running_broker` yields (CONTRACTS.md)."""

    server: RunningServer
    base_url: str
    ws_url: str
    ca_cert_path: Path
    admin_username: str
    admin_password: str
    _ssl: ssl.SSLContext = field(repr=False)
    _http: aiohttp.ClientSession | None = field(default=None, repr=False)

    @property
    def app(self) -> web.Application:
        """The running aiohttp application."""
        return self.server.app

    @property
    def config(self) -> BrokerConfig:
        """The broker's configuration."""
        return self.app[CONFIG]

    @property
    def data_dir(self) -> Path:
        """The broker's data directory."""
        return self.config.data_dir

    def ca_store(self) -> CaStore:
        """The broker's CA (passphrase from the data directory), to issue or revoke."""
        return CaStore(self.data_dir, None)

    @property
    def enrollment_path(self) -> Path:
        """``DATA_DIR/enrollment.json``."""
        return self.server.enrollment_path

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts only the broker's CA."""
        return self._ssl

    def client(self, **kwargs: Any) -> aiohttp.ClientSession:
        """An HTTP client session that trusts the broker's CA (caller closes it)."""
        connector = aiohttp.TCPConnector(ssl=self._ssl)
        return aiohttp.ClientSession(connector=connector, **kwargs)

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        data: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        """One HTTPS request to ``base_url + path``; returns ``(status, parsed JSON or
        text, headers)``. ``token`` is sent as a bearer token."""
        if self._http is None:
            self._http = self.client()
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        async with self._http.request(
            method, self.base_url + path, json=json, data=data, headers=all_headers
        ) as response:
            body: Any
            if response.content_type == "application/json":
                body = await response.json()
            else:
                body = await response.text()
            return response.status, body, response.headers

    async def create_user(
        self,
        username: str,
        role: str,
        skills: Sequence[str] = (),
        *,
        name: str | None = None,
        password: str | None = None,
        organisations: Sequence[str] = (),
    ) -> tuple[str, str]:
        """Add a user directly in the store; return ``(username, password)``.
        ``organisations``: whose tickets an engineer sees (broker/auth/policy.py)."""
        password = password or random_password()
        app = self.app
        await queries.create_user(
            app[DB],
            username=username,
            name=name or username.title(),
            role=role,
            skills=list(skills),
            organisations=list(organisations),
            password_hash=await app[PASSWORDS].hash_async(password),
            at=app[CLOCK].now_ms(),
        )
        return username, password

    async def login(self, username: str, password: str) -> str:
        """Log in over HTTPS; return the access token (raises on failure)."""
        async with (
            self.client() as http,
            http.post(
                self.base_url + "/api/v1/auth/login",
                json={"username": username, "password": password},
            ) as response,
        ):
            data = await response.json()
            if response.status != 200:
                raise AssertionError(f"login failed: {response.status} {data}")
            token = data["token"]
            assert isinstance(token, str)
            return token


PG_TEST_ENV = "CLEARPANE_TEST_DATABASE_URL"
_created_databases: list[str] = []  # drop_test_databases() removes these


def _admin_dsn(server_url: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def postgres_test_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the PostgreSQL server of ``server_url`` unless it
    exists; return its SQLAlchemy URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    conn = await asyncpg.connect(_admin_dsn(server_url))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
            _created_databases.append(name)
    finally:
        await conn.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_test_databases() -> None:
    """Drop the databases :func:`running_broker` created on PostgreSQL."""
    server_url = os.environ.get(PG_TEST_ENV)
    if not server_url or not _created_databases:
        return
    import asyncpg

    conn = await asyncpg.connect(_admin_dsn(server_url))
    try:
        while _created_databases:
            name = _created_databases.pop()
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


_template_dir: tempfile.TemporaryDirectory[str] | None = None  # kept until the process ends


async def seed_migrated_sqlite(url: str) -> bool:
    """If ``url`` names an SQLite file that does not exist yet, create it as a copy of a
    store migrated to head once per process (SQLite's backup API: a consistent copy);
    True if it did. The template is made by the real migrations and never handed out,
    so what one test writes never reaches another."""
    global _template_dir
    if not url.startswith("sqlite+aiosqlite:///"):
        return False
    target = Path(url.removeprefix("sqlite+aiosqlite:///"))
    if target.exists():
        return False
    if _template_dir is None:
        holder = tempfile.TemporaryDirectory(prefix="clearpane-schema-")
        db = Database.open(f"sqlite+aiosqlite:///{holder.name}/template.db")
        try:
            await db.migrate()
        finally:
            await db.close()
        _template_dir = holder
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        sqlite3.connect(Path(_template_dir.name) / "template.db") as src,
        sqlite3.connect(target) as dst,
    ):
        src.backup(dst)
    src.close()
    dst.close()
    return True


@asynccontextmanager
async def running_broker(tmp_path: Path, **overrides: Any) -> AsyncIterator[RunningBroker]:
    """Start the real broker under ``tmp_path/broker-data``; ``overrides`` replace
    config fields, except ``clock`` and ``passwords`` which are passed to
    :func:`broker.app.create_app` (by default a cheap argon2id, see
    :func:`fast_passwords`). The first admin's one-time password need not be changed
    unless ``keep_first_password=True``."""
    clock = overrides.pop("clock", None)
    passwords = overrides.pop("passwords", None) or fast_passwords()
    server_url = os.environ.get(PG_TEST_ENV)
    if server_url and "database_url" not in overrides:
        data_dir = str((tmp_path / "broker-data").resolve())
        name = "cp_rb_" + hashlib.sha256(data_dir.encode()).hexdigest()[:16]
        overrides["database_url"] = await postgres_test_database(server_url, name)
    keep_first_password = bool(overrides.pop("keep_first_password", False))
    config = test_config(tmp_path / "broker-data", **overrides)
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    await seed_migrated_sqlite(config.effective_database_url)
    server = await start_server(config, clock=clock, passwords=passwords)
    try:
        assert server.ca_cert_path is not None
        # A restart on a used data directory has no new first admin (its password was
        # shown once, at the first start): tests then sign in as users they made.
        restarted = server.first_admin is None
        first_admin = server.first_admin or (FIRST_ADMIN, "")
        base_url = f"https://127.0.0.1:{server.port}"
        ctx = ssl.create_default_context(cafile=str(server.ca_cert_path))
        broker = RunningBroker(
            server=server,
            base_url=base_url,
            ws_url=f"wss://127.0.0.1:{server.port}",
            ca_cert_path=server.ca_cert_path,
            admin_username=first_admin[0],
            admin_password=first_admin[1],
            _ssl=ctx,
        )
        if not keep_first_password and not restarted:
            # Tests sign in as the first admin directly; the forced change has its own test.
            admin = await queries.get_user_by_username(server.app[DB], first_admin[0])
            assert admin is not None
            await queries.update_user(server.app[DB], admin.id, must_change_password=False)
        yield broker
    finally:
        if broker._http is not None:
            await broker._http.close()
        await server.stop()
