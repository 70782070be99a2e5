"""The scheduler task (DESIGN §8, §10): every ``escalation_interval_s`` it runs

* the **queue check** (:class:`Escalator`): a waiting request that passed the
  configured fraction of its time to answer is recorded as an escalation, which
  supervisors see in ``GET /api/v1/escalations``; and
* the **SLA pass** (:class:`broker.sla.scheduler.SlaScheduler`): response and
  resolution clocks of open tickets, escalation chains, closure.

When either escalates a waiting session to supervisors, the client is told in the
session's log (``session.escalated``: "your request was passed to a supervisor").
Both derive their state from the store, so a restart loses nothing; both run once
across nodes. Runs in a cleanup context; the clock is injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from broker.clock import CLOCK, Clock
from broker.config import CONFIG
from broker.mail import MAILER
from broker.relay.control import RELAY
from broker.sla.scheduler import SlaScheduler
from broker.store import queries
from broker.store.db import DB, Database

__all__ = ["ESCALATOR", "SLA_SCHEDULER", "Escalator", "escalation_ctx"]

log = logging.getLogger(__name__)

# The running escalation checker (created by escalation_ctx).
ESCALATOR = web.AppKey["Escalator"]("escalator")
# The SLA scheduler (created by escalation_ctx); tests call run_once() themselves.
SLA_SCHEDULER = web.AppKey[SlaScheduler]("sla_scheduler")

TellClient = Callable[[str], Awaitable[bool]]


class Escalator:
    """Checks the queue every ``interval_s`` seconds."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        fraction: float,
        interval_s: float,
        tell_client: TellClient | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._fraction = fraction
        self._interval_s = interval_s
        self._tell_client = tell_client

    async def run_once(self) -> list[queries.Escalation]:
        """Record escalations that are due now and tell their clients; the new ones."""
        new = await queries.record_due_escalations(
            self._db, now=self._clock.now_ms(), fraction=self._fraction
        )
        for e in new:
            log.info("escalated session %s (deadline %d)", e.session_id, e.deadline_ms)
            if self._tell_client is not None:
                await self._tell_client(e.session_id)
        return new


def _client_teller(app: web.Application) -> TellClient:
    """``session.escalated`` into a live session's log (nothing if not live here)."""

    async def tell(session_id: str) -> bool:
        relay = app.get(RELAY)
        if relay is None:
            return False
        return await relay.notice(session_id, "session.escalated", {"to": "supervisor"})

    return tell


async def _loop(escalator: Escalator, scheduler: SlaScheduler, interval_s: float) -> None:
    """Check forever; a failed check is logged and retried next interval."""
    while True:
        for name, step in (("escalation", escalator.run_once), ("SLA", scheduler.run_once)):
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s check failed", name)
        await asyncio.sleep(interval_s)


async def escalation_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: start the scheduler task, cancel it on shutdown."""
    config = app[CONFIG]
    tell = _client_teller(app)
    escalator = Escalator(
        app[DB],
        app[CLOCK],
        fraction=config.sla_escalation_fraction,
        interval_s=config.escalation_interval_s,
        tell_client=tell,
    )

    def wake_mail() -> None:
        mailer = app.get(MAILER)
        if mailer is not None:
            mailer.wake()

    scheduler = SlaScheduler(
        app[DB], app[CLOCK], mail=bool(config.smtp_host), tell_client=tell, on_mail=wake_mail
    )
    app[ESCALATOR] = escalator
    app[SLA_SCHEDULER] = scheduler
    task = asyncio.create_task(
        _loop(escalator, scheduler, config.escalation_interval_s), name="clearpane-escalation"
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
