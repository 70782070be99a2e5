"""Webhook events of the SLA workflow (``sla.at_risk``, ``sla.breached``,
``escalation.raised``, ``escalation.acknowledged``; docs/webhooks.md), written into the
outbox in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from broker.store.models import TicketModel
from broker.webhooks.capture import emit
from broker.webhooks.events import ticket_ref as ref

__all__ = ["announce", "ticket_ref"]


async def announce(
    s: AsyncSession, event_type: str, payload: dict[str, Any], *, subject_id: str, at_ms: int
) -> None:
    """Queue ``event_type`` in ``s``'s transaction (an unknown type raises ValueError)."""
    await emit(s, event_type, payload, subject_id=subject_id, at_ms=at_ms)


def ticket_ref(t: TicketModel) -> dict[str, Any]:
    """The ticket as events name it (:func:`broker.webhooks.events.ticket_ref`)."""
    return ref(t)
