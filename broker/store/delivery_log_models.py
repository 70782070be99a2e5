"""The webhook delivery log (issue 18): one row per delivery *attempt* — when, the
HTTP status (None: no answer), how long it took, the error, whether an admin asked
for it — so that admins see every try, not only the last one (docs/webhooks.md).

Rows are written in the transaction that records the attempt's outcome
(broker/store/webhook_models.py ``record_success`` / ``record_failure``) and removed
with their delivery (endpoint deleted, retention passed)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from broker.store.db import Database
from broker.store.models import Base

__all__ = ["DeliveryAttempt", "WebhookAttemptModel", "add_attempt", "list_attempts"]

MAX_ERROR_LEN = 500


class WebhookAttemptModel(Base):
    """One attempt to send one delivery."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_delivery", "delivery_id", "attempt"),
        Index("ix_webhook_attempts_endpoint", "endpoint_id"),
        Index("ix_webhook_attempts_at", "at_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(32))
    endpoint_id: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)  # 1, 2, … for this delivery
    at_ms: Mapped[int] = mapped_column(BigInteger)  # when the request was sent
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)  # an admin's redelivery


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One attempt as admins see it."""

    attempt: int
    at_ms: int
    status: int | None
    latency_ms: int
    error: str | None
    manual: bool


def add_attempt(
    s: AsyncSession,
    *,
    delivery_id: str,
    endpoint_id: str,
    attempt: int,
    at_ms: int,
    status: int | None,
    latency_ms: int,
    error: str | None,
    manual: bool,
) -> None:
    """Log one attempt in the caller's transaction."""
    s.add(
        WebhookAttemptModel(
            delivery_id=delivery_id,
            endpoint_id=endpoint_id,
            attempt=attempt,
            at_ms=at_ms,
            status=status,
            latency_ms=max(0, latency_ms),
            error=None if error is None else error[:MAX_ERROR_LEN],
            manual=manual,
        )
    )


async def list_attempts(db: Database, delivery_id: str) -> list[DeliveryAttempt]:
    """Every attempt of a delivery, oldest first."""
    query = (
        select(WebhookAttemptModel)
        .where(WebhookAttemptModel.delivery_id == delivery_id)
        .order_by(WebhookAttemptModel.attempt, WebhookAttemptModel.id)
    )
    async with db.sessions() as s:
        return [
            DeliveryAttempt(m.attempt, m.at_ms, m.status, m.latency_ms, m.error, m.manual)
            for m in await s.scalars(query)
        ]
