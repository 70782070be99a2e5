"""How long one SLA scheduler pass takes over N open tickets (docs/workflow.md): the
pass derives both clocks of every open ticket from its history, so its cost grows with
the open tickets. Embedded SQLite in a temporary folder; a business calendar (the
costlier case: day-by-day zoneinfo conversion); each ticket with a few status changes.

    PYTHONPATH=. .venv/bin/python bench/sla_pass.py [N ...]

Prints, per N: the first pass (every level due: all recorded) and a quiet pass (nothing
new: the steady state), in ms, and the quiet pass per ticket. The empty pass (0 tickets)
is the same run's baseline.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from broker.sla import store
from broker.sla.calendar import Calendar
from broker.sla.contracts import DEFAULT_CHAIN, Targets
from broker.sla.scheduler import SlaScheduler
from broker.store import queries
from broker.store.db import Database
from broker.testing import FakeClock

H = 3_600_000
T0 = 1_800_000_000_000  # Friday 15 January 2027, 08:00 UTC


async def one(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        db = Database.open(f"sqlite+aiosqlite:///{Path(d) / 'b.db'}")
        await db.migrate()
        cal = Calendar.from_json(
            {
                "timezone": "Europe/Moscow",
                "hours": {x: [["09:00", "18:00"]] for x in ("mon", "tue", "wed", "thu", "fri")},
                "holidays": ["2027-01-18"],
            }
        )
        await store.put_calendar(db, "msk", cal, at=T0)
        await store.put_contract(
            db,
            "standard",
            calendar="msk",
            pause=store.DEFAULT_PAUSE,
            at_risk=0.8,
            chain=DEFAULT_CHAIN,
            targets={"normal": Targets(4 * 3600, 16 * 3600)},
            at=T0,
        )
        for i in range(n):
            t = await queries.create_ticket(
                db,
                title=f"t{i}",
                description="",
                organisation="",
                tier="standard",
                external_ref=None,
                skills=(),
                created_by=None,
                at=T0 + i * 60_000,
            )
            for k, status in enumerate(
                ("assigned", "in_progress", "waiting_for_client", "in_progress")
            ):
                await queries.update_ticket(
                    db, t.id, at=T0 + i * 60_000 + (k + 1) * H, status=status
                )
        clock = FakeClock(T0 + 7 * 24 * H)
        scheduler = SlaScheduler(db, clock, mail=False)
        start = time.perf_counter()
        await scheduler.run_once()
        first = (time.perf_counter() - start) * 1000
        quiet = []
        for _ in range(5):
            clock.advance(1)
            start = time.perf_counter()
            await scheduler.run_once()
            quiet.append((time.perf_counter() - start) * 1000)
        await db.close()
        return first, statistics.median(quiet)


async def main(sizes: list[int]) -> None:
    print("tickets  first pass ms  quiet pass ms  quiet ms/ticket")
    for n in [0, *sizes]:
        first, quiet = await one(n)
        per = quiet / n if n else 0.0
        print(f"{n:7d}  {first:13.1f}  {quiet:13.1f}  {per:15.3f}")


if __name__ == "__main__":
    asyncio.run(main([int(x) for x in sys.argv[1:]] or [100, 500]))
