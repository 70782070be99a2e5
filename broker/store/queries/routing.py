"""Routing and presence in the store (issue 19): who is there and how loaded, the
routing pass (one transaction; on PostgreSQL under an advisory lock, so one node at a
time), manual assignment by the first line, and presence changes.

An assignment sets the session's ``assigned_engineer_id`` and the ticket's assignee
(a ``new`` ticket becomes ``assigned``), each change in the ticket's history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.errors import Conflict, InvalidField, NotFound
from broker.presence import AWAY, DEFAULT_STATUS, PRESENCE_STATUSES
from broker.store.db import Database
from broker.store.models import SessionModel, TicketModel, UserModel
from broker.store.queries.ticket_history import set_field
from broker.store.queries.values import WAITING_STATES, SessionInfo, session_with_names
from broker.store.routing_models import PresenceModel

__all__ = [
    "LIVE_STATES",
    "ROUTING_LOCK_KEY",
    "Assignment",
    "EngineerLoad",
    "assign_session",
    "engineer_loads",
    "get_presence",
    "route_waiting",
    "set_presence",
    "touch_presence",
]

ROUTING_LOCK_KEY = 0x436C7061_6E650119
"""The PostgreSQL advisory lock of the routing pass (one node at a time; unlike the
SLA scheduler's 0x…6E650019 — a shared key would make the two skip each other)."""

# States in which an engineer is working on a session (it counts in their load).
LIVE_STATES = ("consent_pending", "live", "paused")

Pick = Callable[[Sequence["EngineerLoad"], Sequence[str], str], str | None]
"""The choice rule as the store calls it: (engineers, skills, organisation) → user id."""


@dataclass(frozen=True, slots=True)
class EngineerLoad:
    """An enabled engineer: what they set, their skills and how much they carry."""

    user_id: str
    username: str
    name: str
    skills: tuple[str, ...]
    organisations: tuple[str, ...]
    stored_presence: str
    live: int  # sessions they are working on
    assigned_waiting: int  # queued requests assigned to them
    last_assigned_ms: int
    seen_ms: int = 0  # the presence lease: when their viewer last said it is there


@dataclass(frozen=True, slots=True)
class Assignment:
    """A request the routing pass (or the first line) gave to an engineer."""

    session_id: str
    ticket_id: str
    engineer_id: str


async def _loads(s: AsyncSession) -> list[EngineerLoad]:
    users = (
        await s.scalars(
            select(UserModel)
            .where(UserModel.role == "engineer", UserModel.disabled.is_(False))
            .order_by(UserModel.username)
        )
    ).all()
    presence = {p.user_id: p for p in await s.scalars(select(PresenceModel))}
    live = dict(
        (
            await s.execute(
                select(SessionModel.engineer_id, func.count())
                .where(SessionModel.state.in_(LIVE_STATES))
                .group_by(SessionModel.engineer_id)
            )
        ).all()
    )
    waiting = dict(
        (
            await s.execute(
                select(SessionModel.assigned_engineer_id, func.count())
                .where(SessionModel.state.in_(WAITING_STATES))
                .group_by(SessionModel.assigned_engineer_id)
            )
        ).all()
    )
    out = []
    for u in users:
        p = presence.get(u.id)
        out.append(
            EngineerLoad(
                u.id,
                u.username,
                u.name,
                tuple(u.skills or ()),
                tuple(u.organisations or ()),
                p.status if p else DEFAULT_STATUS,
                int(live.get(u.id, 0)),
                int(waiting.get(u.id, 0)),
                p.last_assigned_at_ms if p else 0,
                (p.seen_at_ms or 0) if p else 0,
            )
        )
    return out


async def engineer_loads(db: Database) -> list[EngineerLoad]:
    """Every enabled engineer with presence and load, by username."""
    async with db.sessions() as s:
        return await _loads(s)


async def get_presence(db: Database, user_id: str) -> EngineerLoad | None:
    """One engineer's presence and load (None: not an enabled engineer)."""
    return next((e for e in await engineer_loads(db) if e.user_id == user_id), None)


async def _presence_row(s: AsyncSession, user_id: str, at: int) -> PresenceModel:
    row = await s.get(PresenceModel, user_id)
    if row is None:
        row = PresenceModel(
            user_id=user_id,
            status=DEFAULT_STATUS,
            changed_at_ms=at,
            last_assigned_at_ms=0,
            seen_at_ms=0,
        )
        s.add(row)
    return row


async def _assign(
    s: AsyncSession, m: SessionModel, engineer_id: str | None, *, at: int, actor_id: str | None
) -> None:
    """Give (or take back, with None) a queued session and its ticket."""
    m.assigned_engineer_id = engineer_id
    # Read the ticket again, locked (the pass's first query put a possibly stale copy in
    # the session; the autoflush of the line above already holds SQLite's write lock):
    # an engineer resolving it meanwhile must not be overwritten by "assigned".
    ticket = await s.get(TicketModel, m.ticket_id, populate_existing=True, with_for_update=True)
    if ticket is not None and ticket.status in ("new", "assigned"):
        set_field(s, ticket, "assignee_id", engineer_id, at=at, actor_id=actor_id)
        status = "assigned" if engineer_id else "new"
        set_field(s, ticket, "status", status, at=at, actor_id=actor_id)
        ticket.updated_at_ms = at
    if engineer_id is not None:
        (await _presence_row(s, engineer_id, at)).last_assigned_at_ms = at


async def route_waiting(db: Database, pick: Pick, *, at: int) -> list[Assignment]:
    """One routing pass: every waiting, unassigned request, earliest deadline first,
    goes to ``pick``'s engineer (loads updated as it goes). Returns the assignments."""
    made: list[Assignment] = []
    async with db.sessions.begin() as s:
        if not db.is_sqlite and not await s.scalar(
            select(func.pg_try_advisory_xact_lock(ROUTING_LOCK_KEY))
        ):
            return made  # another node is routing right now (DESIGN §8)
        rows = (
            await s.execute(
                select(SessionModel, TicketModel)
                .join(TicketModel, TicketModel.id == SessionModel.ticket_id)
                .where(
                    SessionModel.state.in_(WAITING_STATES),
                    SessionModel.assigned_engineer_id.is_(None),
                )
                .order_by(SessionModel.deadline_ms, SessionModel.created_at_ms, SessionModel.id)
            )
        ).all()
        if not rows:
            return made
        loads = {e.user_id: e for e in await _loads(s)}
        for sm, tm in rows:
            chosen = pick(list(loads.values()), tuple(tm.skills or ()), tm.organisation)
            if chosen is None:
                continue
            await _assign(s, sm, chosen, at=at, actor_id=None)
            e = loads[chosen]
            loads[chosen] = replace(e, assigned_waiting=e.assigned_waiting + 1, last_assigned_ms=at)
            made.append(Assignment(sm.id, sm.ticket_id, chosen))
    return made


async def assign_session(
    db: Database, sid: str, engineer_id: str | None, *, actor_id: str, at: int
) -> SessionInfo:
    """The first line assigns a queued session by hand (None: back to routing).
    :class:`Conflict` once somebody works on it; :class:`InvalidField` for a user who
    is not an enabled engineer."""
    async with db.sessions.begin() as s:
        m = await s.get(SessionModel, sid, with_for_update=True)
        if m is None:
            raise NotFound("no such session")
        if m.state not in WAITING_STATES:
            raise Conflict("only a waiting request can be assigned; transfer a live session")
        if engineer_id is not None:
            user = await s.get(UserModel, engineer_id)
            if user is None or user.disabled or user.role != "engineer":
                raise InvalidField("engineer_id", f"no enabled engineer with id {engineer_id!r}")
        await _assign(s, m, engineer_id, at=at, actor_id=actor_id)
        return await session_with_names(s, m)


async def set_presence(db: Database, user_id: str, status: str, *, at: int) -> list[str]:
    """Record what an engineer set. Going ``away`` hands their waiting *requests* back
    to routing (invitations stay theirs: the client holds their code); returns the ids
    of the sessions handed back."""
    if status not in PRESENCE_STATUSES:
        raise InvalidField("status", f"must be one of {', '.join(PRESENCE_STATUSES)}")
    released: list[str] = []
    async with db.sessions.begin() as s:
        row = await _presence_row(s, user_id, at)
        row.seen_at_ms = at  # saying it renews the lease
        if row.status != status:
            row.status = status
            row.changed_at_ms = at
        if status == AWAY:
            mine = await s.scalars(
                select(SessionModel).where(
                    SessionModel.state.in_(WAITING_STATES),
                    SessionModel.assigned_engineer_id == user_id,
                    SessionModel.origin == "request",
                )
            )
            for m in mine:
                await _assign(s, m, None, at=at, actor_id=user_id)
                released.append(m.id)
    return released


async def touch_presence(db: Database, user_id: str, *, at: int) -> None:
    """Renew an engineer's presence lease (their viewer is open). No row: nothing to
    renew (they never said they are available)."""
    async with db.sessions.begin() as s:
        row = await s.get(PresenceModel, user_id)
        if row is not None and row.seen_at_ms < at:
            row.seen_at_ms = at
