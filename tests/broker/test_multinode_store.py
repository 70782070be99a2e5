"""Several broker nodes on one PostgreSQL store (DESIGN §8): migrations under an
advisory lock, the webhook outbox delivered once, the escalation check run once.

These need a PostgreSQL server: ``make test-postgres`` (and CI) runs them with
``CLEARPANE_TEST_DATABASE_URL`` set; SQLite is one process's embedded store, where
there is no second node to race with."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import func, select

from broker.escalation import Escalator
from broker.store import queries
from broker.store.db import Database
from broker.store.models import EscalationModel
from broker.store.webhook_models import add_outbox_rows, create_endpoint
from broker.testing import FakeClock
from broker.webhooks.delivery import DeliverySettings, WebhookDispatcher

pytestmark = pytest.mark.skipif(
    not os.environ.get("CLEARPANE_TEST_DATABASE_URL"),
    reason="several nodes need a shared PostgreSQL store: run by make test-postgres",
)

ROOT = Path(__file__).resolve().parents[2]
NODE = """
import asyncio, sys
from broker.store.db import Database

async def main() -> None:
    db = Database.open(sys.argv[1])
    await db.migrate()
    await db.close()

asyncio.run(main())
"""


@pytest.fixture
async def nodes(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two nodes' handles on one migrated database."""
    a, b = Database.open(database_url), Database.open(database_url)
    await a.migrate()
    yield a, b
    await a.close()
    await b.close()


def test_three_nodes_migrate_an_empty_database_at_once(database_url: str) -> None:
    # Real processes: Alembic's context is per process, as it is for real nodes.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", NODE, database_url],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors


class _Receiver:
    """A transport that records every POST and lets the other node run meanwhile."""

    def __init__(self) -> None:
        self.posted: list[str] = []

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float
    ) -> int:
        self.posted.append(headers["X-Clearpane-Delivery"])
        await asyncio.sleep(0.001)  # sleep-ok: a receiver that takes a moment, like a real one
        return 204


async def test_two_nodes_deliver_each_webhook_once(nodes: tuple[Database, Database]) -> None:
    a, b = nodes
    clock = FakeClock(1_000_000)
    endpoint = await create_endpoint(
        a,
        url="https://hooks.example/x",
        events=["session.ended"],
        secret="s" * 32,
        description="",
        created_by=None,
        at=clock.now_ms(),
    )
    ids: list[str] = []
    async with a.sessions.begin() as s:
        for i in range(60):
            ids += await s.run_sync(
                lambda ss, i=i: add_outbox_rows(
                    ss,
                    event_id=f"e{i}",
                    event_type="session.ended",
                    subject_id=f"s{i}",
                    body="{}",
                    at=clock.now_ms(),
                )
            )
    assert len(ids) == 60 and endpoint.id
    receiver = _Receiver()
    settings = DeliverySettings(batch=7, concurrency=3)
    workers = [WebhookDispatcher(db, clock, receiver, settings) for db in (a, b)]
    delivered = await asyncio.gather(*(w.deliver_due() for w in workers))
    assert sorted(receiver.posted) == sorted(ids)  # every one, none twice
    assert sum(delivered) == 60
    assert all(d > 0 for d in delivered), "both nodes took part"


async def test_two_nodes_record_each_escalation_once(nodes: tuple[Database, Database]) -> None:
    a, b = nodes
    for i in range(20):
        await queries.create_request(
            a, description=f"r{i}", client_name="C", organisation="", tier="premium", at=0
        )
    now = 10**9  # far past every deadline
    escalators = [
        Escalator(db, FakeClock(now), fraction=0.5, interval_s=3600) for db in (a, b, a, b)
    ]
    results = await asyncio.gather(*(e.run_once() for e in escalators))
    assert sum(len(r) for r in results) == 20
    async with a.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(EscalationModel)) == 20
    assert await escalators[1].run_once() == []  # nothing left to escalate
