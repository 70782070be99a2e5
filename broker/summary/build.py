"""Building a session summary from the store and the session log.

What goes in (docs/integrations.md §4): duration and time to answer (integer ms),
participants (the client and every viewer who joined, from ``viewer.joined``), the
consent timeline (every ``consent.*`` and ``permission.released`` record), action
counts (clicks, keys, scrolls, moves summed from the agent's ``input.applied``
records — counts only: the broker never sees what was typed), the chat transcript
only when the organisation's policy says so, the rating, resolution and outcome, the
recording's API link, and the log's record count and head hash (which binds the
summary to the evidence). Nothing here is a float: the summary is signed as
canonical JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from audit.chain import Record
from audit.errors import AuditError
from audit.jsonl import load_records
from audit.summary import FORMAT, sign_summary
from broker.clock import CLOCK, iso_ms
from broker.config import CONFIG
from broker.pki import PKI
from broker.recording import RECORDER
from broker.session_log import session_dir
from broker.store import queries
from broker.store.db import DB
from broker.store.policy_models import get_policy

__all__ = ["CONSENT_EVENTS", "build_summary", "signed_summary", "summary_from"]

CONSENT_EVENTS = (
    "consent.requested",
    "consent.granted",
    "consent.denied",
    "consent.revoked",
    "permission.released",
)
ACTIONS = ("clicks", "keys", "scrolls", "moves")


def _records(data_dir: Path, session_id: str) -> tuple[Record, ...]:
    try:
        path = session_dir(data_dir, session_id) / "log.jsonl"
        return load_records(path) if path.is_file() else ()
    except (AuditError, OSError, ValueError):
        return ()  # an unreadable log: the summary says so by its empty log section


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def summary_from(
    session: queries.SessionInfo,
    ticket: queries.Ticket,
    records: Sequence[Record],
    *,
    include_chat: bool,
    has_recording: bool,
    issued_at_ms: int,
) -> dict[str, Any]:
    """The (unsigned) summary of one session."""
    names: dict[str, str] = {}
    participants: list[dict[str, Any]] = [
        {
            "role": "client",
            "id": None,
            "name": session.client_name,
            "joined_at": iso_ms(session.created_at_ms),
        }
    ]
    consent: list[dict[str, Any]] = []
    actions = dict.fromkeys(ACTIONS, 0)
    chat: list[dict[str, Any]] = []
    for r in records:
        d = r.detail
        if r.event == "viewer.joined":
            vid = str(d.get("viewer_id", ""))
            names[vid] = str(d.get("name", vid))
            participants.append(
                {
                    "role": str(d.get("role", "viewer")),
                    "id": d.get("user_id"),
                    "name": names[vid],
                    "viewer_id": vid,
                    "joined_at": iso_ms(r.at_ms),
                }
            )
        elif r.event in CONSENT_EVENTS:
            entry: dict[str, Any] = {
                "at": iso_ms(r.at_ms),
                "event": r.event,
                "viewer_id": d.get("viewer_id"),
                "permissions": sorted(str(p) for p in d.get("permissions") or ()),
                "by": r.actor,
            }
            if r.event == "consent.denied":
                entry["timed_out"] = bool(d.get("timed_out", False))
            consent.append(entry)
        elif r.event == "input.applied":
            for name in ACTIONS:
                actions[name] += _count(d.get(name))
        elif r.event == "chat.sent" and include_chat:
            sender = str(d.get("from", ""))
            who = session.client_name if sender == "client" else names.get(sender, sender)
            chat.append({"at": iso_ms(r.at_ms), "from": who, "text": str(d.get("text", ""))})
    answered, ended = session.answered_at_ms, session.ended_at_ms
    return {
        "format": FORMAT,
        "session_id": session.id,
        "ticket": {
            "id": ticket.id,
            "title": ticket.title,
            "organisation": ticket.organisation,
            "tier": ticket.tier,
            "external_ref": ticket.external_ref,
            "external_source": ticket.external_source,
            "status": ticket.status,
        },
        "organisation": ticket.organisation,
        "client_name": session.client_name,
        "origin": session.origin,
        "state": session.state,
        "created_at": iso_ms(session.created_at_ms),
        "answered_at": iso_ms(answered),
        "ended_at": iso_ms(ended),
        "time_to_answer_ms": session.time_to_answer_ms,
        "duration_ms": None if answered is None or ended is None else ended - answered,
        "outcome": session.end_reason,
        "resolution": session.resolution,
        "rating": None
        if session.rating_score is None
        else {"score": session.rating_score, "comment": session.rating_comment},
        "engineer": None
        if session.engineer_id is None
        else {"id": session.engineer_id, "name": session.engineer_name},
        "participants": participants,
        "consent": consent,
        "actions": actions,
        "chat": chat if include_chat else None,
        "recording": {"url": f"/api/v1/recordings/{session.id}"} if has_recording else None,
        "log": {
            "records": len(records),
            "head": records[-1].hash if records else None,
            "sealed": bool(records) and records[-1].event == "session.ended",
        },
        "issued_at": iso_ms(issued_at_ms),
    }


async def build_summary(app: web.Application, session_id: str) -> dict[str, Any] | None:
    """The unsigned summary of ``session_id`` now, or None if there is no such session."""
    db = app[DB]
    session = await queries.get_session(db, session_id)
    if session is None:
        return None
    ticket = await queries.get_ticket(db, session.ticket_id)
    if ticket is None:
        return None
    policy = await get_policy(db, ticket.organisation)
    recorder = app.get(RECORDER)
    records = await asyncio.to_thread(_records, app[CONFIG].data_dir, session_id)
    return summary_from(
        session,
        ticket,
        records,
        include_chat=policy.summary_includes_chat,
        has_recording=recorder is not None and recorder.has_recording(session_id),
        issued_at_ms=app[CLOCK].now_ms(),
    )


async def signed_summary(app: web.Application, session_id: str) -> dict[str, Any] | None:
    """``{"summary", "signature"}`` of ``session_id``, signed with the broker's
    checkpoint key (its certificate chains to the organisation's root); None if there
    is no such session."""
    summary = await build_summary(app, session_id)
    if summary is None:
        return None
    pki = app[PKI]
    return sign_summary(
        summary, pki.signing_key, pki.signing_cert_pem(), signing_key_id=pki.signing_key_id
    )
