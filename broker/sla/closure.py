"""Closure confirmed by the client (DESIGN §10): a resolved ticket waits for its
client, who confirms (→ closed) or reopens (→ in progress) in the agent; without an
answer the scheduler closes it after the organisation's ``auto_close_after_s``
(broker/sla/scheduler.py). Where the organisation enables it the client is e-mailed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.errors import Conflict, NotFound
from broker.mail import queue_mail
from broker.sla.store import closure_in, ticket_sla_in
from broker.sla.texts import closed_mail
from broker.store.db import Database
from broker.store.models import TicketHistoryModel, TicketModel
from broker.store.queries.ticket_history import record_change, set_field

__all__ = ["ClosureView", "answer_closure", "closure_view"]


@dataclass(frozen=True, slots=True)
class ClosureView:
    """What the agent shows: the ticket's status and, while it is resolved, the
    resolution and when it closes by itself."""

    ticket_id: str
    title: str
    status: str
    resolution: str | None
    auto_close_at_ms: int | None


async def closure_view(db: Database, ticket_id: str) -> ClosureView:
    """The ticket as the client's closure prompt needs it."""
    async with db.sessions() as s:
        t = await s.get(TicketModel, ticket_id)
        if t is None:
            raise NotFound("no such ticket")
        auto_close = None
        if t.status == "resolved":
            rules = await closure_in(s, t.organisation)
            resolved_at = await _resolved_at(s, ticket_id)
            auto_close = resolved_at + rules.auto_close_after_s * 1000
        return ClosureView(t.id, t.title, t.status, t.resolution, auto_close)


async def _resolved_at(s: AsyncSession, ticket_id: str) -> int:
    """When the ticket last became resolved (its history)."""
    at = await s.scalar(
        select(TicketHistoryModel.at_ms)
        .where(
            TicketHistoryModel.ticket_id == ticket_id,
            TicketHistoryModel.field == "status",
            TicketHistoryModel.new_value == "resolved",
        )
        .order_by(TicketHistoryModel.at_ms.desc(), TicketHistoryModel.id.desc())
        .limit(1)
    )
    return int(at or 0)


async def answer_closure(
    db: Database, ticket_id: str, *, accept: bool, comment: str | None, at: int, mail: bool
) -> ClosureView:
    """The client confirms (``accept``) or reopens a resolved ticket; :class:`Conflict`
    if it is not resolved (already closed, or never resolved). A comment is kept in
    the ticket's history; the client is e-mailed on a confirmed closure where the
    organisation enables it."""
    async with db.sessions.begin() as s:
        t = await s.get(TicketModel, ticket_id, with_for_update=True)
        if t is None:
            raise NotFound("no such ticket")
        if t.status != "resolved":
            raise Conflict(f"the ticket is {t.status}, not resolved: there is nothing to confirm")
        if comment:
            record_change(
                s, t.id, at=at, actor_id=None, field="client_comment", old=None, new=comment
            )
        set_field(s, t, "status", "closed" if accept else "in_progress", at=at, actor_id=None)
        t.updated_at_ms = at
        if accept and mail:
            rules = await closure_in(s, t.organisation)
            sla = await ticket_sla_in(s, t.id)
            if rules.email_client and sla.client_email:
                subject, body = closed_mail(t.title, automatic=False)
                queue_mail(s, to=sla.client_email, subject=subject, body=body, at=at)
        return ClosureView(t.id, t.title, t.status, t.resolution, None)
