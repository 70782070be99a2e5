"""Transfer and collaboration over HTTP (issue 19; docs/workflow.md "Transfer").

* ``POST /api/v1/sessions/{id}/transfer`` ``{"engineer_id"} | {"group"}`` — the
  session's engineer (or a supervisor) hands a live session to a named engineer, or
  to the least busy available engineer of a skill group (the routing rule).
* ``POST /api/v1/sessions/{id}/invite`` ``{"engineer_id"}`` — asks a colleague in.
* ``GET /api/v1/me/handovers`` — what is waiting for the caller (join it);
  ``GET /api/v1/sessions/{id}/handovers`` — a session's transfers and invitations.

Nothing changes for the client until the target joins and the client consents to
them by name (G2); the relay then ends the old engineer's part
(:mod:`broker.relay.handover`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broker.api.body import Query, read_body
from broker.auth.policy import USER, in_organisation_scope, may_read_session
from broker.clock import CLOCK, iso_ms
from broker.config import CONFIG
from broker.errors import Conflict, Forbidden, InvalidField, NotFound
from broker.routing import candidate, choose
from broker.store import queries
from broker.store.db import DB
from broker.store.queries import handovers
from broker.store.queries import routing as rq

__all__ = [
    "handover_json",
    "invite_colleague",
    "my_handovers",
    "session_handovers",
    "transfer_session",
]


def handover_json(h: handovers.Handover) -> dict[str, Any]:
    """A transfer or invitation as the API shows it."""
    return {
        "id": h.id,
        "session_id": h.session_id,
        "ticket_id": h.ticket_id,
        "title": h.title,
        "kind": h.kind,
        "from": {"id": h.from_user_id, "name": h.from_name},
        "to": {"id": h.to_user_id, "name": h.to_name},
        "group": h.group,
        "state": h.state,
        "created_at": iso_ms(h.created_at_ms),
        "answered_at": iso_ms(h.answered_at_ms),
    }


async def _live_session_of_caller(request: web.Request) -> queries.SessionInfo:
    """The live session, if the caller is its engineer or a supervisor."""
    session = await queries.get_session(request.app[DB], request.match_info["session_id"])
    if session is None:
        raise NotFound("no such session")
    user = request[USER]
    if user.role != "supervisor" and session.engineer_id != user.id:
        raise Forbidden("only the session's engineer (or a supervisor) hands it over")
    if session.state not in rq.LIVE_STATES or session.engineer_id is None:
        raise Conflict("only a live session is transferred or shared; assign a waiting one")
    return session


async def _engineer(request: web.Request, user_id: str, session: queries.SessionInfo) -> None:
    target = await queries.get_user(request.app[DB], user_id)
    if target is None or target.disabled or target.role != "engineer":
        raise InvalidField("engineer_id", f"no enabled engineer with id {user_id!r}")
    if user_id == session.engineer_id:
        raise InvalidField("engineer_id", "that engineer already has the session")
    # Review of 2026-12-04: a named target had to hold neither the ticket's skills nor
    # its organisation, so a session (and, once assigned, its ticket) reached an
    # engineer outside the organisation scope that routing and the queue keep.
    ticket = await queries.get_ticket(request.app[DB], session.ticket_id)
    if ticket is None:
        return
    lacking = sorted(set(ticket.skills) - set(target.skills))
    if lacking:
        raise InvalidField("engineer_id", f"that engineer lacks the skills {', '.join(lacking)}")
    see_all = request.app[CONFIG].engineers_see_all_tickets
    if not in_organisation_scope(
        None if see_all else queries.TicketScope(target.id, target.organisations),
        ticket.organisation,
    ):
        raise InvalidField("engineer_id", "that engineer does not work on this organisation")


async def _from_group(request: web.Request, group: str, session: queries.SessionInfo) -> str:
    """The least busy available engineer holding skill ``group`` (not the current one)."""
    config = request.app[CONFIG]
    capacity = config.routing_capacity
    ticket = await queries.get_ticket(request.app[DB], session.ticket_id)
    now = request.app[CLOCK].now_ms()
    lease = int(config.presence_lease_s * 1000)
    cands = [
        candidate(e, capacity, now_ms=now, lease_ms=lease)
        for e in await rq.engineer_loads(request.app[DB])
        if e.user_id != session.engineer_id
    ]
    chosen = choose(
        cands,
        (group,),
        ticket.organisation if ticket else "",
        capacity=capacity,
        see_all=config.engineers_see_all_tickets,
    )
    if chosen is None:
        raise Conflict(f"nobody of the group {group!r} is available now")
    return chosen.user_id


async def transfer_session(request: web.Request) -> web.Response:
    """``POST /api/v1/sessions/{session_id}/transfer``: see the module docstring."""
    body = await read_body(request, allowed={"engineer_id", "group"})
    engineer_id = body.opt_text("engineer_id", max_len=64, min_len=1)
    group = body.opt_text("group", max_len=64, min_len=1)
    if (engineer_id is None) == (group is None):
        raise InvalidField("engineer_id", "give either engineer_id or group")
    session = await _live_session_of_caller(request)
    if engineer_id is None:
        assert group is not None
        engineer_id = await _from_group(request, group, session)
    return await _offer(request, session, "transfer", engineer_id, group)


async def invite_colleague(request: web.Request) -> web.Response:
    """``POST /api/v1/sessions/{session_id}/invite`` ``{"engineer_id"}``."""
    body = await read_body(request, allowed={"engineer_id"}, required={"engineer_id"})
    engineer_id = body.text("engineer_id", max_len=64)
    session = await _live_session_of_caller(request)
    return await _offer(request, session, "invite", engineer_id, None)


async def _offer(
    request: web.Request,
    session: queries.SessionInfo,
    kind: str,
    engineer_id: str,
    group: str | None,
) -> web.Response:
    """Check the target engineer, then store the pending transfer or invitation (201)."""
    await _engineer(request, engineer_id, session)
    assert session.engineer_id is not None
    made = await handovers.create_handover(
        request.app[DB],
        session.id,
        kind=kind,
        from_user_id=session.engineer_id,
        to_user_id=engineer_id,
        group=group,
        at=request.app[CLOCK].now_ms(),
    )
    return web.json_response(handover_json(made), status=201)


async def my_handovers(request: web.Request) -> web.Response:
    """``GET /api/v1/me/handovers``: pending transfers and invitations to the caller."""
    Query(request, ())
    found = await handovers.pending_for_user(request.app[DB], request[USER].id)
    return web.json_response({"handovers": [handover_json(h) for h in found]})


async def session_handovers(request: web.Request) -> web.Response:
    """``GET /api/v1/sessions/{session_id}/handovers``: oldest first."""
    Query(request, ())
    session = await queries.get_session(request.app[DB], request.match_info["session_id"])
    if session is None:
        raise NotFound("no such session")
    if not await may_read_session(request, session):
        raise Forbidden("this session is neither yours nor in your queue")
    found = await handovers.list_handovers(request.app[DB], session.id)
    return web.json_response({"handovers": [handover_json(h) for h in found]})
