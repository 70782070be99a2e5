"""Fixtures for the broker-platform tests: a real broker (TLS, store) with a fake
clock, and the store URL. Set CLEARPANE_TEST_DATABASE_URL to a PostgreSQL server URL
(``postgresql+asyncpg://user@host:port/postgres``) to run the store-backed tests on
PostgreSQL: each test then gets its own fresh database on that server."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from broker.testing import FakeClock, RunningBroker, drop_test_databases, running_broker

PG_ENV = "CLEARPANE_TEST_DATABASE_URL"


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
