"""Store queries of the SLA workflow: calendars, contracts and targets, closure
settings, staff addresses, ticket priority and status timelines (the raised
escalation levels: :mod:`broker.sla.escalations`).

Each public function opens its own transaction (like :mod:`broker.store.queries`);
the ``*_in`` helpers work inside the caller's (the scheduler's) transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.errors import Conflict, InvalidField, NotFound
from broker.sla.calendar import Calendar, CalendarError
from broker.sla.clock import Change, ClockState, measure
from broker.sla.contracts import DEFAULT_CHAIN, Contract, Level, Targets, parse_chain
from broker.store.db import Database
from broker.store.models import SlaTierModel, TicketHistoryModel, TicketModel, UserModel
from broker.store.queries.ticket_history import record_change
from broker.store.sla_models import (
    NotifyAddressModel,
    OrganisationClosureModel,
    SlaCalendarModel,
    SlaContractModel,
    SlaTargetModel,
    TicketSlaModel,
)

__all__ = [
    "DEFAULT_AUTO_CLOSE_S",
    "DEFAULT_PAUSE",
    "Closure",
    "TicketSla",
    "closure_in",
    "contract_in",
    "delete_calendar",
    "get_closure",
    "get_ticket_sla",
    "list_calendars",
    "list_closures",
    "list_contracts",
    "list_notify_addresses",
    "put_calendar",
    "put_closure",
    "put_contract",
    "put_notify_address",
    "put_ticket_sla",
    "status_changes_in",
    "ticket_clocks",
    "ticket_sla_in",
]

DEFAULT_PAUSE = frozenset({"waiting_for_client", "pending_vendor"})
DEFAULT_AUTO_CLOSE_S = 72 * 3600
"""A resolved ticket the client neither confirms nor reopens closes after 72 h."""


# --- calendars -------------------------------------------------------------------------


async def list_calendars(db: Database) -> list[tuple[str, Calendar]]:
    """Every calendar, by name."""
    async with db.sessions() as s:
        rows = await s.scalars(select(SlaCalendarModel).order_by(SlaCalendarModel.name))
        return [(m.name, Calendar.from_json(m.definition)) for m in rows]


async def put_calendar(db: Database, name: str, calendar: Calendar, *, at: int) -> None:
    """Create or replace a calendar (clocks that use it are recomputed from history
    on the scheduler's next run: a changed calendar changes past figures too)."""
    async with db.sessions.begin() as s:
        m = await s.get(SlaCalendarModel, name)
        if m is None:
            s.add(SlaCalendarModel(name=name, definition=calendar.to_json(), updated_at_ms=at))
        else:
            m.definition = calendar.to_json()
            m.updated_at_ms = at


async def delete_calendar(db: Database, name: str) -> None:
    """Delete a calendar no contract uses (:class:`Conflict` naming the tiers if used)."""
    async with db.sessions.begin() as s:
        if await s.get(SlaCalendarModel, name) is None:
            raise NotFound("no such calendar")
        users = list(
            await s.scalars(select(SlaContractModel.tier).where(SlaContractModel.calendar == name))
        )
        if users:
            raise Conflict(f"the calendar is used by tier(s) {', '.join(sorted(users))}")
        await s.execute(delete(SlaCalendarModel).where(SlaCalendarModel.name == name))


# --- contracts -------------------------------------------------------------------------


async def contract_in(s: AsyncSession, tier: str) -> Contract:
    """The contract of ``tier``; a tier without one (made after the SLA migration) runs
    24×7 with the default pauses and chain, responding within its time to answer and
    resolving within 16 times that."""
    tier_row = await s.get(SlaTierModel, tier)
    answer_s = tier_row.answer_within_s if tier_row is not None else 1800
    targets = {
        t.priority: Targets(t.response_s, t.resolution_s)
        for t in await s.scalars(select(SlaTargetModel).where(SlaTargetModel.tier == tier))
    }
    targets.setdefault("normal", Targets(answer_s, answer_s * 16))
    m = await s.get(SlaContractModel, tier)
    if m is None:
        return Contract(
            tier, Calendar.twenty_four_seven(), None, DEFAULT_PAUSE, 0.8, DEFAULT_CHAIN, targets
        )
    calendar = Calendar.twenty_four_seven()
    if m.calendar is not None:
        cal = await s.get(SlaCalendarModel, m.calendar)
        if cal is not None:
            calendar = Calendar.from_json(cal.definition)
    return Contract(
        tier,
        calendar,
        m.calendar,
        frozenset(m.pause_statuses),
        m.at_risk_fraction,
        parse_chain(m.chain),
        targets,
        m.remind_after_s,
    )


async def list_contracts(db: Database) -> list[Contract]:
    """The contract of every tier, by tier name."""
    async with db.sessions() as s:
        tiers = list(await s.scalars(select(SlaTierModel.name).order_by(SlaTierModel.name)))
        return [await contract_in(s, t) for t in tiers]


async def put_contract(
    db: Database,
    tier: str,
    *,
    calendar: str | None,
    pause: frozenset[str],
    at_risk: float,
    chain: Sequence[Level],
    targets: dict[str, Targets],
    at: int,
    remind_after_s: int = 3600,
) -> Contract:
    """Create or replace a tier's contract (the tier and calendar must exist)."""
    async with db.sessions.begin() as s:
        if await s.get(SlaTierModel, tier) is None:
            raise NotFound(f"no SLA tier {tier!r} (create it with PUT /api/v1/sla-tiers/{tier})")
        if calendar is not None and await s.get(SlaCalendarModel, calendar) is None:
            raise InvalidField("calendar", f"no calendar {calendar!r}")
        m = await s.get(SlaContractModel, tier)
        values = {
            "calendar": calendar,
            "pause_statuses": sorted(pause),
            "at_risk_fraction": at_risk,
            "chain": [level.to_json() for level in chain],
            "updated_at_ms": at,
            "remind_after_s": remind_after_s,
        }
        if m is None:
            s.add(SlaContractModel(tier=tier, **values))
        else:
            for key, value in values.items():
                setattr(m, key, value)
        await s.execute(delete(SlaTargetModel).where(SlaTargetModel.tier == tier))
        for priority, t in targets.items():
            s.add(
                SlaTargetModel(
                    tier=tier,
                    priority=priority,
                    response_s=t.response_s,
                    resolution_s=t.resolution_s,
                )
            )
        await s.flush()
        return await contract_in(s, tier)


# --- closure settings and addresses ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Closure:
    """An organisation's closure rules (no row: the defaults)."""

    organisation: str
    auto_close_after_s: int
    email_client: bool


async def closure_in(s: AsyncSession, organisation: str) -> Closure:
    """The closure rules of ``organisation`` (defaults: 72 h, no e-mail)."""
    m = await s.get(OrganisationClosureModel, organisation)
    if m is None:
        return Closure(organisation, DEFAULT_AUTO_CLOSE_S, False)
    return Closure(organisation, m.auto_close_after_s, m.email_client)


async def get_closure(db: Database, organisation: str) -> Closure:
    """See :func:`closure_in`."""
    async with db.sessions() as s:
        return await closure_in(s, organisation)


async def list_closures(db: Database) -> list[Closure]:
    """Every organisation's explicit closure rules."""
    async with db.sessions() as s:
        rows = await s.scalars(
            select(OrganisationClosureModel).order_by(OrganisationClosureModel.organisation)
        )
        return [Closure(m.organisation, m.auto_close_after_s, m.email_client) for m in rows]


async def put_closure(
    db: Database, organisation: str, *, auto_close_after_s: int, email_client: bool, at: int
) -> Closure:
    """Set an organisation's closure rules."""
    async with db.sessions.begin() as s:
        m = await s.get(OrganisationClosureModel, organisation)
        if m is None:
            s.add(
                OrganisationClosureModel(
                    organisation=organisation,
                    auto_close_after_s=auto_close_after_s,
                    email_client=email_client,
                    updated_at_ms=at,
                )
            )
        else:
            m.auto_close_after_s, m.email_client, m.updated_at_ms = (
                auto_close_after_s,
                email_client,
                at,
            )
    return Closure(organisation, auto_close_after_s, email_client)


async def put_notify_address(db: Database, user_id: str, email: str | None) -> None:
    """Set (or with None, remove) a staff member's e-mail for escalations."""
    async with db.sessions.begin() as s:
        if await s.get(UserModel, user_id) is None:
            raise NotFound("no such user")
        m = await s.get(NotifyAddressModel, user_id)
        if email is None:
            if m is not None:
                await s.delete(m)
        elif m is None:
            s.add(NotifyAddressModel(user_id=user_id, email=email))
        else:
            m.email = email


async def list_notify_addresses(db: Database) -> dict[str, str]:
    """user id → e-mail address."""
    async with db.sessions() as s:
        return {m.user_id: m.email for m in await s.scalars(select(NotifyAddressModel))}


# --- a ticket's SLA attributes and timeline ---------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketSla:
    """A ticket's priority and the client's e-mail address."""

    ticket_id: str
    priority: str
    client_email: str | None


async def ticket_sla_in(s: AsyncSession, ticket_id: str) -> TicketSla:
    """The ticket's SLA attributes (``normal`` and no e-mail without a row)."""
    m = await s.get(TicketSlaModel, ticket_id)
    if m is None:
        return TicketSla(ticket_id, "normal", None)
    return TicketSla(ticket_id, m.priority, m.client_email)


async def get_ticket_sla(db: Database, ticket_id: str) -> TicketSla:
    """See :func:`ticket_sla_in`."""
    async with db.sessions() as s:
        return await ticket_sla_in(s, ticket_id)


async def put_ticket_sla(
    db: Database,
    ticket_id: str,
    *,
    priority: str | None,
    client_email: str | None,
    actor_id: str | None,
    at: int,
) -> TicketSla:
    """Change a ticket's priority and/or client e-mail (``""`` clears the e-mail); a
    priority change is written to the ticket's history."""
    async with db.sessions.begin() as s:
        ticket = await s.get(TicketModel, ticket_id, with_for_update=True)
        if ticket is None:
            raise NotFound("no such ticket")
        m = await s.get(TicketSlaModel, ticket_id)
        if m is None:
            m = TicketSlaModel(
                ticket_id=ticket_id, priority="normal", client_email=None, updated_at_ms=at
            )
            s.add(m)
        if priority is not None and priority != m.priority:
            record_change(
                s,
                ticket_id,
                at=at,
                actor_id=actor_id,
                field="priority",
                old=m.priority,
                new=priority,
            )
            m.priority = priority
        if client_email is not None:
            m.client_email = client_email or None
        m.updated_at_ms = at
        ticket.updated_at_ms = at
        return TicketSla(ticket_id, m.priority, m.client_email)


async def status_changes_in(s: AsyncSession, ticket_ids: Sequence[str]) -> dict[str, list[Change]]:
    """The status timeline of each ticket from its history (creation first)."""
    out: dict[str, list[Change]] = {tid: [] for tid in ticket_ids}
    if not ticket_ids:
        return out
    rows = await s.execute(
        select(TicketHistoryModel.ticket_id, TicketHistoryModel.at_ms, TicketHistoryModel.new_value)
        .where(
            TicketHistoryModel.field == "status",
            TicketHistoryModel.ticket_id.in_(list(ticket_ids)),
        )
        .order_by(TicketHistoryModel.ticket_id, TicketHistoryModel.at_ms, TicketHistoryModel.id)
    )
    for tid, at_ms, value in rows.all():
        out[tid].append(Change(at_ms, value or "new"))
    return out


def check_calendar_json(data: object) -> Calendar:
    """:class:`InvalidField` (``calendar.<field>``) for a bad definition."""
    if not isinstance(data, dict):
        raise InvalidField("calendar", "must be an object")
    try:
        return Calendar.from_json(data)
    except CalendarError as exc:
        raise InvalidField(exc.field, exc.message) from None


async def ticket_clocks(
    db: Database, ticket_id: str, now: int
) -> tuple[Contract, TicketSla, list[ClockState]]:
    """A ticket's contract, SLA attributes and both clocks as of ``now``."""
    async with db.sessions() as s:
        ticket = await s.get(TicketModel, ticket_id)
        if ticket is None:
            raise NotFound("no such ticket")
        contract = await contract_in(s, ticket.tier)
        sla = await ticket_sla_in(s, ticket_id)
        changes = (await status_changes_in(s, [ticket_id]))[ticket_id]
    clocks = [
        measure(contract.calendar, rule, changes, now) for rule in contract.rules(sla.priority)
    ]
    return contract, sla, clocks
