"""Transfers and invitations of live sessions in the store (issue 19).

A hand-over is created ``pending`` by the session's engineer (or a supervisor); the
target's join token carries it; the relay reports the client's answer
(:func:`answer_handover`): ``accepted`` or ``refused``. An accepted transfer makes the
target the session's engineer (and assignee) and the ticket's assignee, in the
ticket's history. A newer transfer of the same session cancels an older pending one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.errors import NotFound
from broker.store.db import Database
from broker.store.models import SessionModel, TicketModel, UserModel
from broker.store.queries.ticket_history import set_field
from broker.store.queries.values import new_id
from broker.store.routing_models import HandoverModel

__all__ = [
    "HANDOVER_KINDS",
    "Handover",
    "answer_handover",
    "create_handover",
    "list_handovers",
    "pending_for_user",
    "pending_handover",
]

HANDOVER_KINDS = ("transfer", "invite")


@dataclass(frozen=True, slots=True)
class Handover:
    """A transfer or invitation, with the names of both engineers."""

    id: str
    session_id: str
    kind: str
    from_user_id: str
    from_name: str
    to_user_id: str
    to_name: str
    group: str | None
    state: str  # pending | accepted | refused | cancelled
    created_at_ms: int
    answered_at_ms: int | None
    ticket_id: str = ""
    title: str = ""


async def _value(s: AsyncSession, m: HandoverModel) -> Handover:
    src = await s.get(UserModel, m.from_user_id)
    dst = await s.get(UserModel, m.to_user_id)
    session = await s.get(SessionModel, m.session_id)
    ticket = await s.get(TicketModel, session.ticket_id) if session else None
    return Handover(
        m.id,
        m.session_id,
        m.kind,
        m.from_user_id,
        src.name if src else "",
        m.to_user_id,
        dst.name if dst else "",
        m.group,
        m.state,
        m.created_at_ms,
        m.answered_at_ms,
        ticket.id if ticket else "",
        ticket.title if ticket else "",
    )


async def create_handover(
    db: Database,
    sid: str,
    *,
    kind: str,
    from_user_id: str,
    to_user_id: str,
    group: str | None,
    at: int,
) -> Handover:
    """Record a pending transfer or invitation (a transfer cancels an older pending
    one of the session; an invitation an older one to the same colleague)."""
    async with db.sessions.begin() as s:
        older = await s.scalars(
            select(HandoverModel).where(
                HandoverModel.session_id == sid,
                HandoverModel.state == "pending",
                HandoverModel.kind == kind,
            )
        )
        for o in older:
            if kind == "transfer" or o.to_user_id == to_user_id:
                o.state, o.answered_at_ms = "cancelled", at
        m = HandoverModel(
            id=new_id(),
            session_id=sid,
            kind=kind,
            from_user_id=from_user_id,
            to_user_id=to_user_id,
            group=group,
            permissions=[],
            state="pending",
            created_at_ms=at,
        )
        s.add(m)
        await s.flush()
        return await _value(s, m)


async def pending_handover(db: Database, sid: str, user_id: str) -> Handover | None:
    """The newest pending hand-over of session ``sid`` to ``user_id``, if any."""
    async with db.sessions() as s:
        m = await s.scalar(
            select(HandoverModel)
            .where(
                HandoverModel.session_id == sid,
                HandoverModel.to_user_id == user_id,
                HandoverModel.state == "pending",
            )
            .order_by(HandoverModel.created_at_ms.desc(), HandoverModel.id)
            .limit(1)
        )
        return await _value(s, m) if m else None


async def pending_for_user(db: Database, user_id: str) -> list[Handover]:
    """Pending hand-overs to ``user_id`` of sessions that have not ended, newest first."""
    async with db.sessions() as s:
        rows = await s.scalars(
            select(HandoverModel)
            .join(SessionModel, SessionModel.id == HandoverModel.session_id)
            .where(
                HandoverModel.to_user_id == user_id,
                HandoverModel.state == "pending",
                SessionModel.state != "ended",
            )
            .order_by(HandoverModel.created_at_ms.desc(), HandoverModel.id)
        )
        return [await _value(s, m) for m in rows]


async def list_handovers(db: Database, sid: str) -> list[Handover]:
    """Every hand-over of a session, oldest first."""
    async with db.sessions() as s:
        rows = await s.scalars(
            select(HandoverModel)
            .where(HandoverModel.session_id == sid)
            .order_by(HandoverModel.created_at_ms, HandoverModel.id)
        )
        return [await _value(s, m) for m in rows]


async def answer_handover(db: Database, handover_id: str, outcome: str, *, at: int) -> Handover:
    """The client answered (``accepted`` / ``refused``). An accepted transfer moves
    the session and its ticket to the target (history: the engineer who handed over)."""
    async with db.sessions.begin() as s:
        m = await s.get(HandoverModel, handover_id, with_for_update=True)
        if m is None:
            raise NotFound("no such hand-over")
        m.state, m.answered_at_ms = outcome, at
        if m.kind == "transfer" and outcome == "accepted":
            # Review of 2026-12-04: what the previous holder had offered (an invitation
            # to a colleague) is not theirs to offer any more: cancelled, else that
            # colleague joined the new engineer's session "invited by" the old one.
            others = await s.scalars(
                select(HandoverModel).where(
                    HandoverModel.session_id == m.session_id,
                    HandoverModel.state == "pending",
                    HandoverModel.id != m.id,
                )
            )
            for o in others:
                o.state, o.answered_at_ms = "cancelled", at
            session = await s.get(SessionModel, m.session_id, with_for_update=True)
            if session is not None:
                session.engineer_id = m.to_user_id
                session.assigned_engineer_id = m.to_user_id
                ticket = await s.get(TicketModel, session.ticket_id)
                if ticket is not None:
                    changed = set_field(
                        s, ticket, "assignee_id", m.to_user_id, at=at, actor_id=m.from_user_id
                    )
                    if changed:
                        ticket.updated_at_ms = at
        await s.flush()
        return await _value(s, m)
