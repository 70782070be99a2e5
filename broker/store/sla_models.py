"""Tables of the SLA workflow (issue 19, docs/workflow.md): calendars, contracts per
tier with their targets per priority, per-ticket SLA attributes, the escalations and
SLA marks the scheduler records (each once: unique keys), closure settings per
organisation, staff notification addresses and the mail outbox.

Clocks themselves are not stored: the scheduler derives them from the ticket history
(broker/sla/clock.py). What is stored is what was *done* about them, keyed so that a
second node or a restarted broker cannot do it twice.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from broker.store.models import Base

__all__ = [
    "MailOutboxModel",
    "NotifyAddressModel",
    "OrganisationClosureModel",
    "SlaCalendarModel",
    "SlaContractModel",
    "SlaEscalationModel",
    "SlaMarkModel",
    "SlaTargetModel",
    "TicketSlaModel",
]


class SlaCalendarModel(Base):
    """A business-hours calendar (``definition``: :meth:`Calendar.to_json`)."""

    __tablename__ = "sla_calendars"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, object]] = mapped_column(JSON)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


class SlaContractModel(Base):
    """How a tier's clocks run: calendar (None: 24×7), pause statuses, the at-risk
    fraction and the escalation chain (broker/sla/contracts.py)."""

    __tablename__ = "sla_contracts"

    tier: Mapped[str] = mapped_column(ForeignKey("sla_tiers.name"), primary_key=True)
    calendar: Mapped[str | None] = mapped_column(ForeignKey("sla_calendars.name"), nullable=True)
    pause_statuses: Mapped[list[str]] = mapped_column(JSON)
    at_risk_fraction: Mapped[float] = mapped_column(Float)
    chain: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    # An unacknowledged level is sent again this often (0: never; migration 1500).
    remind_after_s: Mapped[int] = mapped_column(Integer, default=3600)


class SlaTargetModel(Base):
    """Response and resolution targets (business seconds) of a tier × priority."""

    __tablename__ = "sla_targets"

    tier: Mapped[str] = mapped_column(ForeignKey("sla_tiers.name"), primary_key=True)
    priority: Mapped[str] = mapped_column(String(16), primary_key=True)
    response_s: Mapped[int] = mapped_column(Integer)
    resolution_s: Mapped[int] = mapped_column(Integer)


class TicketSlaModel(Base):
    """A ticket's priority and the client's e-mail address (no row: ``normal``)."""

    __tablename__ = "ticket_sla"

    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    priority: Mapped[str] = mapped_column(String(16))
    client_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


class SlaEscalationModel(Base):
    """One level of a ticket's escalation chain, raised once (``level_key`` names the
    level: clock, fraction, target), and who acknowledged it, when."""

    __tablename__ = "sla_escalations"
    __table_args__ = (
        UniqueConstraint("ticket_id", "level_key", name="uq_sla_escalations_level"),
        Index("ix_sla_escalations_open", "acknowledged_at_ms", "raised_at_ms"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    level_key: Mapped[str] = mapped_column(String(160))
    clock: Mapped[str] = mapped_column(String(16))
    fraction: Mapped[float] = mapped_column(Float)
    target: Mapped[str] = mapped_column(String(16))  # assignee | supervisor | owner | group
    skill: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    reached_at_ms: Mapped[int] = mapped_column(BigInteger)
    raised_at_ms: Mapped[int] = mapped_column(BigInteger)
    due_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    acknowledged_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Reminders of an unacknowledged level (migration 1500): the last notice, how many.
    notified_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reminders: Mapped[int] = mapped_column(Integer, default=0)


class SlaMarkModel(Base):
    """Something the scheduler did once per ticket (and ``episode``): a clock went at
    risk or breached (episode 0), the client was asked to confirm a resolution
    (episode = when the ticket was resolved)."""

    __tablename__ = "sla_marks"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "episode", name="uq_sla_marks_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(32))
    episode: Mapped[int] = mapped_column(BigInteger)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    recorded_at_ms: Mapped[int] = mapped_column(BigInteger)


class OrganisationClosureModel(Base):
    """An organisation's closure rules: auto-close a resolved ticket after
    ``auto_close_after_s`` of calendar time; e-mail the client on progress or not."""

    __tablename__ = "organisation_closure"

    organisation: Mapped[str] = mapped_column(String(200), primary_key=True)
    auto_close_after_s: Mapped[int] = mapped_column(Integer)
    email_client: Mapped[bool] = mapped_column(Boolean)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


class NotifyAddressModel(Base):
    """A staff member's e-mail address for escalations."""

    __tablename__ = "notify_addresses"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))


class MailOutboxModel(Base):
    """A message to send by SMTP, written in the transaction of what it reports and
    sent (retried with backoff) by the mail worker: ``pending`` → ``sent`` / ``failed``."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "state", "next_attempt_ms"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    next_attempt_ms: Mapped[int] = mapped_column(BigInteger)
    sent_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
