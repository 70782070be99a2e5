"""Constants and the frozen value objects the query functions return."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from broker.lifecycle import TICKET_STATUSES
from broker.store.models import SessionModel, TicketHistoryModel, TicketModel, UserModel

__all__ = [
    "END_REASONS",
    "ROLES",
    "SESSION_STATES",
    "TICKET_STATUSES",
    "WAITING_STATES",
    "Escalation",
    "Invitation",
    "LoginAttempt",
    "QueueItem",
    "SessionInfo",
    "SlaTier",
    "Ticket",
    "TicketChange",
    "User",
    "new_id",
    "session_with_names",
    "to_change",
    "to_session",
    "to_ticket",
    "to_user",
]

# "integration": a help desk's account; it works through API keys only (issue 18).
ROLES = ("engineer", "supervisor", "reviewer", "admin", "integration")
SESSION_STATES = ("requested", "waiting", "consent_pending", "live", "paused", "ended")
# States in which a request sits in the queue (nobody is connected to it).
WAITING_STATES = ("requested", "waiting")
END_REASONS = (
    "killed_by_client",
    "ended_by_engineer",
    "denied",
    "timed_out",
    "failed",
    "broker_shutdown",
)


def new_id() -> str:
    """A random 32-hex-digit id."""
    return uuid.uuid4().hex


# --- value objects -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class User:
    """A staff member (never carries the password hash)."""

    id: str
    username: str
    name: str
    role: str
    skills: tuple[str, ...]
    disabled: bool
    created_at_ms: int
    organisations: tuple[str, ...] = ()  # whose tickets the user works on (policy)
    token_generation: int = 0  # tokens of an older generation are revoked
    mfa_enabled: bool = False  # a TOTP secret is set
    must_change_password: bool = False


@dataclass(frozen=True, slots=True)
class SlaTier:
    """A contract tier and its time to answer."""

    name: str
    answer_within_s: int


@dataclass(frozen=True, slots=True)
class Ticket:
    """A help-desk ticket."""

    id: str
    title: str
    description: str
    organisation: str
    tier: str
    external_ref: str | None
    status: str
    skills: tuple[str, ...]
    resolution: str | None
    created_by: str | None
    created_at_ms: int
    updated_at_ms: int
    assignee_id: str | None = None  # the engineer working on it
    owner_id: str | None = None  # the client's incident manager
    external_source: str | None = None  # the help desk external_ref belongs to


@dataclass(frozen=True, slots=True)
class TicketChange:
    """One entry of a ticket's history (values as text; None: unset)."""

    at_ms: int
    actor_id: str | None
    actor_name: str | None
    field: str
    old_value: str | None
    new_value: str | None


def to_change(m: TicketHistoryModel, actor_name: str | None) -> TicketChange:
    return TicketChange(m.at_ms, m.actor_id, actor_name, m.field, m.old_value, m.new_value)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session row: state, SLA deadline, who answered, how it ended, the rating."""

    id: str
    ticket_id: str
    state: str
    origin: str
    client_name: str
    created_at_ms: int
    state_changed_at_ms: int
    deadline_ms: int
    assigned_engineer_id: str | None
    engineer_id: str | None
    answered_at_ms: int | None
    ended_at_ms: int | None
    end_reason: str | None
    resolution: str | None
    rating_score: int | None
    rating_comment: str | None
    # Joined for display: the ticket's title and the answering engineer's name.
    title: str
    engineer_name: str | None

    @property
    def time_to_answer_ms(self) -> int | None:
        """How long the client waited for the first engineer."""
        if self.answered_at_ms is None:
            return None
        return self.answered_at_ms - self.created_at_ms


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A waiting session with what the queue shows about its ticket."""

    session: SessionInfo
    ticket_title: str
    organisation: str
    tier: str
    skills: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Invitation:
    """A created invitation (the code itself is never stored)."""

    id: str
    ticket_id: str
    created_by: str
    created_at_ms: int
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class Escalation:
    """A waiting request that passed the escalation point of its deadline."""

    id: str
    session_id: str
    ticket_id: str
    created_at_ms: int
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """Failed logins for one (username, address) key."""

    key: str
    failures: int
    last_failure_ms: int
    locked_until_ms: int


def to_user(m: UserModel) -> User:
    return User(
        m.id,
        m.username,
        m.name,
        m.role,
        tuple(m.skills or ()),
        m.disabled,
        m.created_at_ms,
        tuple(m.organisations or ()),
        m.token_generation or 0,
        m.mfa_secret is not None,
        bool(m.must_change_password),
    )


def to_ticket(m: TicketModel) -> Ticket:
    return Ticket(
        m.id,
        m.title,
        m.description,
        m.organisation,
        m.tier,
        m.external_ref,
        m.status,
        tuple(m.skills or ()),
        m.resolution,
        m.created_by,
        m.created_at_ms,
        m.updated_at_ms,
        m.assignee_id,
        m.owner_id,
        m.external_source,
    )


def to_session(m: SessionModel, title: str, engineer_name: str | None) -> SessionInfo:
    """The value object of a session row, with its ticket's title and the name of
    the engineer who answered (None while nobody has)."""
    return SessionInfo(
        m.id,
        m.ticket_id,
        m.state,
        m.origin,
        m.client_name,
        m.created_at_ms,
        m.state_changed_at_ms,
        m.deadline_ms,
        m.assigned_engineer_id,
        m.engineer_id,
        m.answered_at_ms,
        m.ended_at_ms,
        m.end_reason,
        m.resolution,
        m.rating_score,
        m.rating_comment,
        title,
        engineer_name,
    )


async def session_with_names(s: AsyncSession, m: SessionModel) -> SessionInfo:
    """:func:`to_session` for one row, looking up the ticket title and engineer name
    in the same transaction (identity-map cached)."""
    ticket = await s.get(TicketModel, m.ticket_id)
    engineer = await s.get(UserModel, m.engineer_id) if m.engineer_id else None
    return to_session(m, ticket.title if ticket else "", engineer.name if engineer else None)
