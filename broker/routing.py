"""Routing (issue 19): the broker pushes each waiting request to the least busy
qualified available engineer, as BeyondTrust's Equilibrium does; the first line
(supervisors) may assign by hand instead.

The choice rule is pure (:func:`choose`); :class:`Router` runs it over the store: on
a new request, when an engineer becomes available, and every ``routing_interval_s``
(so nothing waits for an event that was missed, and after a restart). One long-lived
task does every pass: :meth:`Router.kick` only wakes it (kicks during a pass coalesce
into one more pass), so nothing is left running when the routing context stops.

The rule, for one request (earliest SLA deadline first):

1. *qualified*: the engineer holds every skill the ticket requires, and works for the
   ticket's organisation (or the ticket names none, or engineers see all tickets);
2. *available*: their effective presence (:mod:`broker.presence`) is ``available``
   and their load is below the capacity;
3. *least busy*: the lowest load — live sessions plus waiting requests already
   assigned to them;
4. ties: the one idle longest (earliest last assignment), then the username (so the
   choice is deterministic).

A request nobody qualifies for stays in the shared queue (supervisors see it; it
escalates as before).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from aiohttp import web

from broker import presence
from broker.clock import CLOCK, Clock
from broker.config import CONFIG
from broker.store.db import DB, Database
from broker.store.queries import routing as rq

__all__ = [
    "ROUTER",
    "Candidate",
    "Router",
    "candidate",
    "choose",
    "effective_of",
    "qualified",
    "routing_ctx",
]

log = logging.getLogger(__name__)

ROUTER = web.AppKey["Router"]("router")


@dataclass(frozen=True, slots=True)
class Candidate:
    """An engineer as routing sees them."""

    user_id: str
    username: str
    skills: frozenset[str]
    organisations: frozenset[str]
    presence: str  # effective (broker.presence.effective)
    load: int  # live sessions + waiting requests assigned to them
    last_assigned_ms: int = 0


def qualified(c: Candidate, skills: Iterable[str], organisation: str, *, see_all: bool) -> bool:
    """Rule 1: every required skill, and the ticket's organisation is theirs."""
    if not set(skills) <= c.skills:
        return False
    return see_all or not organisation or organisation in c.organisations


def choose(
    candidates: Sequence[Candidate],
    skills: Iterable[str],
    organisation: str,
    *,
    capacity: int,
    see_all: bool = False,
) -> Candidate | None:
    """The engineer a request goes to (rules 1–4 of the module docstring), or None."""
    required = frozenset(skills)
    fit = [
        c
        for c in candidates
        if c.presence == presence.AVAILABLE
        and c.load < capacity
        and qualified(c, required, organisation, see_all=see_all)
    ]
    if not fit:
        return None
    return min(fit, key=lambda c: (c.load, c.last_assigned_ms, c.username))


class Router:
    """Runs the rule over the store: assigns every waiting, unassigned request it can."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        capacity: int,
        see_all: bool,
        interval_s: float,
        lease_s: float = 120.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self.capacity = capacity
        self.lease_ms = int(lease_s * 1000)
        self._see_all = see_all
        self._interval_s = interval_s
        self._lock = asyncio.Lock()  # one pass at a time in this process
        self._wake = asyncio.Event()  # set by kick(): the worker runs a pass now

    async def run_once(self) -> list[rq.Assignment]:
        """One routing pass; returns what it assigned. On PostgreSQL the pass holds an
        advisory lock, so several nodes never assign the same request twice."""
        async with self._lock:
            made = await rq.route_waiting(
                self._db,
                self._pick,
                at=self._clock.now_ms(),
            )
        for a in made:
            log.info("routed session %s to %s", a.session_id, a.engineer_id)
        return made

    def _pick(
        self, loads: Sequence[rq.EngineerLoad], skills: Sequence[str], org: str
    ) -> str | None:
        """The store's callback: the chosen engineer's id for one request."""
        now = self._clock.now_ms()
        cands = [candidate(c, self.capacity, now_ms=now, lease_ms=self.lease_ms) for c in loads]
        chosen = choose(cands, skills, org, capacity=self.capacity, see_all=self._see_all)
        return chosen.user_id if chosen else None

    async def run(self) -> None:
        """Route until cancelled: a pass on every :meth:`kick` and at least every
        ``interval_s``; a failed pass is logged and retried at the next wake-up."""
        while True:
            self._wake.clear()  # a kick from here on asks for one more pass
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("routing pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)

    def kick(self) -> None:
        """Route soon (a new request, an engineer became available), without waiting:
        wakes the one routing task, never starts another."""
        self._wake.set()


def candidate(c: rq.EngineerLoad, capacity: int, *, now_ms: int, lease_ms: int) -> Candidate:
    """A stored engineer with their effective presence (lease included) and load."""
    return Candidate(
        c.user_id,
        c.username,
        frozenset(c.skills),
        frozenset(c.organisations),
        effective_of(c, capacity, now_ms=now_ms, lease_ms=lease_ms),
        c.live + c.assigned_waiting,
        c.last_assigned_ms,
    )


def effective_of(c: rq.EngineerLoad, capacity: int, *, now_ms: int, lease_ms: int) -> str:
    """An engineer's effective presence (:func:`broker.presence.effective`)."""
    return presence.effective(
        c.stored_presence, c.live, capacity, seen_ms=c.seen_ms, now_ms=now_ms, lease_ms=lease_ms
    )


async def routing_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: start the routing task, cancel it on shutdown."""
    config = app[CONFIG]
    router = Router(
        app[DB],
        app[CLOCK],
        capacity=config.routing_capacity,
        see_all=config.engineers_see_all_tickets,
        interval_s=config.routing_interval_s,
        lease_s=config.presence_lease_s,
    )
    app[ROUTER] = router
    task = asyncio.create_task(router.run(), name="clearpane-routing")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
