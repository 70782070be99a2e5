"""Tickets and invitations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.errors import Gone, InvalidField, NotFound
from broker.lifecycle import check_transition
from broker.store.db import Database
from broker.store.models import (
    InvitationModel,
    SessionModel,
    SlaTierModel,
    TicketModel,
    UserModel,
)
from broker.store.queries.ticket_history import (
    ASSIGNABLE_ROLES,
    check_user_field,
    record_change,
    set_field,
)
from broker.store.queries.values import (
    TICKET_STATUSES,
    Invitation,
    SessionInfo,
    Ticket,
    new_id,
    session_with_names,
    to_ticket,
)

__all__ = [
    "TicketScope",
    "create_invitation",
    "create_ticket",
    "get_ticket",
    "list_tickets",
    "new_ticket",
    "redeem_invitation",
    "ticket_in_scope",
    "update_ticket",
]


# --- tickets -------------------------------------------------------------------------


async def create_ticket(
    db: Database,
    *,
    title: str,
    description: str,
    organisation: str,
    tier: str,
    external_ref: str | None,
    skills: Sequence[str],
    created_by: str | None,
    at: int,
    external_source: str | None = None,
) -> Ticket:
    """Open a ticket; :class:`InvalidField` if the tier does not exist. A reference the
    same source already uses raises ``IntegrityError`` (unique index)."""
    async with db.sessions.begin() as s:
        m = await new_ticket(
            s,
            title=title,
            description=description,
            organisation=organisation,
            tier=tier,
            external_ref=external_ref,
            skills=skills,
            created_by=created_by,
            at=at,
            external_source=external_source,
        )
        return to_ticket(m)


async def new_ticket(
    s: AsyncSession,
    *,
    title: str,
    description: str,
    organisation: str,
    tier: str,
    external_ref: str | None,
    skills: Sequence[str],
    created_by: str | None,
    at: int,
    external_source: str | None = None,
) -> TicketModel:
    if await s.get(SlaTierModel, tier) is None:
        raise InvalidField("tier", f"unknown SLA tier {tier!r}")
    m = TicketModel(
        id=new_id(),
        title=title,
        description=description,
        organisation=organisation,
        tier=tier,
        external_ref=external_ref,
        external_source=external_source,
        status="new",
        skills=sorted(set(skills)),
        resolution=None,
        created_by=created_by,
        created_at_ms=at,
        updated_at_ms=at,
    )
    s.add(m)
    await s.flush()
    record_change(s, m.id, at=at, actor_id=created_by, field="status", old=None, new="new")
    return m


async def get_ticket(db: Database, ticket_id: str) -> Ticket | None:
    """The ticket with this id, or None."""
    async with db.sessions() as s:
        m = await s.get(TicketModel, ticket_id)
        return to_ticket(m) if m else None


@dataclass(frozen=True, slots=True)
class TicketScope:
    """The tickets one engineer may see (broker/auth/policy.py decides who is scoped):
    those of ``organisations``, those without an organisation, those the user created,
    and those with a session assigned to or answered by the user."""

    user_id: str
    organisations: tuple[str, ...]


def _in_scope(scope: TicketScope) -> ColumnElement[bool]:
    theirs = (
        select(SessionModel.id)
        .where(
            SessionModel.ticket_id == TicketModel.id,
            or_(
                SessionModel.assigned_engineer_id == scope.user_id,
                SessionModel.engineer_id == scope.user_id,
            ),
        )
        .exists()
    )
    return or_(
        TicketModel.organisation == "",
        TicketModel.organisation.in_(scope.organisations),
        TicketModel.created_by == scope.user_id,
        theirs,
    )


async def ticket_in_scope(db: Database, ticket_id: str, scope: TicketScope | None) -> bool:
    """Whether the ticket exists and ``scope`` (None: everything) includes it."""
    query = select(TicketModel.id).where(TicketModel.id == ticket_id)
    if scope is not None:
        query = query.where(_in_scope(scope))
    async with db.sessions() as s:
        return await s.scalar(query) is not None


async def list_tickets(
    db: Database,
    *,
    scope: TicketScope | None = None,
    status: str | None = None,
    organisation: str | None = None,
    q: str | None = None,
    external_ref: str | None = None,
    external_source: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Ticket]:
    """Tickets, newest first, filtered by exact status and organisation and by a
    case-insensitive substring ``q`` of title, description or external reference, and
    by exact ``external_ref`` (the help desk's own ticket number)."""
    query = select(TicketModel)
    if scope is not None:
        query = query.where(_in_scope(scope))
    if status is not None:
        query = query.where(TicketModel.status == status)
    if organisation is not None:
        query = query.where(TicketModel.organisation == organisation)
    if external_ref is not None:
        query = query.where(TicketModel.external_ref == external_ref)
    if external_source is not None:
        query = query.where(TicketModel.external_source == external_source)
    if q:
        pattern = (
            "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(
                func.lower(TicketModel.title).like(pattern, escape="\\"),
                func.lower(TicketModel.description).like(pattern, escape="\\"),
                func.lower(TicketModel.external_ref).like(pattern, escape="\\"),
            )
        )
    query = (
        query.order_by(TicketModel.created_at_ms.desc(), TicketModel.id).limit(limit).offset(offset)
    )
    async with db.sessions() as s:
        return [to_ticket(m) for m in await s.scalars(query)]


async def update_ticket(
    db: Database,
    ticket_id: str,
    *,
    at: int,
    title: str | None = None,
    description: str | None = None,
    organisation: str | None = None,
    tier: str | None = None,
    external_ref: str | None = None,
    external_source: str | None = None,
    status: str | None = None,
    skills: Sequence[str] | None = None,
    resolution: str | None = None,
    assignee_id: str | None = None,
    owner_id: str | None = None,
    actor_id: str | None = None,
) -> Ticket:
    """Change some fields of a ticket (``None`` leaves a field as it is; ``""`` clears
    the assignee or owner), recording each change in its history. A status move the
    lifecycle refuses raises :class:`Conflict`. Giving a new ticket an assignee (without
    a status) assigns it; taking the assignee away from an assigned one returns it."""
    if status is not None and status not in TICKET_STATUSES:
        raise InvalidField("status", f"must be one of {', '.join(TICKET_STATUSES)}")
    async with db.sessions.begin() as s:
        m = await s.get(TicketModel, ticket_id, with_for_update=True)
        if m is None:
            raise NotFound("no such ticket")
        if tier is not None and await s.get(SlaTierModel, tier) is None:
            raise InvalidField("tier", f"unknown SLA tier {tier!r}")
        if assignee_id:
            await check_user_field(s, "assignee", assignee_id, ASSIGNABLE_ROLES)
        if owner_id:
            await check_user_field(s, "owner", owner_id)
        if status is None and assignee_id is not None:
            if assignee_id and m.status == "new":
                status = "assigned"
            elif not assignee_id and m.status == "assigned":
                status = "new"
        if status is not None:
            check_transition(m.status, status)  # before anything changes
        people = {"assignee_id": assignee_id, "owner_id": owner_id}
        for attr, value in (
            ("title", title),
            ("description", description),
            ("organisation", organisation),
            ("tier", tier),
            ("external_ref", external_ref),
            ("external_source", external_source),
            ("resolution", resolution),
            *people.items(),
            ("status", status),
        ):
            if value is not None:
                # "" clears a person; other fields keep "" as a value.
                cleared = attr in people and value == ""
                set_field(s, m, attr, None if cleared else value, at=at, actor_id=actor_id)
        if skills is not None:
            new_skills = sorted(set(skills))
            if new_skills != list(m.skills or ()):
                record_change(
                    s,
                    m.id,
                    at=at,
                    actor_id=actor_id,
                    field="skills",
                    old=", ".join(m.skills or ()),
                    new=", ".join(new_skills),
                )
                m.skills = new_skills
        m.updated_at_ms = at
        return to_ticket(m)


# --- invitations ---------------------------------------------------------------------


async def create_invitation(
    db: Database,
    *,
    ticket_id: str,
    code_hash: str,
    created_by: str,
    at: int,
    expires_at: int,
) -> Invitation:
    """Store an invitation by the hash of its code."""
    async with db.sessions.begin() as s:
        if await s.get(TicketModel, ticket_id) is None:
            raise NotFound("no such ticket")
        m = InvitationModel(
            id=new_id(),
            code_hash=code_hash,
            ticket_id=ticket_id,
            created_by=created_by,
            created_at_ms=at,
            expires_at_ms=expires_at,
        )
        s.add(m)
        await s.flush()
        return Invitation(m.id, m.ticket_id, m.created_by, m.created_at_ms, m.expires_at_ms)


async def redeem_invitation(
    db: Database, *, code_hash: str, client_name: str, at: int
) -> tuple[Ticket, SessionInfo]:
    """Use an invitation once: create a session on its ticket, assigned to the
    engineer who invited. :class:`NotFound` for an unknown code, :class:`Gone` for a
    used or expired one. Single use holds under concurrency (a guarded UPDATE)."""
    async with db.sessions.begin() as s:
        inv = await s.scalar(select(InvitationModel).where(InvitationModel.code_hash == code_hash))
        if inv is None:
            raise NotFound("no such invitation code")
        if inv.used_at_ms is not None:
            raise Gone("this invitation code was already used")
        if inv.expires_at_ms <= at:
            raise Gone("this invitation code has expired")
        claimed = await s.execute(
            update(InvitationModel)
            .where(InvitationModel.id == inv.id, InvitationModel.used_at_ms.is_(None))
            .values(used_at_ms=at)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            raise Gone("this invitation code was already used")
        ticket = await s.get(TicketModel, inv.ticket_id)
        assert ticket is not None
        # A help desk's integration account cannot answer: its invitations go to the queue.
        created_by = await s.get(UserModel, inv.created_by)
        inviter = None if created_by is None or created_by.role == "integration" else inv.created_by
        sla = await s.get(SlaTierModel, ticket.tier)
        answer_within_s = sla.answer_within_s if sla else 1800
        session = SessionModel(
            id=new_id(),
            ticket_id=ticket.id,
            state="requested",
            origin="invitation",
            client_name=client_name,
            created_at_ms=at,
            state_changed_at_ms=at,
            deadline_ms=at + answer_within_s * 1000,
            assigned_engineer_id=inviter,
        )
        s.add(session)
        await s.flush()
        await s.execute(
            update(InvitationModel)
            .where(InvitationModel.id == inv.id)
            .values(session_id=session.id)
        )
        return to_ticket(ticket), await session_with_names(s, session)
