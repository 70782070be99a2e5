"""Webhook event types and the JSON bodies sent for them (docs/webhooks.md).

Every body is an envelope ``{"id", "type", "occurred_at", "data"}``; ``id`` is the
event id (the same for every endpoint), ``data`` holds the ticket and/or session as
they are after the change. Bodies are serialised once, stored in the outbox and sent
byte for byte on every attempt (the signature covers those bytes).
"""

from __future__ import annotations

import json
from typing import Any, Final

from broker.clock import iso_ms
from broker.store.models import SessionModel, TicketModel, UserModel

__all__ = [
    "EVENT_TYPES",
    "RECORDING_RESTORED",
    "RECORDING_UNAVAILABLE",
    "SECURITY_ALERT",
    "SESSION_ENDED",
    "SESSION_RATED",
    "SESSION_REQUESTED",
    "SESSION_STARTED",
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
)


def envelope(event_id: str, event_type: str, at_ms: int, data: dict[str, Any]) -> str:
    """The JSON body of one event (compact, keys sorted: stable bytes)."""
    return json.dumps(
        {"id": event_id, "type": event_type, "occurred_at": iso_ms(at_ms), "data": data},
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
