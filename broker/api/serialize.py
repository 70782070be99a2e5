"""JSON shapes of the API's objects (documented in broker/openapi.yaml)."""

from __future__ import annotations

from typing import Any

from broker.clock import iso_ms
from broker.store import queries

__all__ = ["escalation_json", "queue_item_json", "session_json", "ticket_json", "user_json"]


def user_json(u: queries.User) -> dict[str, Any]:
    """A user, without anything secret."""
    return {
        "id": u.id,
        "username": u.username,
        "name": u.name,
        "role": u.role,
        "skills": list(u.skills),
        "organisations": list(u.organisations),
        "mfa_enabled": u.mfa_enabled,
        "disabled": u.disabled,
        "created_at": iso_ms(u.created_at_ms),
        "must_change_password": u.must_change_password,
    }


def ticket_json(t: queries.Ticket) -> dict[str, Any]:
    """A ticket."""
    return {
        "id": t.id,
        "title": t.title,
        "description": t.description,
        "organisation": t.organisation,
        "tier": t.tier,
        "external_ref": t.external_ref,
        "external_source": t.external_source,
        "status": t.status,
        "skills": list(t.skills),
        "resolution": t.resolution,
        "created_by": t.created_by,
        "created_at": iso_ms(t.created_at_ms),
        "updated_at": iso_ms(t.updated_at_ms),
        "assignee": t.assignee_id,
        "owner": t.owner_id,
    }


def ticket_change_json(c: queries.TicketChange) -> dict[str, Any]:
    """One entry of a ticket's history (``assignee_id``/``owner_id`` are named as the
    API names them: ``assignee``, ``owner``)."""
    return {
        "at": iso_ms(c.at_ms),
        "actor_id": c.actor_id,
        "actor_name": c.actor_name,
        "field": c.field.removesuffix("_id"),
        "from": c.old_value,
        "to": c.new_value,
    }


def session_json(s: queries.SessionInfo) -> dict[str, Any]:
    """A session: its ticket's title, state, SLA, who answered (id and display name)
    and when, outcome and rating."""
    return {
        "id": s.id,
        "ticket_id": s.ticket_id,
        "title": s.title,
        "state": s.state,
        "origin": s.origin,
        "client_name": s.client_name,
        "created_at": iso_ms(s.created_at_ms),
        "deadline": iso_ms(s.deadline_ms),
        "assigned_engineer_id": s.assigned_engineer_id,
        "engineer_id": s.engineer_id,
        "engineer_name": s.engineer_name,
        "answered_at": iso_ms(s.answered_at_ms),
        "time_to_answer_s": None if s.time_to_answer_ms is None else s.time_to_answer_ms / 1000,
        "ended_at": iso_ms(s.ended_at_ms),
        "outcome": s.end_reason,
        "resolution": s.resolution,
        "rating": None
        if s.rating_score is None
        else {"score": s.rating_score, "comment": s.rating_comment},
    }


def queue_item_json(item: queries.QueueItem, *, now_ms: int, user_id: str) -> dict[str, Any]:
    """A queue entry as the engineer sees it."""
    s = item.session
    return {
        "session_id": s.id,
        "ticket_id": s.ticket_id,
        "title": item.ticket_title,
        "organisation": item.organisation,
        "tier": item.tier,
        "skills": list(item.skills),
        "client_name": s.client_name,
        "state": s.state,
        "origin": s.origin,
        "created_at": iso_ms(s.created_at_ms),
        "deadline": iso_ms(s.deadline_ms),
        "seconds_left": (s.deadline_ms - now_ms) / 1000,
        "assigned_to_me": s.assigned_engineer_id == user_id,
        "assigned_engineer_id": s.assigned_engineer_id,
        "engineer_name": s.engineer_name,
    }


def escalation_json(e: queries.Escalation) -> dict[str, Any]:
    """An escalation."""
    return {
        "id": e.id,
        "session_id": e.session_id,
        "ticket_id": e.ticket_id,
        "created_at": iso_ms(e.created_at_ms),
        "deadline": iso_ms(e.deadline_ms),
    }
