"""The SLA escalation task: a waiting request that passed the configured fraction of
its deadline is recorded as an escalation, which supervisors see in
``GET /api/v1/escalations``. Runs in a cleanup context; the clock is injected."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from broker.clock import CLOCK, Clock
from broker.config import CONFIG
from broker.store import queries
from broker.store.db import DB, Database

__all__ = ["ESCALATOR", "Escalator", "escalation_ctx"]

log = logging.getLogger(__name__)

# The running escalation checker (created by escalation_ctx).
ESCALATOR = web.AppKey["Escalator"]("escalator")


class Escalator:
    """Checks the queue every ``interval_s`` seconds."""

    def __init__(self, db: Database, clock: Clock, *, fraction: float, interval_s: float) -> None:
        self._db = db
        self._clock = clock
        self._fraction = fraction
        self._interval_s = interval_s

    async def run_once(self) -> list[queries.Escalation]:
        """Record escalations that are due now; return the new ones."""
        new = await queries.record_due_escalations(
            self._db, now=self._clock.now_ms(), fraction=self._fraction
        )
        for e in new:
            log.info("escalated session %s (deadline %d)", e.session_id, e.deadline_ms)
        return new

    async def run(self) -> None:
        """Check forever; a failed check is logged and retried next interval."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("escalation check failed")
            await asyncio.sleep(self._interval_s)


async def escalation_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: start the escalation task, cancel it on shutdown."""
    config = app[CONFIG]
    escalator = Escalator(
        app[DB],
        app[CLOCK],
        fraction=config.sla_escalation_fraction,
        interval_s=config.escalation_interval_s,
    )
    app[ESCALATOR] = escalator
    task = asyncio.create_task(escalator.run(), name="clearpane-escalation")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
