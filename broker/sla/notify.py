"""Webhook events of the SLA workflow (``sla.at_risk``, ``sla.breached``,
``escalation.raised``, ``escalation.acknowledged``; docs/webhooks.md), written into the
outbox in the caller's transaction.

:mod:`broker.webhooks` is imported when an event is written, not when this module is:
that package wires its admin routes into the API, whose SLA routes import this package,
so a module-level import would close a circle at start-up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from broker.store.models import TicketModel

__all__ = ["announce", "ticket_ref"]


async def announce(
    s: AsyncSession, event_type: str, payload: dict[str, Any], *, subject_id: str, at_ms: int
) -> None:
    """Queue ``event_type`` in ``s``'s transaction (an unknown type raises ValueError)."""
    from broker.webhooks.capture import emit

    await emit(s, event_type, payload, subject_id=subject_id, at_ms=at_ms)


def ticket_ref(t: TicketModel) -> dict[str, Any]:
    """The ticket as events name it (:func:`broker.webhooks.events.ticket_ref`)."""
    from broker.webhooks.events import ticket_ref as ref

    return ref(t)
