"""Routing and presence over HTTP (issue 19; docs/workflow.md "Routing", "Presence").

* ``GET /api/v1/presence`` — every engineer: presence (effective and as set), load.
* ``GET|PUT /api/v1/me/presence`` — an engineer's own presence (``{"status"}``).
* ``POST /api/v1/sessions/{id}/assign`` ``{"engineer_id"?}`` — the first line
  (supervisors) assigns a waiting request by hand; without ``engineer_id`` it goes
  back to routing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broker import presence
from broker.api.body import Query, read_body
from broker.api.serialize import session_json
from broker.auth.policy import USER
from broker.clock import CLOCK
from broker.config import CONFIG, BrokerConfig
from broker.errors import Forbidden, NotFound
from broker.lifecycle import TICKET_STATUSES, TRANSITIONS
from broker.routing import ROUTER, effective_of
from broker.store import queries
from broker.store.db import DB
from broker.store.queries import routing as rq

__all__ = [
    "assign_session",
    "get_my_presence",
    "list_presence",
    "list_staff",
    "put_my_presence",
    "ticket_lifecycle",
]


def presence_json(e: rq.EngineerLoad, config: BrokerConfig, now_ms: int) -> dict[str, Any]:
    """One engineer as the presence list shows them (the effective presence counts the
    lease: an available engineer whose viewer went quiet shows away)."""
    capacity = config.routing_capacity
    lease = int(config.presence_lease_s * 1000)
    return {
        "user_id": e.user_id,
        "username": e.username,
        "name": e.name,
        "skills": list(e.skills),
        "presence": effective_of(e, capacity, now_ms=now_ms, lease_ms=lease),
        "set": e.stored_presence,
        "live_sessions": e.live,
        "assigned_waiting": e.assigned_waiting,
        "load": e.live + e.assigned_waiting,
        "capacity": capacity,
    }


def _kick(app: web.Application) -> None:
    if ROUTER in app:
        app[ROUTER].kick()


async def list_presence(request: web.Request) -> web.Response:
    """``GET /api/v1/presence``: engineers by username."""
    Query(request, ())
    config, now = request.app[CONFIG], request.app[CLOCK].now_ms()
    loads = await rq.engineer_loads(request.app[DB])
    return web.json_response({"engineers": [presence_json(e, config, now) for e in loads]})


async def _mine(request: web.Request) -> web.Response:
    user = request[USER]
    now = request.app[CLOCK].now_ms()
    await rq.touch_presence(request.app[DB], user.id, at=now)  # the viewer is open: renew
    mine = await rq.get_presence(request.app[DB], user.id)
    if mine is None:
        raise NotFound("no presence: you are not an engineer")
    return web.json_response(presence_json(mine, request.app[CONFIG], now))


async def get_my_presence(request: web.Request) -> web.Response:
    """``GET /api/v1/me/presence``: the caller's presence (engineers); renews the
    presence lease (the viewer asks every 30 s while it is open)."""
    Query(request, ())
    return await _mine(request)


async def put_my_presence(request: web.Request) -> web.Response:
    """``PUT /api/v1/me/presence`` ``{"status": available|busy|away}``. Becoming
    available routes waiting requests at once; going away hands the caller's waiting
    requests back to routing."""
    user = request[USER]
    if user.role != "engineer":
        raise Forbidden("presence is for engineers (routing gives work to engineers)")
    body = await read_body(request, allowed={"status"}, required={"status"})
    status = body.choice("status", presence.PRESENCE_STATUSES)
    released = await rq.set_presence(
        request.app[DB], user.id, status, at=request.app[CLOCK].now_ms()
    )
    if status == presence.AVAILABLE or released:
        _kick(request.app)
    return await _mine(request)


async def assign_session(request: web.Request) -> web.Response:
    """``POST /api/v1/sessions/{session_id}/assign`` ``{"engineer_id"?}``: manual
    assignment by the first line (supervisors, admins); 409 once the session is live."""
    body = await read_body(request, allowed={"engineer_id"})
    engineer_id = body.opt_text("engineer_id", max_len=64, min_len=1)
    session = await rq.assign_session(
        request.app[DB],
        request.match_info["session_id"],
        engineer_id,
        actor_id=request[USER].id,
        at=request.app[CLOCK].now_ms(),
    )
    if engineer_id is None:
        _kick(request.app)
    return web.json_response(session_json(session))


async def list_staff(request: web.Request) -> web.Response:
    """``GET /api/v1/staff``: id, display name and role of every enabled staff member —
    the viewer shows names, not ids (an API key's account is not listed)."""
    Query(request, ())
    users = await queries.list_users(request.app[DB])
    staff = [
        {"id": u.id, "name": u.name, "role": u.role}
        for u in users
        if not u.disabled and u.role != "integration"
    ]
    return web.json_response({"staff": staff})


async def ticket_lifecycle(request: web.Request) -> web.Response:
    """``GET /api/v1/ticket-lifecycle``: the statuses and the moves allowed from each
    (broker/lifecycle.py), so a status control offers only what the API accepts."""
    Query(request, ())
    return web.json_response(
        {
            "statuses": list(TICKET_STATUSES),
            "transitions": {k: sorted(v) for k, v in TRANSITIONS.items()},
        }
    )
