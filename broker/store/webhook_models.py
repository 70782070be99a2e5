"""Outbound webhooks: the endpoints admins register and the durable outbox.

One outbox row is one *delivery*: one event for one endpoint. Rows are written in the
same transaction as the change that causes the event (broker/webhooks/capture.py), so
an event is never lost and never announced for a change that rolled back. The
delivery worker (broker/webhooks/delivery.py) claims due rows, POSTs them and records
the result here; the row id is the ``X-Clearpane-Delivery`` header receivers use to
drop duplicates (delivery is at least once).

Only broker/store/ and broker/webhooks/ touch the models; the API and the worker call
the query functions below. Times are epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from broker.store.db import Database
from broker.store.delivery_log_models import WebhookAttemptModel, add_attempt
from broker.store.models import Base
from broker.store.queries import new_id

__all__ = [
    "DueDelivery",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEndpointModel",
    "WebhookOutboxModel",
    "add_outbox_rows",
    "claim_due",
    "create_endpoint",
    "delete_endpoint",
    "get_delivery",
    "get_delivery_body",
    "get_endpoint",
    "has_event",
    "list_deliveries",
    "list_endpoints",
    "prune_finished",
    "record_failure",
    "record_success",
    "redeliver",
]

MAX_ERROR_LEN = 500


class WebhookEndpointModel(Base):
    """An admin-registered receiver: URL, the event types it wants, its HMAC secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The HMAC key must be usable to sign, so it is stored as is (docs/webhooks.md).
    secret: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class WebhookOutboxModel(Base):
    """One delivery of one event to one endpoint, with its retry state."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        Index("ix_webhook_outbox_due", "next_attempt_at_ms"),
        Index("ix_webhook_outbox_endpoint", "endpoint_id", "created_at_ms"),
        Index("ix_webhook_outbox_subject", "subject_id", "event_type"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(32))
    # The session or ticket the event is about.
    subject_id: Mapped[str] = mapped_column(String(32))
    # The exact JSON body sent (and signed) on every attempt.
    body: Mapped[str] = mapped_column(Text)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # None once delivered or dead; otherwise when the worker may try (again).
    next_attempt_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    delivered_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    dead_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Set when an admin asked to send it again; the next attempt is logged as manual.
    redeliver_requested_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """A registered endpoint (the secret is never part of it)."""

    id: str
    url: str
    events: tuple[str, ...]
    description: str
    created_by: str | None
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One delivery's state, as admins see it."""

    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    subject_id: str
    created_at_ms: int
    attempts: int
    next_attempt_at_ms: int | None
    delivered_at_ms: int | None
    dead_at_ms: int | None
    last_status: int | None
    last_error: str | None

    @property
    def status(self) -> str:
        """``delivered``, ``dead`` or ``pending``."""
        if self.delivered_at_ms is not None:
            return "delivered"
        if self.dead_at_ms is not None:
            return "dead"
        return "pending"


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """What the worker needs to send one claimed delivery."""

    id: str
    event_id: str
    event_type: str
    body: str
    attempts: int
    url: str
    secret: str
    endpoint_id: str = ""
    manual: bool = False


def _endpoint(m: WebhookEndpointModel) -> WebhookEndpoint:
    return WebhookEndpoint(
        m.id, m.url, tuple(m.events or ()), m.description, m.created_by, m.created_at_ms
    )


def _delivery(m: WebhookOutboxModel) -> WebhookDelivery:
    return WebhookDelivery(
        m.id,
        m.endpoint_id,
        m.event_id,
        m.event_type,
        m.subject_id,
        m.created_at_ms,
        m.attempts,
        m.next_attempt_at_ms,
        m.delivered_at_ms,
        m.dead_at_ms,
        m.last_status,
        m.last_error,
    )


# --- endpoints -------------------------------------------------------------------------


async def create_endpoint(
    db: Database,
    *,
    url: str,
    events: Sequence[str],
    secret: str,
    description: str,
    created_by: str | None,
    at: int,
) -> WebhookEndpoint:
    """Register an endpoint (values checked by the caller)."""
    async with db.sessions.begin() as s:
        m = WebhookEndpointModel(
            id=new_id(),
            url=url,
            events=sorted(set(events)),
            secret=secret,
            description=description,
            created_by=created_by,
            created_at_ms=at,
        )
        s.add(m)
        await s.flush()
        return _endpoint(m)


async def list_endpoints(db: Database) -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    async with db.sessions() as s:
        rows = await s.scalars(
            select(WebhookEndpointModel).order_by(
                WebhookEndpointModel.created_at_ms, WebhookEndpointModel.id
            )
        )
        return [_endpoint(m) for m in rows]


async def get_endpoint(db: Database, endpoint_id: str) -> WebhookEndpoint | None:
    """The endpoint with this id, or None."""
    async with db.sessions() as s:
        m = await s.get(WebhookEndpointModel, endpoint_id)
        return _endpoint(m) if m else None


async def delete_endpoint(db: Database, endpoint_id: str) -> bool:
    """Remove an endpoint and its deliveries (pending ones are dropped); False if it
    did not exist."""
    async with db.sessions.begin() as s:
        m = await s.get(WebhookEndpointModel, endpoint_id)
        if m is None:
            return False
        await s.execute(
            delete(WebhookOutboxModel).where(WebhookOutboxModel.endpoint_id == endpoint_id)
        )
        await s.execute(
            delete(WebhookAttemptModel).where(WebhookAttemptModel.endpoint_id == endpoint_id)
        )
        await s.delete(m)
        return True


# --- the outbox ------------------------------------------------------------------------


def add_outbox_rows(
    session: Session,
    *,
    event_id: str,
    event_type: str,
    subject_id: str,
    body: str,
    at: int,
) -> list[str]:
    """Queue ``body`` for every endpoint subscribed to ``event_type``, inside the
    caller's (synchronous ORM) session and so its transaction; return the delivery
    ids. Does not flush: safe to call from a ``before_flush`` hook."""
    with session.no_autoflush:
        endpoints = session.scalars(select(WebhookEndpointModel)).all()
    ids: list[str] = []
    for endpoint in endpoints:
        if event_type not in (endpoint.events or ()):
            continue
        row = WebhookOutboxModel(
            id=new_id(),
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=event_type,
            subject_id=subject_id,
            body=body,
            created_at_ms=at,
            attempts=0,
            next_attempt_at_ms=at,
        )
        session.add(row)
        ids.append(row.id)
    return ids


def has_event(session: Session, event_type: str, subject_id: str) -> bool:
    """Whether an event of this type about this subject was already queued."""
    with session.no_autoflush:
        found = session.scalar(
            select(WebhookOutboxModel.id)
            .where(
                WebhookOutboxModel.subject_id == subject_id,
                WebhookOutboxModel.event_type == event_type,
            )
            .limit(1)
        )
    return found is not None


async def claim_due(db: Database, *, now: int, lease_ms: int, limit: int) -> list[DueDelivery]:
    """Take up to ``limit`` deliveries whose time has come, oldest first, and push
    their next attempt ``lease_ms`` ahead so that no other worker (or node) sends them
    meanwhile. A worker that dies mid-send leaves the row to be retried after the
    lease: delivery is at least once."""
    query = (
        select(WebhookOutboxModel, WebhookEndpointModel)
        .join(WebhookEndpointModel, WebhookEndpointModel.id == WebhookOutboxModel.endpoint_id)
        .where(WebhookOutboxModel.next_attempt_at_ms <= now)
        .order_by(WebhookOutboxModel.next_attempt_at_ms, WebhookOutboxModel.created_at_ms)
        .limit(limit)
    )
    async with db.sessions.begin() as s:
        if not db.is_sqlite:  # PostgreSQL: several nodes may poll the same outbox
            query = query.with_for_update(skip_locked=True, of=WebhookOutboxModel)
        claimed: list[DueDelivery] = []
        for row, endpoint in (await s.execute(query)).all():
            row.next_attempt_at_ms = now + lease_ms
            claimed.append(
                DueDelivery(
                    row.id,
                    row.event_id,
                    row.event_type,
                    row.body,
                    row.attempts,
                    endpoint.url,
                    endpoint.secret,
                    endpoint.id,
                    row.redeliver_requested_at_ms is not None,
                )
            )
        return claimed


async def record_success(
    db: Database,
    delivery_id: str,
    *,
    at: int,
    status: int,
    sent_at: int | None = None,
    latency_ms: int = 0,
) -> None:
    """The receiver answered 2xx: the delivery is done (the attempt, sent at
    ``sent_at`` and answered after ``latency_ms``, is logged)."""
    async with db.sessions.begin() as s:
        m = await s.get(WebhookOutboxModel, delivery_id)
        if m is None:  # the endpoint was deleted meanwhile
            return
        _log_attempt(s, m, at=at, sent_at=sent_at, latency_ms=latency_ms, status=status, error=None)
        m.attempts += 1
        m.delivered_at_ms = at
        m.next_attempt_at_ms = None
        m.last_status = status
        m.last_error = None


async def record_failure(
    db: Database,
    delivery_id: str,
    *,
    at: int,
    status: int | None,
    error: str,
    next_attempt_at: int | None,
    sent_at: int | None = None,
    latency_ms: int = 0,
) -> None:
    """An attempt failed: retry at ``next_attempt_at``, or give up (dead) when None."""
    async with db.sessions.begin() as s:
        m = await s.get(WebhookOutboxModel, delivery_id)
        if m is None:
            return
        _log_attempt(
            s, m, at=at, sent_at=sent_at, latency_ms=latency_ms, status=status, error=error
        )
        m.attempts += 1
        m.last_status = status
        m.last_error = error[:MAX_ERROR_LEN]
        m.next_attempt_at_ms = next_attempt_at
        if next_attempt_at is None:
            m.dead_at_ms = at


def _log_attempt(
    s: Any,
    m: WebhookOutboxModel,
    *,
    at: int,
    sent_at: int | None,
    latency_ms: int,
    status: int | None,
    error: str | None,
) -> None:
    add_attempt(
        s,
        delivery_id=m.id,
        endpoint_id=m.endpoint_id,
        attempt=m.attempts + 1,
        at_ms=sent_at if sent_at is not None else at,
        status=status,
        latency_ms=latency_ms,
        error=error,
        manual=m.redeliver_requested_at_ms is not None,
    )
    m.redeliver_requested_at_ms = None


async def redeliver(db: Database, endpoint_id: str, delivery_id: str, *, at: int) -> bool:
    """Send a delivery (delivered, dead or pending) again now: one more attempt,
    logged as manual. False if the endpoint has no such delivery."""
    async with db.sessions.begin() as s:
        m = await s.get(WebhookOutboxModel, delivery_id)
        if m is None or m.endpoint_id != endpoint_id:
            return False
        m.delivered_at_ms = None
        m.dead_at_ms = None
        m.next_attempt_at_ms = at
        m.redeliver_requested_at_ms = at
        return True


async def get_delivery_body(db: Database, delivery_id: str) -> str | None:
    """The exact JSON body a delivery sends, or None."""
    async with db.sessions() as s:
        m = await s.get(WebhookOutboxModel, delivery_id)
        return m.body if m else None


async def list_deliveries(
    db: Database, endpoint_id: str, *, status: str | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    """An endpoint's deliveries, newest first, optionally only ``pending``,
    ``delivered`` or ``dead`` ones."""
    query = select(WebhookOutboxModel).where(WebhookOutboxModel.endpoint_id == endpoint_id)
    if status == "delivered":
        query = query.where(WebhookOutboxModel.delivered_at_ms.is_not(None))
    elif status == "dead":
        query = query.where(WebhookOutboxModel.dead_at_ms.is_not(None))
    elif status == "pending":
        query = query.where(WebhookOutboxModel.next_attempt_at_ms.is_not(None))
    query = query.order_by(
        WebhookOutboxModel.created_at_ms.desc(), WebhookOutboxModel.id.desc()
    ).limit(limit)
    async with db.sessions() as s:
        return [_delivery(m) for m in await s.scalars(query)]


async def get_delivery(db: Database, delivery_id: str) -> WebhookDelivery | None:
    """One delivery, or None."""
    async with db.sessions() as s:
        m = await s.get(WebhookOutboxModel, delivery_id)
        return _delivery(m) if m else None


async def prune_finished(db: Database, *, before: int) -> int:
    """Delete delivered and dead deliveries created before ``before``; return how
    many. Pending ones are kept whatever their age."""
    finished = (
        WebhookOutboxModel.created_at_ms < before,
        WebhookOutboxModel.next_attempt_at_ms.is_(None),
    )
    async with db.sessions.begin() as s:
        await s.execute(
            delete(WebhookAttemptModel).where(
                WebhookAttemptModel.delivery_id.in_(select(WebhookOutboxModel.id).where(*finished))
            )
        )
        result = await s.execute(delete(WebhookOutboxModel).where(*finished))
        return int(getattr(result, "rowcount", 0) or 0)
