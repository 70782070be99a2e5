"""The SLA scheduler keeps no state in memory (issue 19): a broker stopped inside an SLA
window and started again on the same data directory (and database) finds the clocks
where the stored history puts them, raises what fell due while it was down — with
its own running loop, not a test's call — and repeats nothing it had done. On
PostgreSQL several nodes' passes at once record and announce each fact once."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from broker.escalation import SLA_SCHEDULER
from broker.sla import escalations as sla_escalations
from broker.sla.scheduler import SlaScheduler
from broker.store import queries
from broker.store.db import DB, Database
from broker.store.sla_models import SlaEscalationModel, SlaMarkModel
from broker.testing import FakeClock, running_broker
from tests.broker.conftest import SLA_EVENTS, outbox, put_contract, subscribe
from tests.helpers import eventually


async def test_a_restart_inside_the_sla_window(tmp_path: Path, clock: FakeClock) -> None:
    async with running_broker(tmp_path, clock=clock) as b:
        admin = await b.login(b.admin_username, b.admin_password)
        await subscribe(b, admin, SLA_EVENTS)
        await put_contract(b, admin, "premium", response_s=600, resolution_s=3600)
        erin_login = await b.create_user("erin", "engineer")
        await b.create_user("sam", "supervisor")
        erin = await b.login(*erin_login)
        _, ticket, _ = await b.request(
            "POST", "/api/v1/tickets", token=erin, json={"title": "Mail", "tier": "premium"}
        )
        tid = ticket["id"]
        for status in ("assigned", "in_progress"):
            await b.request("PATCH", f"/api/v1/tickets/{tid}", token=erin, json={"status": status})
        clock.advance(1800)  # half the resolution time
        first = await b.app[SLA_SCHEDULER].run_once()
        assert len(first.raised) == 1  # the assignee's level
    clock.advance(1080)  # the broker is down while the clock passes 80 %

    async with running_broker(tmp_path, clock=clock, escalation_interval_s=0.05) as b:
        db = b.app[DB]

        async def supervisor_level() -> list[sla_escalations.Escalation] | None:
            found = await sla_escalations.list_escalations(db, ticket_id=tid)
            return found if any(e.target == "supervisor" for e in found) else None

        found: list[sla_escalations.Escalation] = await eventually(
            supervisor_level, timeout=10, what="the 80 % level"
        )
        assert sorted(e.target for e in found) == ["assignee", "supervisor"]
        async with db.sessions() as s:
            marks = list(await s.scalars(select(SlaMarkModel.kind)))
        assert marks == ["resolution.at_risk"]
        [at_risk] = await outbox(b, "sla.at_risk")
        # Dated by the stored history: 80 % of 3600 s after the ticket was created.
        assert at_risk["data"]["sla"]["elapsed_s"] == 2880
        assert len(await outbox(b, "escalation.raised")) == 2
        # Further passes by the running loop add nothing.
        await b.app[SLA_SCHEDULER].run_once()
        assert len(await sla_escalations.list_escalations(db, ticket_id=tid)) == 2
        _, clocks, _ = await b.request(
            "GET", f"/api/v1/tickets/{tid}/sla", token=await b.login(*erin_login)
        )
        resolution = {c["clock"]: c for c in clocks["clocks"]}["resolution"]
        assert resolution["elapsed_s"] == 2880 and resolution["state"] == "running"


@pytest.mark.skipif(
    not os.environ.get("CLEARPANE_TEST_DATABASE_URL"),
    reason="several nodes need a shared PostgreSQL store: run by make test-postgres",
)
async def test_several_nodes_record_each_sla_fact_once(database_url: str) -> None:
    a, b = Database.open(database_url), Database.open(database_url)
    await a.migrate()
    try:
        for i in range(12):
            ticket = await queries.create_ticket(
                a,
                title=f"t{i}",
                description="",
                organisation="",
                tier="premium",
                external_ref=None,
                skills=(),
                created_by=None,
                at=0,
            )
            assert ticket.status == "new"
        now = 30 * 24 * 3600 * 1000  # every clock far past its target
        schedulers = [SlaScheduler(db, FakeClock(now), mail=False) for db in (a, b, a, b)]
        passes = await asyncio.gather(*(s.run_once() for s in schedulers))
        async with a.sessions() as s:
            escalations = await s.scalar(select(func.count()).select_from(SlaEscalationModel))
            marks = await s.scalar(select(func.count()).select_from(SlaMarkModel))
        # Premium's default chain: 4 levels; marks: response and resolution breached.
        assert escalations == 12 * 4 and marks == 12 * 2
        assert sum(len(p.raised) for p in passes) == 12 * 4
        assert sum(not p.skipped for p in passes) >= 1
        assert (await schedulers[0].run_once()).raised == []
    finally:
        await a.close()
        await b.close()
