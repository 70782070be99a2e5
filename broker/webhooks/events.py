"""Webhook event types and the JSON bodies sent for them (docs/webhooks.md).

Every body is an envelope ``{"id", "type", "version", "occurred_at", "data"}``; ``id``
is the event id (the same for every endpoint), ``version`` the version of that type's
``data`` (:data:`EVENT_VERSIONS`; a change that is not backward compatible becomes a
new version), ``data`` holds the ticket and/or session as they are after the change.
Each ``(type, version)`` has a JSON Schema in broker/webhooks/schemas/<type>.v<N>.json
(shipped in the package, served at ``GET /api/v1/webhooks/schemas``). Bodies are
serialised once, stored in the outbox and sent byte for byte on every attempt (the
signature covers those bytes).

How other parts of the broker announce something (the stable entry point)::

    from broker.webhooks import emit_event

    await emit_event(target, "sla.at_risk", payload, subject_id=ticket_id)

* ``target``: an open ``AsyncSession`` (the event joins that transaction: it is sent
  only if it commits — preferred), a :class:`~broker.store.db.Database` or the
  ``web.Application`` (a transaction of its own, right after the change).
* ``type``: one of :data:`EVENT_TYPES`; ``payload`` becomes ``data`` and must match
  the type's schema (tests validate every emitted event; see tests/broker/
  test_webhook_events.py); ``subject_id`` is the session/ticket it is about;
  ``at_ms`` defaults to the app clock (or wall time for a bare database).
* It returns the delivery ids (empty when no endpoint subscribes) and never sends
  anything itself: the delivery worker does, signed, with retries.

Payload builders for the common shapes are :func:`ticket_data`, :func:`ticket_ref`
and :func:`session_data`.
"""

from __future__ import annotations

import json
from typing import Any, Final

from broker.clock import iso_ms
from broker.store.models import SessionModel, TicketModel, UserModel

__all__ = [
    "CONSENT_DENIED",
    "CONSENT_GRANTED",
    "CONSENT_REVOKED",
    "ESCALATION_ACKNOWLEDGED",
    "ESCALATION_RAISED",
    "EVENT_TYPES",
    "EVENT_VERSIONS",
    "QUEUE_ANSWERED",
    "QUEUE_ENTERED",
    "RECORDING_AVAILABLE",
    "RECORDING_RESTORED",
    "RECORDING_UNAVAILABLE",
    "SECURITY_ALERT",
    "SESSION_ENDED",
    "SESSION_RATED",
    "SESSION_REQUESTED",
    "SESSION_STARTED",
    "SESSION_SUMMARY",
    "SESSION_TRANSFERRED",
    "SLA_AT_RISK",
    "SLA_BREACHED",
    "TICKET_CLIENT_OPENED",
    "TICKET_CREATED",
    "TICKET_UPDATED",
    "envelope",
    "session_data",
    "ticket_data",
    "ticket_ref",
]

SESSION_REQUESTED: Final = "session.requested"
SESSION_STARTED: Final = "session.started"
SESSION_ENDED: Final = "session.ended"
SESSION_RATED: Final = "session.rated"
TICKET_CREATED: Final = "ticket.created"
TICKET_UPDATED: Final = "ticket.updated"
RECORDING_UNAVAILABLE: Final = "recording.unavailable"
RECORDING_RESTORED: Final = "recording.restored"
#: Issue 14: a defence tripped (e.g. invitation-code guessing); ``data.kind`` says which.
SECURITY_ALERT: Final = "security.alert"
# Issue 18: the full event set.
#: A client opened a ticket themselves (the agent's request): the help desk may create
#: its twin and link it back with ``PUT /tickets/{id}/external-ref``.
TICKET_CLIENT_OPENED: Final = "ticket.client_opened"
QUEUE_ENTERED: Final = "queue.entered"
QUEUE_ANSWERED: Final = "queue.answered"
SLA_AT_RISK: Final = "sla.at_risk"
SLA_BREACHED: Final = "sla.breached"
ESCALATION_RAISED: Final = "escalation.raised"
ESCALATION_ACKNOWLEDGED: Final = "escalation.acknowledged"
CONSENT_GRANTED: Final = "consent.granted"
CONSENT_DENIED: Final = "consent.denied"
CONSENT_REVOKED: Final = "consent.revoked"
SESSION_TRANSFERRED: Final = "session.transferred"
RECORDING_AVAILABLE: Final = "recording.available"
#: The signed session summary (broker/summary/), sent once the session has ended.
SESSION_SUMMARY: Final = "session.summary"

EVENT_TYPES: Final = (
    SESSION_REQUESTED,
    SESSION_STARTED,
    SESSION_ENDED,
    SESSION_RATED,
    TICKET_CREATED,
    TICKET_UPDATED,
    RECORDING_UNAVAILABLE,
    RECORDING_RESTORED,
    SECURITY_ALERT,
    TICKET_CLIENT_OPENED,
    QUEUE_ENTERED,
    QUEUE_ANSWERED,
    SLA_AT_RISK,
    SLA_BREACHED,
    ESCALATION_RAISED,
    ESCALATION_ACKNOWLEDGED,
    CONSENT_GRANTED,
    CONSENT_DENIED,
    CONSENT_REVOKED,
    SESSION_TRANSFERRED,
    RECORDING_AVAILABLE,
    SESSION_SUMMARY,
)

#: The current ``version`` of each type's ``data`` (all 1 so far; docs/webhooks.md).
EVENT_VERSIONS: Final[dict[str, int]] = dict.fromkeys(EVENT_TYPES, 1)


def envelope(event_id: str, event_type: str, at_ms: int, data: dict[str, Any]) -> str:
    """The JSON body of one event (compact, keys sorted: stable bytes)."""
    return json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "version": EVENT_VERSIONS[event_type],
            "occurred_at": iso_ms(at_ms),
            "data": data,
        },
        separators=(",", ":"),
        sort_keys=True,
        ensure_ascii=False,
    )


def ticket_data(t: TicketModel) -> dict[str, Any]:
    """A ticket as webhooks show it (the same fields as the API's ticket)."""
    return {
        "id": t.id,
        "title": t.title,
        "description": t.description,
        "organisation": t.organisation,
        "tier": t.tier,
        "external_ref": t.external_ref,
        "external_source": t.external_source,
        "status": t.status,
        "skills": list(t.skills or ()),
        "resolution": t.resolution,
        "created_at": iso_ms(t.created_at_ms),
        "updated_at": iso_ms(t.updated_at_ms),
    }


def ticket_ref(t: TicketModel) -> dict[str, Any]:
    """The ticket a session event belongs to: enough to find it in the help desk (the
    full ticket, resolution included, comes with ``ticket.*`` events)."""
    return {
        "id": t.id,
        "title": t.title,
        "organisation": t.organisation,
        "tier": t.tier,
        "external_ref": t.external_ref,
        "external_source": t.external_source,
        "status": t.status,
    }


def session_data(s: SessionModel, engineer: UserModel | None) -> dict[str, Any]:
    """A session summary: state, outcome, time to answer, duration (first answer to
    end; None if nobody answered), resolution, rating, the answering engineer and the
    ticket id."""
    answered, ended = s.answered_at_ms, s.ended_at_ms
    duration_s: float | None = None
    if ended is not None and answered is not None:
        duration_s = (ended - answered) / 1000
    return {
        "id": s.id,
        "ticket_id": s.ticket_id,
        "state": s.state,
        "origin": s.origin,
        "client_name": s.client_name,
        "created_at": iso_ms(s.created_at_ms),
        "deadline": iso_ms(s.deadline_ms),
        "answered_at": iso_ms(answered),
        "time_to_answer_s": None if answered is None else (answered - s.created_at_ms) / 1000,
        "ended_at": iso_ms(ended),
        "duration_s": duration_s,
        "outcome": s.end_reason,
        "resolution": s.resolution,
        "rating": None
        if s.rating_score is None
        else {"score": s.rating_score, "comment": s.rating_comment},
        "engineer": None if engineer is None else {"id": engineer.id, "name": engineer.name},
    }
