"""The queue, sessions, joining and ending, escalations.

Queue and skills (decision, documented in docs/API.md): an engineer sees the queued
requests assigned to them (invitations they created) and the unassigned requests whose
ticket's required skills are all among the engineer's skills; a request without
required skills is for everyone. Supervisors see the whole queue. Both are ordered by SLA
deadline. A request nobody qualifies for still escalates to supervisors.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from audit.errors import LogFileError
from audit.jsonl import read_jsonl
from broker import queue_notice
from broker.api.body import Query, read_body
from broker.api.serialize import escalation_json, queue_item_json, session_json, ticket_json
from broker.auth.policy import USER, in_organisation_scope, may_read_session, ticket_scope
from broker.auth.revocation import generation
from broker.auth.setup import TOKENS
from broker.clock import CLOCK, iso_ms
from broker.cluster import viewer_ws_url
from broker.config import CONFIG
from broker.errors import Conflict, Forbidden, InvalidField, NotFound
from broker.ice import ice_servers_for
from broker.relay.base import HandoverInfo
from broker.relay.control import RELAY
from broker.relay.handover import handover_claim
from broker.session_log import session_dir
from broker.store import queries
from broker.store.db import DB
from broker.store.queries import handovers

__all__ = [
    "end_session",
    "get_session",
    "join_session",
    "list_escalations",
    "list_sessions",
    "queue",
]

# Permissions an engineer may ask of the client (protocol/SPEC.md §3.3), in the
# order the token lists them; ``video`` is what lets a viewer take part in a call.
PERMISSIONS = ("view", "control", "video")

log = logging.getLogger(__name__)


def _visible_in_queue(
    item: queries.QueueItem, user: queries.User, scope: queries.TicketScope | None
) -> bool:
    """Whether ``user`` sees this queued request (see the module docstring)."""
    if user.role == "supervisor":
        return True
    assigned = item.session.assigned_engineer_id
    if assigned is not None:
        return assigned == user.id
    return set(item.skills) <= set(user.skills) and in_organisation_scope(scope, item.organisation)


async def queue(request: web.Request) -> web.Response:
    """``GET /api/v1/queue``: waiting requests, earliest SLA deadline first."""
    Query(request, ())
    user = request[USER]
    scope = ticket_scope(request)
    items = await queries.waiting_sessions(request.app[DB])
    now = request.app[CLOCK].now_ms()
    return web.json_response(
        {
            "queue": [
                queue_item_json(i, now_ms=now, user_id=user.id)
                for i in items
                if _visible_in_queue(i, user, scope)
            ]
        }
    )


async def list_sessions(request: web.Request) -> web.Response:
    """``GET /api/v1/sessions?state=&ticket_id=&engineer_id=``: engineers see their own
    sessions and their queue; supervisors, reviewers and admins see all."""
    query = Query(request, {"state", "ticket_id", "engineer_id", "limit"})
    state = query.opt_choice("state", queries.SESSION_STATES)
    ticket_id = query.opt_text("ticket_id", max_len=64)
    engineer_id = query.opt_text("engineer_id", max_len=64)
    limit = query.integer("limit", default=200, low=1, high=1000)
    user = request[USER]
    db = request.app[DB]
    sessions = await queries.list_sessions(
        db, state=state, ticket_id=ticket_id, engineer_id=engineer_id, limit=limit
    )
    if user.role == "engineer":
        sessions = [s for s in sessions if await may_read_session(request, s)]
    return web.json_response({"sessions": [session_json(s) for s in sessions]})


async def _session_or_404(request: web.Request) -> queries.SessionInfo:
    session = await queries.get_session(request.app[DB], request.match_info["session_id"])
    if session is None:
        raise NotFound("no such session")
    return session


def _read_log(data_dir: Path, session_id: str) -> list[dict[str, Any]]:
    """The company's copy of the session log (complete records; a torn tail that the
    relay is still writing is left out). Read-only. A damaged file gives no backlog
    here (the viewer still gets the live feed); `clearpane audit verify` and the
    review's verification report the damage."""
    path = session_dir(data_dir, session_id) / "log.jsonl"
    if not path.exists():
        return []
    try:
        return [r.to_dict() for r in read_jsonl(path).records]
    except LogFileError as exc:
        log.warning("session %s: the session log cannot be read: %s", session_id, exc)
        return []


async def get_session(request: web.Request) -> web.Response:
    """``GET /api/v1/sessions/{session_id}``: the session with its ticket and log."""
    session = await _session_or_404(request)
    if not await may_read_session(request, session):
        raise Forbidden("this session is neither yours nor in your queue")
    ticket = await queries.get_ticket(request.app[DB], session.ticket_id)
    data = session_json(session)
    data["ticket"] = ticket_json(ticket) if ticket else None
    data["log"] = await asyncio.to_thread(_read_log, request.app[CONFIG].data_dir, session.id)
    return web.json_response(data)


async def join_session(request: web.Request) -> web.Response:
    """``POST /api/v1/sessions/{session_id}/join`` ``{"as"?, "permissions"?}`` →
    ``{"ws_token", "ice_servers", …}``: the token for ``/ws/viewer`` and the STUN/TURN
    servers for a video call (with short-lived TURN credentials for this user).

    An engineer joins as ``engineer`` a session that is theirs or in their queue. A
    supervisor joins any live or waiting session as ``observer`` (view only), or as
    ``engineer`` under the engineer's rules. The client still has to consent (G2).
    """
    user = request[USER]
    body = await read_body(request, allowed={"as", "permissions"})
    default_as = "observer" if user.role == "supervisor" else "engineer"
    as_ = body.opt_choice("as", ("engineer", "observer")) or default_as
    permissions = body.opt_str_list("permissions", choices=PERMISSIONS) or ["view"]
    if "view" not in permissions:
        raise InvalidField("permissions", "must include 'view'")
    permissions = [p for p in PERMISSIONS if p in permissions]
    if as_ == "observer":
        if user.role != "supervisor":
            raise Forbidden("only supervisors join as observers")
        if permissions != ["view"]:
            raise InvalidField("permissions", "observers may only ask for 'view'")
    session = await _session_or_404(request)
    if session.state == "ended":
        raise Conflict("the session has ended")
    # issue 19: a second engineer joins a live session on a transfer or an invitation
    # (the client still consents to them by name, G2).
    handover = None
    if as_ == "engineer" and user.id != session.engineer_id:
        handover = await handovers.pending_handover(request.app[DB], session.id, user.id)
    if (
        handover is None
        and as_ == "engineer"
        and session.assigned_engineer_id not in (None, user.id)
    ):
        # Supervisors observe (view only, docs/API.md); no role takes over a session
        # that an invitation assigned to another engineer.
        raise Forbidden("this session is assigned to another engineer; join as observer")
    if handover is None and as_ == "engineer" and user.id != session.engineer_id:
        if session.state not in queries.WAITING_STATES:
            raise Forbidden("another engineer is working on this session")
        items = await queries.waiting_sessions(request.app[DB])
        item = next((i for i in items if i.session.id == session.id), None)
        if item is None or not _visible_in_queue(item, user, ticket_scope(request)):
            raise Forbidden("this request is not in your queue")
    config = request.app[CONFIG]
    tokens = request.app[TOKENS]
    ws_token = tokens.issue(
        user.id,
        user.role,
        "viewer",
        session_id=session.id,
        extra={
            "as": as_,
            "perms": permissions,
            "name": user.name,
            **generation(user),
            **({"handover": _claim(handover)} if handover else {}),
        },
        ttl_s=config.viewer_token_ttl_s,
    )
    return web.json_response(
        {
            "ws_token": ws_token,
            "ws_url": await viewer_ws_url(request, session.id),
            "session_id": session.id,
            "as": as_,
            "permissions": permissions,
            "expires_at": iso_ms(tokens.expires_at_ms(ws_token)),
            "ice_servers": ice_servers_for(
                config.ice_servers,
                config.turn_secret,
                user.id,
                now_s=request.app[CLOCK].now_ms() // 1000,
                ttl_s=config.turn_credential_ttl_s,
            ),
        }
    )


def _claim(h: handovers.Handover) -> dict[str, str]:
    return handover_claim(HandoverInfo(h.id, h.kind, h.from_user_id, h.from_name))


async def end_session(request: web.Request) -> web.Response:
    """``POST /api/v1/sessions/{session_id}/end`` ``{"resolution"}``: only the
    session's engineer. The relay tells the parties and seals the log."""
    body = await read_body(request, allowed={"resolution"}, required={"resolution"})
    resolution = body.text("resolution", max_len=10_000)
    user = request[USER]
    session = await _session_or_404(request)
    if session.engineer_id != user.id:
        raise Forbidden("only the session's engineer can end it")
    if session.state == "ended":
        raise Conflict("the session has already ended")
    app = request.app
    handled = False
    if RELAY in app:
        handled = await app[RELAY].end_session(
            session.id, reason="ended_by_engineer", by=user, resolution=resolution
        )
    if not handled:
        await queries.mark_ended(
            app[DB], session.id, "ended_by_engineer", app[CLOCK].now_ms(), resolution
        )
    ended = await queries.get_session(app[DB], session.id)
    assert ended is not None
    queue_notice.kick(request.app)  # a waiting request ended: those behind move up
    return web.json_response(session_json(ended))


async def list_escalations(request: web.Request) -> web.Response:
    """``GET /api/v1/escalations``: newest first, with whether each is still waiting."""
    Query(request, ())
    escalations = await queries.list_escalations(request.app[DB])
    return web.json_response({"escalations": [escalation_json(e) for e in escalations]})
