"""SLA API for staff and the agent (docs/workflow.md): a ticket's clocks, priority and
client e-mail; escalations and their acknowledgement; the client's closure answer.

The agent's two routes are authenticated by its session token (like the rating): the
token names a session, whose ticket is the one the client may confirm or reopen.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broker.api.body import Query, read_body
from broker.api.sla_admin import EMAIL
from broker.auth.policy import USER, ticket_scope
from broker.auth.setup import TOKENS
from broker.auth.tokens import AuthError
from broker.clock import CLOCK, iso_ms
from broker.config import CONFIG
from broker.errors import Forbidden, InvalidField, NotFound, Unauthorized
from broker.mail import MAILER
from broker.sla import escalations as sla_escalations
from broker.sla import store
from broker.sla.closure import ClosureView, answer_closure, closure_view
from broker.sla.contracts import PRIORITIES
from broker.sla.scheduler import clock_json
from broker.store import queries
from broker.store.db import DB

__all__ = [
    "acknowledge_escalation",
    "agent_closure",
    "agent_ticket",
    "escalation_json",
    "get_ticket_sla",
    "list_escalations",
    "put_ticket_sla",
]

# Roles that see and acknowledge every escalation (others: those addressed to them).
OVERSEERS = frozenset({"supervisor", "admin"})


def escalation_json(e: sla_escalations.Escalation) -> dict[str, Any]:
    """An escalation as the API shows it."""
    return {
        "id": e.id,
        "ticket_id": e.ticket_id,
        "title": e.ticket_title,
        "clock": e.clock,
        "at": e.fraction,
        "to": e.target,
        "skill": e.skill,
        "recipients": list(e.recipients),
        "reached_at": iso_ms(e.reached_at_ms),
        "raised_at": iso_ms(e.raised_at_ms),
        "due": iso_ms(e.due_at_ms),
        "acknowledged_by": e.acknowledged_by,
        "acknowledged_by_name": e.acknowledged_by_name,
        "acknowledged_at": iso_ms(e.acknowledged_at_ms),
    }


async def _ticket_id(request: web.Request) -> str:
    """The path's ticket if the user may see it (404 alike for missing and foreign)."""
    ticket_id = request.match_info["ticket_id"]
    if not await queries.ticket_in_scope(request.app[DB], ticket_id, ticket_scope(request)):
        raise NotFound("no such ticket")
    return ticket_id


async def get_ticket_sla(request: web.Request) -> web.Response:
    """``GET /api/v1/tickets/{ticket_id}/sla``: priority, both clocks, escalations."""
    ticket_id = await _ticket_id(request)
    db = request.app[DB]
    contract, sla, clocks = await store.ticket_clocks(db, ticket_id, request.app[CLOCK].now_ms())
    escalations = await sla_escalations.list_escalations(db, ticket_id=ticket_id)
    return web.json_response(
        {
            "ticket_id": ticket_id,
            "tier": contract.tier,
            "priority": sla.priority,
            "client_email": sla.client_email,
            "clocks": [clock_json(c, contract.calendar_name) for c in clocks],
            "escalations": [escalation_json(e) for e in escalations],
        }
    )


async def put_ticket_sla(request: web.Request) -> web.Response:
    """``PUT /api/v1/tickets/{ticket_id}/sla`` ``{priority?, client_email?}``"""
    body = await read_body(request, allowed={"priority", "client_email"})
    priority = body.opt_choice("priority", PRIORITIES)
    email = body.opt_text("client_email", max_len=254)
    if email and not EMAIL.match(email):
        raise InvalidField("client_email", "is not an e-mail address")
    ticket_id = await _ticket_id(request)
    await store.put_ticket_sla(
        request.app[DB],
        ticket_id,
        priority=priority,
        client_email=email,
        actor_id=request[USER].id,
        at=request.app[CLOCK].now_ms(),
    )
    return await get_ticket_sla(request)


async def list_escalations(request: web.Request) -> web.Response:
    """``GET /api/v1/sla/escalations?open=true``: supervisors and admins see all,
    engineers those addressed to them; newest first."""
    query = Query(request, {"open", "ticket_id"})
    open_only = query.opt_choice("open", ("true", "false")) == "true"
    user = request[USER]
    escalations = await sla_escalations.list_escalations(
        request.app[DB],
        open_only=open_only,
        ticket_id=query.opt_text("ticket_id", max_len=32),
        recipient=None if user.role in OVERSEERS else user.id,
    )
    return web.json_response({"escalations": [escalation_json(e) for e in escalations]})


async def acknowledge_escalation(request: web.Request) -> web.Response:
    """``POST /api/v1/sla/escalations/{escalation_id}/acknowledge``: the level stops.
    Recipients, supervisors and admins; acknowledging twice keeps the first."""
    await read_body(request, allowed=())
    db = request.app[DB]
    user = request[USER]
    found = await sla_escalations.get_escalation(db, request.match_info["escalation_id"])
    if found is None or (user.role not in OVERSEERS and user.id not in found.recipients):
        raise NotFound("no such escalation")
    now = request.app[CLOCK].now_ms()
    escalation, _ = await sla_escalations.acknowledge(db, found.id, user.id, at=now)
    return web.json_response(escalation_json(escalation))


# --- the agent: closure confirmed by the client -----------------------------------------


async def _agent_ticket_id(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <agent token>'")
    try:
        claims = request.app[TOKENS].verify(token.strip(), "agent", allow_expired=True)
    except AuthError as exc:
        raise Unauthorized(exc.message) from None
    assert claims.sid is not None
    session = await queries.get_session(request.app[DB], claims.sid)
    if session is None:
        raise Unauthorized("the token's session does not exist")
    # Review of 2026-12-04: the token may be long expired (the ticket is resolved after
    # the session), so it must at least be the ticket's latest session: a client of an
    # earlier session (another person invited to the ticket) does not answer for it.
    latest = await queries.list_sessions(request.app[DB], ticket_id=session.ticket_id, limit=1)
    if latest and latest[0].id != session.id:
        raise Forbidden("a later session of this ticket answers for it")
    return session.ticket_id


def _closure_json(v: ClosureView) -> dict[str, Any]:
    return {
        "ticket_id": v.ticket_id,
        "title": v.title,
        "status": v.status,
        "resolution": v.resolution,
        "auto_close_at": iso_ms(v.auto_close_at_ms),
    }


async def agent_ticket(request: web.Request) -> web.Response:
    """``GET /api/v1/agent/ticket``: the status of the session's ticket, for the
    client's closure prompt (``auto_close_at`` while it is resolved)."""
    Query(request, ())
    view = await closure_view(request.app[DB], await _agent_ticket_id(request))
    return web.json_response(_closure_json(view))


async def agent_closure(request: web.Request) -> web.Response:
    """``POST /api/v1/agent/closure`` ``{accept, comment?}``: the client confirms the
    resolution (closed) or reopens the ticket (in progress); 409 unless resolved."""
    body = await read_body(request, allowed={"accept", "comment"}, required={"accept"})
    accept = body.opt_bool("accept")
    comment = body.opt_text("comment", max_len=2000)
    assert accept is not None  # required above
    ticket_id = await _agent_ticket_id(request)
    app = request.app
    view = await answer_closure(
        app[DB],
        ticket_id,
        accept=accept,
        comment=comment,
        at=app[CLOCK].now_ms(),
        mail=bool(app[CONFIG].smtp_host),
    )
    mailer = app.get(MAILER)
    if mailer is not None:
        mailer.wake()
    return web.json_response(_closure_json(view))
