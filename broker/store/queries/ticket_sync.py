"""Ticket sync with an external help desk (issue 18): a ticket is found by its
``(external_source, external_ref)`` pair, which a unique index keeps to one ticket."""

from __future__ import annotations

from sqlalchemy import select

from broker.store.db import Database
from broker.store.models import TicketModel
from broker.store.queries.values import Ticket, to_ticket

__all__ = ["find_by_ref"]


async def find_by_ref(db: Database, source: str, external_ref: str) -> Ticket | None:
    """The ticket the help desk ``source`` knows as ``external_ref``, or None."""
    async with db.sessions() as s:
        m = await s.scalar(
            select(TicketModel).where(
                TicketModel.external_source == source, TicketModel.external_ref == external_ref
            )
        )
        return to_ticket(m) if m else None
