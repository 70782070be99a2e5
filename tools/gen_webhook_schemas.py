"""Writes broker/webhooks/schemas/<type>.v1.json — the JSON Schema of every webhook
event body (docs/webhooks.md). Run after changing a payload:

    /work/main/.venv/bin/python tools/gen_webhook_schemas.py

tests/broker/test_webhook_events.py fails when the written files and this script differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "broker" / "webhooks" / "schemas"

STR: dict[str, Any] = {"type": "string"}
OPT_STR: dict[str, Any] = {"type": ["string", "null"]}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
OPT_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
NUM: dict[str, Any] = {"type": "number"}
OPT_NUM: dict[str, Any] = {"type": ["number", "null"]}
INT: dict[str, Any] = {"type": "integer"}
BOOL: dict[str, Any] = {"type": "boolean"}
STRS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
# view, control, video today (protocol/state.py); strings so that a new one is no new version.
PERMS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


def obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object; receivers must ignore fields they do not know (new optional fields do
    not bump a version), so additional properties are allowed."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [{"type": "null"}, schema]}


PERSON = obj({"id": STR, "name": STR})
TICKET = obj(
    {
        "id": STR,
        "title": STR,
        "description": STR,
        "organisation": STR,
        "tier": STR,
        "external_ref": OPT_STR,
        "external_source": OPT_STR,
        "status": STR,
        "skills": STRS,
        "resolution": OPT_STR,
        "created_at": TIME,
        "updated_at": TIME,
    },
    required=[
        "id",
        "title",
        "description",
        "organisation",
        "tier",
        "external_ref",
        "status",
        "skills",
        "resolution",
        "created_at",
        "updated_at",
    ],
)
TICKET_REF = obj(
    {
        "id": STR,
        "title": STR,
        "organisation": STR,
        "tier": STR,
        "external_ref": OPT_STR,
        "external_source": OPT_STR,
        "status": STR,
    },
    required=["id", "title", "organisation", "tier", "external_ref", "status"],
)
SESSION = obj(
    {
        "id": STR,
        "ticket_id": STR,
        "state": STR,
        "origin": {"enum": ["request", "invitation"]},
        "client_name": STR,
        "created_at": TIME,
        "deadline": TIME,
        "answered_at": OPT_TIME,
        "time_to_answer_s": OPT_NUM,
        "ended_at": OPT_TIME,
        "duration_s": OPT_NUM,
        "outcome": OPT_STR,
        "resolution": OPT_STR,
        "rating": nullable(
            obj({"score": {"type": "integer", "minimum": 1, "maximum": 5}, "comment": OPT_STR})
        ),
        "engineer": nullable(PERSON),
    }
)
SESSION_EVENT = obj({"session": SESSION, "ticket": nullable(TICKET_REF)})
CONSENT_BASE = {
    "session_id": STR,
    "ticket_id": STR,
    "viewer_id": STR,
    "permissions": PERMS,
}
SLA = obj(
    {
        "ticket": TICKET_REF,
        "session_id": OPT_STR,
        "clock": {"enum": ["answer", "response", "resolution"]},
        "due_at": TIME,
        "remaining_s": NUM,
        "level": INT,
    },
    required=["ticket", "clock", "due_at"],
)
ESCALATION = obj(
    {"id": STR, "level": {"type": "integer", "minimum": 0}, "notify": STRS, "reason": STR},
    required=["id", "level"],
)
OPT_INT: dict[str, Any] = {"type": ["integer", "null"]}
SUMMARY = obj(
    {
        "format": {"const": "clearpane.session-summary.v1"},
        "session_id": STR,
        "ticket": TICKET_REF,
        "organisation": STR,
        "client_name": STR,
        "origin": STR,
        "state": STR,
        "created_at": TIME,
        "answered_at": OPT_TIME,
        "ended_at": OPT_TIME,
        "time_to_answer_ms": OPT_INT,
        "duration_ms": OPT_INT,
        "outcome": OPT_STR,
        "resolution": OPT_STR,
        "rating": nullable(obj({"score": INT, "comment": OPT_STR})),
        "engineer": nullable(obj({"id": STR, "name": OPT_STR})),
        "participants": {
            "type": "array",
            "items": obj(
                {
                    "role": STR,
                    "id": OPT_STR,
                    "name": STR,
                    "viewer_id": STR,
                    "joined_at": OPT_TIME,
                },
                required=["role", "id", "name", "joined_at"],
            ),
        },
        "consent": {
            "type": "array",
            "items": obj(
                {
                    "at": TIME,
                    "event": {
                        "enum": [
                            "consent.requested",
                            "consent.granted",
                            "consent.denied",
                            "consent.revoked",
                            "permission.released",
                        ]
                    },
                    "viewer_id": OPT_STR,
                    "permissions": STRS,
                    "by": STR,
                    "timed_out": BOOL,
                },
                required=["at", "event", "viewer_id", "permissions", "by"],
            ),
        },
        "actions": obj({"clicks": INT, "keys": INT, "scrolls": INT, "moves": INT}),
        "chat": nullable({"type": "array", "items": obj({"at": TIME, "from": STR, "text": STR})}),
        "recording": nullable(obj({"url": STR})),
        "log": obj({"records": INT, "head": OPT_STR, "sealed": BOOL}),
        "issued_at": TIME,
    }
)
SIGNATURE = obj({"alg": {"const": "Ed25519"}, "key_id": STR, "value": STR, "certificate": STR})

DATA: dict[str, tuple[str, dict[str, Any]]] = {
    "session.requested": (
        "A session was requested (client request or redeemed code).",
        SESSION_EVENT,
    ),
    "session.started": ("The client first granted view: the session is live.", SESSION_EVENT),
    "session.ended": ("The session ended (data.session has the outcome).", SESSION_EVENT),
    "session.rated": ("The client rated the session.", SESSION_EVENT),
    "ticket.created": ("A ticket was created.", obj({"ticket": TICKET})),
    "ticket.updated": (
        "A ticket changed; data.changes names the fields.",
        obj({"ticket": TICKET, "changes": STRS}),
    ),
    "ticket.client_opened": (
        "A client opened a ticket from the agent; create the twin and link it back with "
        "PUT /api/v1/tickets/by-ref/{source}/{external_ref} with its ticket_id.",
        obj({"ticket": TICKET, "session": SESSION}),
    ),
    "recording.unavailable": (
        "A session's recording cannot be written.",
        obj({"session_id": STR, "state": {"enum": ["off", "paused"]}, "since": TIME}),
    ),
    "recording.restored": (
        "A session's recording works again.",
        obj({"session_id": STR, "since": TIME, "gap_s": NUM}),
    ),
    "recording.available": (
        "A session's recording is finished and can be replayed.",
        obj(
            {
                "session_id": STR,
                "ticket_id": STR,
                "recording": obj({"url": STR, "bytes": INT}, required=["url"]),
            }
        ),
    ),
    "security.alert": ("A defence tripped; data.kind says which.", obj({"kind": STR})),
    "queue.entered": ("A session entered the queue, waiting for an engineer.", SESSION_EVENT),
    "queue.answered": ("An engineer answered a queued session.", SESSION_EVENT),
    "sla.at_risk": ("An SLA clock is close to its deadline.", SLA),
    "sla.breached": ("An SLA clock passed its deadline.", SLA),
    "escalation.raised": (
        "An escalation was raised (level 0 = assignee, then supervisor, incident manager).",
        obj(
            {"escalation": ESCALATION, "ticket": TICKET_REF, "session_id": OPT_STR},
            required=["escalation", "ticket"],
        ),
    ),
    "escalation.acknowledged": (
        "Someone acknowledged an escalation.",
        obj(
            {
                "escalation": ESCALATION,
                "ticket": TICKET_REF,
                "session_id": OPT_STR,
                "acknowledged_by": PERSON,
            },
            required=["escalation", "ticket", "acknowledged_by"],
        ),
    ),
    "consent.granted": (
        "The client granted permissions to a viewer.",
        obj({**CONSENT_BASE, "request_id": STR, "user_id": OPT_STR}),
    ),
    "consent.denied": (
        "The client denied a prompt, or it timed out (timed_out).",
        obj({**CONSENT_BASE, "request_id": STR, "timed_out": BOOL}),
    ),
    "consent.revoked": (
        "Permissions were taken back (by the client, or released by the viewer).",
        obj({**CONSENT_BASE, "by": {"enum": ["client", "viewer", "broker"]}}),
    ),
    "session.transferred": (
        "A session passed from one engineer to another (with the client's consent).",
        obj(
            {
                "session_id": STR,
                "ticket_id": STR,
                "from": nullable(PERSON),
                "to": PERSON,
                "by": nullable(PERSON),
                "reason": OPT_STR,
            },
            required=["session_id", "ticket_id", "from", "to"],
        ),
    ),
    "session.summary": (
        "The signed session summary (verify with `clearpane audit verify-summary`).",
        obj({"summary": SUMMARY, "signature": SIGNATURE}),
    ),
}


def schema(event_type: str, version: int = 1) -> dict[str, Any]:
    """The whole body's schema for one event type."""
    title, data = DATA[event_type]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://clearpane.invalid/webhooks/{event_type}.v{version}.json",
        "title": f"{event_type} v{version}",
        "description": title,
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "type", "version", "occurred_at", "data"],
        "properties": {
            "id": STR,
            "type": {"const": event_type},
            "version": {"const": version},
            "occurred_at": TIME,
            "data": data,
        },
    }


def rendered() -> dict[str, str]:
    """File name → text, for every event type."""
    return {
        f"{t}.v1.json": json.dumps(schema(t), indent=2, ensure_ascii=False) + "\n" for t in DATA
    }


def main() -> int:
    for name, text in rendered().items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(DATA)} schemas to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
