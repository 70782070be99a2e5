"""Store queries of the raised escalation levels (``sla_escalations``): the frozen
:class:`Escalation` view, listing, one by id, and the acknowledgement that stops a
level (announced as ``escalation.acknowledged`` in the same transaction). The scheduler
(:mod:`broker.sla.scheduler`) raises them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select

from broker.clock import iso_ms
from broker.errors import NotFound
from broker.sla.notify import announce, ticket_ref
from broker.sla.store import contract_in
from broker.store.db import Database
from broker.store.models import TicketModel, UserModel
from broker.store.sla_models import SlaEscalationModel

__all__ = ["Escalation", "acknowledge", "get_escalation", "list_escalations", "to_escalation"]


@dataclass(frozen=True, slots=True)
class Escalation:
    """A raised level of a ticket's chain."""

    id: str
    ticket_id: str
    ticket_title: str
    clock: str
    fraction: float
    target: str
    skill: str | None
    recipients: tuple[str, ...]
    reached_at_ms: int
    raised_at_ms: int
    due_at_ms: int | None
    acknowledged_by: str | None
    acknowledged_by_name: str | None
    acknowledged_at_ms: int | None


def to_escalation(m: SlaEscalationModel, title: str, ack_name: str | None) -> Escalation:
    """The frozen view of a row."""
    return Escalation(
        m.id,
        m.ticket_id,
        title,
        m.clock,
        m.fraction,
        m.target,
        m.skill,
        tuple(m.recipients or ()),
        m.reached_at_ms,
        m.raised_at_ms,
        m.due_at_ms,
        m.acknowledged_by,
        ack_name,
        m.acknowledged_at_ms,
    )


def _escalation_query() -> Select[SlaEscalationModel, str, str]:
    return (
        select(SlaEscalationModel, TicketModel.title, UserModel.name)
        .join(TicketModel, TicketModel.id == SlaEscalationModel.ticket_id)
        .outerjoin(UserModel, UserModel.id == SlaEscalationModel.acknowledged_by)
    )


async def list_escalations(
    db: Database,
    *,
    open_only: bool = False,
    ticket_id: str | None = None,
    recipient: str | None = None,
    limit: int = 200,
) -> list[Escalation]:
    """Raised levels, newest first; ``open_only``: not acknowledged yet;
    ``recipient``: only those addressed to that user."""
    query = _escalation_query()
    if open_only:
        query = query.where(SlaEscalationModel.acknowledged_at_ms.is_(None))
    if ticket_id is not None:
        query = query.where(SlaEscalationModel.ticket_id == ticket_id)
    query = query.order_by(SlaEscalationModel.raised_at_ms.desc(), SlaEscalationModel.id)
    async with db.sessions() as s:
        rows = (await s.execute(query)).all()
    found = [to_escalation(m, title, name) for m, title, name in rows]
    if recipient is not None:  # a JSON list: filtered here, portable across databases
        found = [e for e in found if recipient in e.recipients]
    return found[:limit]


async def get_escalation(db: Database, escalation_id: str) -> Escalation | None:
    """One escalation, or None."""
    async with db.sessions() as s:
        row = (
            await s.execute(_escalation_query().where(SlaEscalationModel.id == escalation_id))
        ).first()
        return to_escalation(*row) if row else None


async def acknowledge(
    db: Database, escalation_id: str, user_id: str, *, at: int
) -> tuple[Escalation, bool]:
    """Record that ``user_id`` acknowledged the level (it stops: no longer open, no
    reminder). Returns the escalation and whether this call acknowledged it (False:
    somebody already had; the first acknowledgement is kept)."""
    async with db.sessions.begin() as s:
        m = await s.get(SlaEscalationModel, escalation_id, with_for_update=True)
        if m is None:
            raise NotFound("no such escalation")
        first = m.acknowledged_at_ms is None
        if first:
            m.acknowledged_by, m.acknowledged_at_ms = user_id, at
        ticket = await s.get(TicketModel, m.ticket_id)
        user = await s.get(UserModel, m.acknowledged_by) if m.acknowledged_by else None
        if first and ticket is not None and user is not None:
            # In the same transaction: announced if and only if it was recorded.
            keys = [level.key for level in (await contract_in(s, ticket.tier)).chain]
            level = keys.index(m.level_key) if m.level_key in keys else 0
            payload = {
                "escalation": {
                    "id": m.id,
                    "level": level,
                    "notify": [m.target],
                    "clock": m.clock,
                    "at": m.fraction,
                    "acknowledged_at": iso_ms(at),
                },
                "ticket": ticket_ref(ticket),
                "acknowledged_by": {"id": user.id, "name": user.name},
            }
            await announce(s, "escalation.acknowledged", payload, subject_id=ticket.id, at_ms=at)
        return to_escalation(m, ticket.title if ticket else "", user.name if user else None), first
