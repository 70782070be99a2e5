"""SQLAlchemy 2 typed ORM models. Only broker/store/ touches these; handlers and the
relay call the query functions in :mod:`broker.store.queries`.

Times are integer epoch milliseconds (``*_ms``); ids are random strings.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "EscalationModel",
    "InvitationModel",
    "LoginAttemptModel",
    "SessionModel",
    "SlaTierModel",
    "TicketModel",
    "UserModel",
]


class Base(DeclarativeBase):
    """Declarative base of every broker table."""


class UserModel(Base):
    """A staff member: engineer, supervisor, reviewer or admin."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    # security (issue 14): the organisations/groups whose tickets this user works on;
    # a token carries the ``token_generation`` it was issued under; disabling the user or
    # changing their password or role increments it, which revokes every older token; TOTP secret and hashed recovery codes for staff MFA.
    organisations: Mapped[list[str]] = mapped_column(JSON, default=list)
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    mfa_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mfa_recovery: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A one-time password (first admin, generated, reset by an admin) is to be replaced.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)


class SlaTierModel(Base):
    """A contract tier: how soon a waiting request must be answered."""

    __tablename__ = "sla_tiers"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    answer_within_s: Mapped[int] = mapped_column(Integer)


class TicketModel(Base):
    """A help-desk ticket; every session belongs to one (G9)."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status", "status"),
        Index("ix_tickets_external_ref", "external_ref"),  # the help desk's exact lookup
        # Issue 18: one ticket per (help desk, its reference); NULL sources are not unique.
        Index("uq_tickets_external", "external_source", "external_ref", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    tier: Mapped[str] = mapped_column(ForeignKey("sla_tiers.name"))
    external_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The help desk (source system) that ``external_ref`` belongs to, e.g. "zammad".
    external_source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(24), default="new")  # broker/lifecycle.py
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    # The engineer working on it, and the client's incident manager (DESIGN §10).
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class TicketHistoryModel(Base):
    """One change of one field of a ticket: who (None: the broker or the client), when,
    from what to what."""

    __tablename__ = "ticket_history"
    __table_args__ = (Index("ix_ticket_history_ticket", "ticket_id", "at_ms"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)


class SessionModel(Base):
    """One remote-assistance session (protocol/SPEC.md §5 states)."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_state_deadline", "state", "deadline_ms"),
        Index("ix_sessions_ticket", "ticket_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    state: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))  # "request" | "invitation"
    client_name: Mapped[str] = mapped_column(String(200))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    state_changed_at_ms: Mapped[int] = mapped_column(BigInteger)
    deadline_ms: Mapped[int] = mapped_column(BigInteger)
    assigned_engineer_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    engineer_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    answered_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ended_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    rating_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rating_comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class InvitationModel(Base):
    """A single-use code that lets a client join a ticket; only its hash is stored."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    used_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"), nullable=True)


class EscalationModel(Base):
    """A waiting request that passed the escalation fraction of its SLA deadline."""

    __tablename__ = "escalations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), unique=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    deadline_ms: Mapped[int] = mapped_column(BigInteger)


class LoginAttemptModel(Base):
    """Failed logins per (username, client address), for throttling."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_ms: Mapped[int] = mapped_column(BigInteger)
    locked_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
