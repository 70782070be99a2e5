"""Sessions: client requests, state, answer, end, rating, the queue, escalations."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from broker.errors import Conflict, InvalidField, NotFound
from broker.store.db import Database
from broker.store.models import (
    EscalationModel,
    SessionModel,
    SlaTierModel,
    TicketModel,
    UserModel,
)
from broker.store.queries.ticket_history import start_work
from broker.store.queries.tickets import new_ticket
from broker.store.queries.values import (
    END_REASONS,
    SESSION_STATES,
    WAITING_STATES,
    Escalation,
    QueueItem,
    SessionInfo,
    Ticket,
    new_id,
    session_with_names,
    to_session,
    to_ticket,
)

ESCALATION_LOCK_KEY = 0x436C7061_6E650002
"""The PostgreSQL advisory lock of the escalation check (one node at a time)."""

__all__ = [
    "ESCALATION_LOCK_KEY",
    "create_request",
    "get_session",
    "list_escalations",
    "list_sessions",
    "mark_answered",
    "mark_ended",
    "record_due_escalations",
    "set_rating",
    "set_session_state",
    "waiting_sessions",
]


# --- sessions ------------------------------------------------------------------------


async def create_request(
    db: Database,
    *,
    description: str,
    client_name: str,
    organisation: str,
    tier: str,
    at: int,
) -> tuple[Ticket, SessionInfo]:
    """A client asked for help: open a ticket and a queued session on it (one
    transaction). The deadline is ``at`` plus the tier's time to answer."""
    title = description.strip().splitlines()[0][:120] if description.strip() else "Help request"
    async with db.sessions.begin() as s:
        sla = await s.get(SlaTierModel, tier)
        if sla is None:
            raise InvalidField("tier", f"unknown SLA tier {tier!r}")
        ticket = await new_ticket(
            s,
            title=title,
            description=description,
            organisation=organisation,
            tier=tier,
            external_ref=None,
            skills=(),
            created_by=None,
            at=at,
        )
        session = SessionModel(
            id=new_id(),
            ticket_id=ticket.id,
            state="requested",
            origin="request",
            client_name=client_name,
            created_at_ms=at,
            state_changed_at_ms=at,
            deadline_ms=at + sla.answer_within_s * 1000,
        )
        s.add(session)
        await s.flush()
        return to_ticket(ticket), to_session(session, ticket.title, None)


async def get_session(db: Database, sid: str) -> SessionInfo | None:
    """The session with this id, or None."""
    async with db.sessions() as s:
        m = await s.get(SessionModel, sid)
        return await session_with_names(s, m) if m else None


async def list_sessions(
    db: Database,
    *,
    state: str | None = None,
    ticket_id: str | None = None,
    engineer_id: str | None = None,
    limit: int = 200,
) -> list[SessionInfo]:
    """Sessions, newest first, filtered by state, ticket and answering engineer."""
    query = (
        select(SessionModel, TicketModel.title, UserModel.name)
        .join(TicketModel, TicketModel.id == SessionModel.ticket_id)
        .outerjoin(UserModel, UserModel.id == SessionModel.engineer_id)
    )
    if state is not None:
        query = query.where(SessionModel.state == state)
    if ticket_id is not None:
        query = query.where(SessionModel.ticket_id == ticket_id)
    if engineer_id is not None:
        query = query.where(
            or_(
                SessionModel.engineer_id == engineer_id,
                SessionModel.assigned_engineer_id == engineer_id,
            )
        )
    query = query.order_by(SessionModel.created_at_ms.desc(), SessionModel.id).limit(limit)
    async with db.sessions() as s:
        rows = (await s.execute(query)).all()
        return [to_session(m, title, name) for m, title, name in rows]


async def waiting_sessions(db: Database) -> list[QueueItem]:
    """Every queued session (state ``requested`` or ``waiting``), earliest SLA
    deadline first, with its ticket's title, organisation, tier and skills."""
    query = (
        select(SessionModel, TicketModel, UserModel.name)
        .join(TicketModel, TicketModel.id == SessionModel.ticket_id)
        .outerjoin(UserModel, UserModel.id == SessionModel.engineer_id)
        .where(SessionModel.state.in_(WAITING_STATES))
        .order_by(SessionModel.deadline_ms, SessionModel.created_at_ms, SessionModel.id)
    )
    async with db.sessions() as s:
        rows = (await s.execute(query)).all()
        return [
            QueueItem(
                to_session(sm, tm.title, name),
                tm.title,
                tm.organisation,
                tm.tier,
                tuple(tm.skills or ()),
            )
            for sm, tm, name in rows
        ]


async def count_answered_since(db: Database, since_ms: int) -> int:
    """How many sessions an engineer answered since ``since_ms`` (the answer rate the
    waiting client's expected wait comes from, broker/queue_notice.py)."""
    query = select(func.count()).where(SessionModel.answered_at_ms >= since_ms)
    async with db.sessions() as s:
        return int((await s.execute(query)).scalar_one())


async def set_session_state(db: Database, sid: str, state: str, *, at: int) -> SessionInfo:
    """Record a state change (protocol/SPEC.md §5). Use :func:`mark_ended` to end:
    :class:`Conflict` if the session already ended or ``state`` is ``ended``."""
    if state not in SESSION_STATES or state == "ended":
        raise InvalidField("state", f"not a live state: {state!r} (use mark_ended)")
    async with db.sessions.begin() as s:
        m = await s.get(SessionModel, sid, with_for_update=True)
        if m is None:
            raise NotFound("no such session")
        if m.state == "ended":
            raise Conflict("the session has ended")
        m.state = state
        m.state_changed_at_ms = at
        return await session_with_names(s, m)


async def mark_answered(db: Database, sid: str, engineer_id: str, at: int) -> SessionInfo:
    """An engineer joined: the first call records who answered and when (the
    time to answer); later calls change nothing."""
    async with db.sessions.begin() as s:
        m = await s.get(SessionModel, sid, with_for_update=True)
        if m is None:
            raise NotFound("no such session")
        if m.answered_at_ms is None:
            m.answered_at_ms = at
            m.engineer_id = engineer_id
            ticket = await s.get(TicketModel, m.ticket_id)
            if ticket is not None:
                start_work(s, ticket, engineer_id, at)
        return await session_with_names(s, m)


async def mark_ended(
    db: Database, sid: str, reason: str, at: int, resolution: str | None = None
) -> SessionInfo:
    """Record the end of a session. Idempotent: a session that already ended keeps
    its first reason. A resolution note is also copied to the ticket."""
    if reason not in END_REASONS:
        raise InvalidField("reason", f"must be one of {', '.join(END_REASONS)}")
    async with db.sessions.begin() as s:
        m = await s.get(SessionModel, sid, with_for_update=True)
        if m is None:
            raise NotFound("no such session")
        if m.state != "ended":
            m.state = "ended"
            m.state_changed_at_ms = at
            m.ended_at_ms = at
            m.end_reason = reason
            if resolution is not None:
                m.resolution = resolution
                ticket = await s.get(TicketModel, m.ticket_id)
                if ticket is not None:
                    ticket.resolution = resolution
                    ticket.updated_at_ms = at
        return await session_with_names(s, m)


async def set_rating(
    db: Database, sid: str, score: int, comment: str | None, *, once: bool = False
) -> SessionInfo:
    """The client's rating of the help (1–5) with an optional comment. With ``once``,
    :class:`Conflict` if the session is already rated (checked in the transaction)."""
    if not 1 <= score <= 5:
        raise InvalidField("score", "must be 1 to 5")
    async with db.sessions.begin() as s:
        m = await s.get(SessionModel, sid)
        if m is None:
            raise NotFound("no such session")
        if once and m.rating_score is not None:
            raise Conflict("this session has already been rated")
        m.rating_score = score
        m.rating_comment = comment
        return await session_with_names(s, m)


# --- escalations ---------------------------------------------------------------------


async def record_due_escalations(db: Database, *, now: int, fraction: float) -> list[Escalation]:
    """Escalate every queued session that passed ``fraction`` of the time between
    its creation and its deadline and has no escalation yet; return the new ones.

    On PostgreSQL the check runs under a transaction-level advisory lock taken with
    ``try``: when several nodes poll at once, one does the work and the others return
    at once with nothing, so each escalation is recorded (and announced) by one node."""
    new: list[Escalation] = []
    async with db.sessions.begin() as s:
        if not db.is_sqlite and not await s.scalar(
            select(func.pg_try_advisory_xact_lock(ESCALATION_LOCK_KEY))
        ):
            return new  # another node is running this check right now (DESIGN §8)
        already = select(EscalationModel.session_id)
        rows = await s.scalars(
            select(SessionModel).where(
                SessionModel.state.in_(WAITING_STATES), SessionModel.id.not_in(already)
            )
        )
        for m in rows:
            due = m.created_at_ms + int((m.deadline_ms - m.created_at_ms) * fraction)
            if now >= due:
                e = EscalationModel(
                    id=new_id(),
                    session_id=m.id,
                    ticket_id=m.ticket_id,
                    created_at_ms=now,
                    deadline_ms=m.deadline_ms,
                )
                s.add(e)
                new.append(Escalation(e.id, e.session_id, e.ticket_id, now, e.deadline_ms))
    return new


async def list_escalations(db: Database, *, limit: int = 200) -> list[Escalation]:
    """Escalations, newest first."""
    async with db.sessions() as s:
        rows = await s.scalars(
            select(EscalationModel)
            .order_by(EscalationModel.created_at_ms.desc(), EscalationModel.id)
            .limit(limit)
        )
        return [
            Escalation(m.id, m.session_id, m.ticket_id, m.created_at_ms, m.deadline_ms)
            for m in rows
        ]
