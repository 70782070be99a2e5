"""The SLA scheduler (DESIGN §8, §10): one pass looks at every open ticket, derives its
response and resolution clocks from the stored status history (broker/sla/clock.py)
and records what is due — at risk, breached, each escalation level, the closure
question, the auto-close — then tells people (webhook, e-mail, viewer; the client
through the session log).

Correct across restarts: nothing lives in memory between passes. Every fact is
recorded once under a unique key (``sla_marks``, ``sla_escalations``) in the same
transaction as its notifications, so a pass that dies rolls back whole and the next
one (on this node after a restart, or on another) does it again, once.

Runs once across nodes: on PostgreSQL the pass holds a transaction-level advisory
lock taken with ``try`` — a node that finds it taken skips the pass — and the unique
keys back that up (a racing duplicate would roll back, not notify twice).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from broker.clock import Clock, iso_ms
from broker.lifecycle import allowed
from broker.mail import queue_mail
from broker.sla.clock import ClockState, measure
from broker.sla.contracts import Contract, Level
from broker.sla.notify import announce, ticket_ref
from broker.sla.store import TicketSla, closure_in, contract_in, status_changes_in
from broker.sla.texts import (
    closed_mail,
    closure_mail,
    escalation_mail,
    progress_mail,
    reminder_mail,
)
from broker.store.db import Database
from broker.store.models import SessionModel, TicketModel, UserModel
from broker.store.queries import WAITING_STATES, new_id
from broker.store.queries.ticket_history import set_field
from broker.store.sla_models import (
    NotifyAddressModel,
    SlaEscalationModel,
    SlaMarkModel,
    TicketSlaModel,
)

__all__ = ["SLA_LOCK_KEY", "Pass", "SlaScheduler", "clock_json", "escalation_payload", "sla_event"]

log = logging.getLogger(__name__)

SLA_LOCK_KEY = 0x436C7061_6E650019
"""The PostgreSQL advisory lock of an SLA pass (one node at a time)."""

STAFF_ROLES = ("engineer", "supervisor", "admin")
# How often one unacknowledged level is sent again, at most.
MAX_REMINDERS = 3
# Statuses the client hears about by e-mail (resolved and closed have their own mail).
PROGRESS_STATUSES = frozenset({"in_progress", "waiting_for_client", "pending_vendor"})


@dataclass
class Pass:
    """What one pass recorded (empty when another node held the lock)."""

    at_risk: list[tuple[str, str]] = field(default_factory=list)  # (ticket id, clock)
    breached: list[tuple[str, str]] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)  # escalation ids
    asked: list[str] = field(default_factory=list)  # tickets whose client was asked
    closed: list[str] = field(default_factory=list)  # tickets auto-closed
    progress: list[str] = field(default_factory=list)  # tickets whose client was e-mailed
    reminded: list[str] = field(default_factory=list)  # escalations sent again
    told_clients: list[str] = field(default_factory=list)  # sessions told "supervisor"
    skipped: bool = False


def clock_json(state: ClockState, calendar_name: str | None) -> dict[str, Any]:
    """A clock as the API and the webhooks show it."""
    return {
        "clock": state.rule.name,
        "state": state.state,
        "target_s": state.target_ms / 1000,
        "elapsed_s": state.elapsed_ms / 1000,
        "remaining_s": state.remaining_ms / 1000,
        "fraction": round(state.fraction, 4),
        "due": iso_ms(state.due_ms),
        "breached": state.breached,
        "breached_at": iso_ms(state.breached_at_ms),
        "calendar": calendar_name,
    }


class _Staff:
    """The enabled staff, their skills and addresses, loaded once per pass."""

    def __init__(self, users: Iterable[UserModel], addresses: dict[str, str]) -> None:
        self.users = [u for u in users if not u.disabled and u.role in STAFF_ROLES]
        self.addresses = addresses

    def supervisors(self) -> list[str]:
        return sorted(u.id for u in self.users if u.role == "supervisor")

    def with_skill(self, skill: str) -> list[str]:
        return sorted(u.id for u in self.users if skill in (u.skills or ()))

    def recipients(self, level: Level, ticket: TicketModel) -> list[str]:
        """Who a level goes to (module docstring of broker/sla/contracts.py)."""
        if level.to == "assignee":
            return [ticket.assignee_id] if ticket.assignee_id else self.supervisors()
        if level.to == "owner":
            return [ticket.owner_id] if ticket.owner_id else self.supervisors()
        if level.to == "group":
            return self.with_skill(level.skill or "")
        return self.supervisors()


class SlaScheduler:
    """One pass at a time (:meth:`run_once`). ``tell_client(session_id)`` puts "your
    request was passed to a supervisor" in a waiting session's log (the relay);
    ``mail`` says whether e-mail is configured; ``on_mail`` wakes the mail worker."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        mail: bool,
        tell_client: Callable[[str], Awaitable[bool]] | None = None,
        on_mail: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._mail = mail
        self._tell_client = tell_client
        self._on_mail = on_mail

    async def run_once(self) -> Pass:
        """Record and announce everything due now (module docstring)."""
        now = self._clock.now_ms()
        result = Pass()
        try:
            async with self._db.sessions.begin() as s:
                if not self._db.is_sqlite and not await s.scalar(
                    select(func.pg_try_advisory_xact_lock(SLA_LOCK_KEY))
                ):
                    result.skipped = True
                    return result
                await self._pass(s, now, result)
        except IntegrityError:
            # Another node recorded the same fact first (a unique key): this whole pass
            # rolled back, notifications included; the next pass starts from its work.
            log.info("SLA pass lost a race with another node; rolled back")
            return Pass(skipped=True)
        if result.raised or result.asked or result.closed:
            log.info(
                "SLA pass: %d raised, %d at risk, %d breached, %d asked, %d closed",
                len(result.raised),
                len(result.at_risk),
                len(result.breached),
                len(result.asked),
                len(result.closed),
            )
        if self._mail and self._on_mail is not None:
            self._on_mail()
        if self._tell_client is not None:
            for sid in result.told_clients:
                await self._tell_client(sid)
        return result

    async def _pass(self, s: AsyncSession, now: int, result: Pass) -> None:
        tickets = list(await s.scalars(select(TicketModel).where(TicketModel.status != "closed")))
        if not tickets:
            return
        ids = [t.id for t in tickets]
        changes = await status_changes_in(s, ids)
        raised = {
            (tid, key)
            for tid, key in (
                await s.execute(
                    select(SlaEscalationModel.ticket_id, SlaEscalationModel.level_key).where(
                        SlaEscalationModel.ticket_id.in_(ids)
                    )
                )
            ).all()
        }
        unacknowledged: dict[str, list[SlaEscalationModel]] = {}
        for m in await s.scalars(
            select(SlaEscalationModel).where(
                SlaEscalationModel.ticket_id.in_(ids),
                SlaEscalationModel.acknowledged_at_ms.is_(None),
            )
        ):
            unacknowledged.setdefault(m.ticket_id, []).append(m)
        marks = {
            (tid, kind, episode)
            for tid, kind, episode in (
                await s.execute(
                    select(SlaMarkModel.ticket_id, SlaMarkModel.kind, SlaMarkModel.episode).where(
                        SlaMarkModel.ticket_id.in_(ids)
                    )
                )
            ).all()
        }
        slas = {
            m.ticket_id: TicketSla(m.ticket_id, m.priority, m.client_email)
            for m in await s.scalars(
                select(TicketSlaModel).where(TicketSlaModel.ticket_id.in_(ids))
            )
        }
        addresses = {m.user_id: m.email for m in await s.scalars(select(NotifyAddressModel))}
        staff = _Staff(await s.scalars(select(UserModel)), addresses)
        contracts: dict[str, Contract] = {}
        for t in tickets:
            if t.tier not in contracts:
                contracts[t.tier] = await contract_in(s, t.tier)
            contract = contracts[t.tier]
            history = changes[t.id] or []
            if not history:
                continue  # a ticket without a recorded creation has no clock
            sla = slas.get(t.id) or TicketSla(t.id, "normal", None)
            for rule in contract.rules(sla.priority):
                state = measure(contract.calendar, rule, history, now)
                await self._clock_facts(s, t, contract, state, marks, raised, staff, now, result)
            if t.status not in ("resolved", "closed"):
                self._remind(s, t, contract, unacknowledged.get(t.id, ()), staff, now, result)
            if t.status == "resolved":
                await self._closure(s, t, history[-1].at_ms, sla.client_email, marks, now, result)
            elif t.status in PROGRESS_STATUSES and sla.client_email and self._mail:
                await self._progress(s, t, history[-1].at_ms, sla.client_email, marks, now, result)

    def _mark(
        self,
        s: AsyncSession,
        marks: set[tuple[str, str, int]],
        t: TicketModel,
        kind: str,
        episode: int,
        at: int,
        now: int,
    ) -> bool:
        """Record a mark once; whether it is new."""
        if (t.id, kind, episode) in marks:
            return False
        marks.add((t.id, kind, episode))
        s.add(
            SlaMarkModel(ticket_id=t.id, kind=kind, episode=episode, at_ms=at, recorded_at_ms=now)
        )
        return True

    async def _clock_facts(
        self,
        s: AsyncSession,
        t: TicketModel,
        contract: Contract,
        state: ClockState,
        marks: set[tuple[str, str, int]],
        raised: set[tuple[str, str]],
        staff: _Staff,
        now: int,
        result: Pass,
    ) -> None:
        name = state.rule.name
        cal = contract.calendar
        data = sla_event(t, state, contract.calendar_name, now)
        breached_at = state.breached_at_ms
        if breached_at is not None and self._mark(
            s, marks, t, f"{name}.breached", 0, breached_at, now
        ):
            await announce(s, "sla.breached", data, subject_id=t.id, at_ms=now)
            result.breached.append((t.id, name))
        if state.state == "stopped":
            return  # met (or resolved): nothing left to warn about
        if state.fraction >= contract.at_risk and not state.breached:
            at = state.reached_at(cal, contract.at_risk) or now
            if self._mark(s, marks, t, f"{name}.at_risk", 0, at, now):
                await announce(s, "sla.at_risk", data, subject_id=t.id, at_ms=now)
                result.at_risk.append((t.id, name))
        for level in contract.chain:
            if level.clock != name or state.fraction < level.at or (t.id, level.key) in raised:
                continue
            raised.add((t.id, level.key))
            await self._raise(s, t, contract, state, level, staff, now, result)

    async def _raise(
        self,
        s: AsyncSession,
        t: TicketModel,
        contract: Contract,
        state: ClockState,
        level: Level,
        staff: _Staff,
        now: int,
        result: Pass,
    ) -> None:
        recipients = staff.recipients(level, t)
        reached = state.reached_at(contract.calendar, level.at) or now
        m = SlaEscalationModel(
            id=new_id(),
            ticket_id=t.id,
            level_key=level.key,
            clock=level.clock,
            fraction=level.at,
            target=level.to,
            skill=level.skill,
            recipients=recipients,
            reached_at_ms=reached,
            raised_at_ms=now,
            notified_at_ms=now,
            reminders=0,
            due_at_ms=state.due_ms if not state.breached else state.breached_at_ms,
        )
        s.add(m)
        result.raised.append(m.id)
        payload = {
            "escalation": {**escalation_payload(m), "level": contract.chain.index(level)},
            "ticket": ticket_ref(t),
            "sla": clock_json(state, contract.calendar_name),
        }
        await announce(s, "escalation.raised", payload, subject_id=t.id, at_ms=now)
        if self._mail:
            subject, body = escalation_mail(t.title, t.id, level, state)
            for uid in recipients:
                if uid in staff.addresses:
                    queue_mail(s, to=staff.addresses[uid], subject=subject, body=body, at=now)
        if level.to == "supervisor":
            # The client is told as designed (agent/locallog.py "session.escalated").
            waiting = await s.scalars(
                select(SessionModel.id).where(
                    SessionModel.ticket_id == t.id, SessionModel.state.in_(WAITING_STATES)
                )
            )
            result.told_clients.extend(waiting)

    def _remind(
        self,
        s: AsyncSession,
        t: TicketModel,
        contract: Contract,
        open_levels: Iterable[SlaEscalationModel],
        staff: _Staff,
        now: int,
        result: Pass,
    ) -> None:
        """Send a level nobody acknowledged again, every ``remind_after_s``, at most
        :data:`MAX_REMINDERS` times (acknowledging stops it)."""
        every = contract.remind_after_s * 1000
        if every <= 0:
            return
        for m in open_levels:
            last = m.notified_at_ms or m.raised_at_ms
            if m.reminders >= MAX_REMINDERS or now - last < every:
                continue
            m.reminders += 1
            m.notified_at_ms = now
            result.reminded.append(m.id)
            if self._mail:
                subject, body = reminder_mail(t.title, t.id, m.clock, m.fraction, m.reminders)
                for uid in m.recipients or ():
                    if uid in staff.addresses:
                        queue_mail(s, to=staff.addresses[uid], subject=subject, body=body, at=now)

    async def _progress(
        self,
        s: AsyncSession,
        t: TicketModel,
        since: int,
        client_email: str,
        marks: set[tuple[str, str, int]],
        now: int,
        result: Pass,
    ) -> None:
        """Tell the client by e-mail where their request now stands (once per status
        change), where the organisation enables e-mail to clients."""
        rules = await closure_in(s, t.organisation)
        if not rules.email_client:
            return
        if self._mark(s, marks, t, f"progress.{t.status}", since, since, now):
            subject, body = progress_mail(t.title, t.status)
            queue_mail(s, to=client_email, subject=subject, body=body, at=now)
            result.progress.append(t.id)

    async def _closure(
        self,
        s: AsyncSession,
        t: TicketModel,
        resolved_at: int,
        client_email: str | None,
        marks: set[tuple[str, str, int]],
        now: int,
        result: Pass,
    ) -> None:
        rules = await closure_in(s, t.organisation)
        mail_client = self._mail and rules.email_client and client_email
        if self._mark(s, marks, t, "closure.asked", resolved_at, resolved_at, now):
            result.asked.append(t.id)
            if mail_client:
                assert client_email is not None
                subject, body = closure_mail(t.title, t.resolution, rules.auto_close_after_s)
                queue_mail(s, to=client_email, subject=subject, body=body, at=now)
        # Calendar time, not business time: the client had this long to answer.
        if now - resolved_at >= rules.auto_close_after_s * 1000 and allowed(t.status, "closed"):
            set_field(s, t, "status", "closed", at=now, actor_id=None)
            t.updated_at_ms = now
            self._mark(s, marks, t, "closure.auto", resolved_at, now, now)
            result.closed.append(t.id)
            if mail_client:
                assert client_email is not None
                subject, body = closed_mail(t.title, automatic=True)
                queue_mail(s, to=client_email, subject=subject, body=body, at=now)


def sla_event(
    t: TicketModel, state: ClockState, calendar_name: str | None, now: int
) -> dict[str, Any]:
    """The ``data`` of ``sla.at_risk`` / ``sla.breached`` (schema v1: ``clock`` names
    the clock, ``due_at`` is when it runs out — or ran out; ``sla`` has the figures)."""
    due = state.due_ms if state.due_ms is not None else state.breached_at_ms
    return {
        "ticket": ticket_ref(t),
        "clock": state.rule.name,
        "due_at": iso_ms(due if due is not None else now),
        "remaining_s": state.remaining_ms / 1000,
        "sla": clock_json(state, calendar_name),
    }


def escalation_payload(m: SlaEscalationModel) -> dict[str, Any]:
    """An escalation as webhooks show it (schema v1: ``notify`` names whom, by role;
    ``recipients`` the user ids; ``level`` its place in the chain)."""
    return {
        "id": m.id,
        "notify": [m.target],
        "reason": f"{m.clock} {round(m.fraction * 100)} %",
        "ticket_id": m.ticket_id,
        "clock": m.clock,
        "at": m.fraction,
        "to": m.target,
        "skill": m.skill,
        "recipients": list(m.recipients or ()),
        "reached_at": iso_ms(m.reached_at_ms),
        "raised_at": iso_ms(m.raised_at_ms),
        "due": iso_ms(m.due_at_ms),
        "acknowledged_by": m.acknowledged_by,
        "acknowledged_at": iso_ms(m.acknowledged_at_ms),
    }
