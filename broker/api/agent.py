"""Endpoints the agent calls before it has a session: ask for help, or redeem an
invitation code. Both are unauthenticated and rate-limited per client address."""

from __future__ import annotations

from aiohttp import web

from broker import keys
from broker.api.body import read_body
from broker.api.tickets import hash_invitation_code, normalise_code
from broker.auth.policy import client_address
from broker.clock import iso_ms
from broker.ice import ice_servers_for
from broker.store import queries

__all__ = ["create_request", "redeem_invitation"]


def _session_response(
    request: web.Request, ticket: queries.Ticket, session: queries.SessionInfo
) -> web.Response:
    tokens = request.app[keys.TOKENS]
    config = request.app[keys.CONFIG]
    token = tokens.issue(
        f"agent:{session.id}",
        "agent",
        "agent",
        session_id=session.id,
        ttl_s=config.agent_token_ttl_s,
    )
    return web.json_response(
        {
            "session_id": session.id,
            "ticket_id": ticket.id,
            "ticket_title": ticket.title,
            "token": token,
            "expires_at": iso_ms(tokens.expires_at_ms(token)),
            # For the video call; the agent may also have its own CLEARPANE_ICE_SERVERS.
            "ice_servers": ice_servers_for(
                config.ice_servers,
                config.turn_secret,
                f"agent-{session.id}",
                now_s=request.app[keys.CLOCK].now_ms() // 1000,
                ttl_s=config.turn_credential_ttl_s,
            ),
        },
        status=201,
    )


async def create_request(request: web.Request) -> web.Response:
    """``POST /api/v1/agent/requests``: open a ticket and queue a session."""
    body = await read_body(
        request,
        allowed={"description", "client_name", "organisation", "tier"},
        required={"description", "client_name"},
    )
    description = body.text("description", max_len=4000)
    client_name = body.text("client_name", max_len=200)
    organisation = body.opt_text("organisation", max_len=200) or ""
    tier = body.opt_text("tier", max_len=32, min_len=1) or request.app[keys.CONFIG].default_tier
    request.app[keys.AGENT_RATE_LIMIT].hit("request:" + client_address(request))
    ticket, session = await queries.create_request(
        request.app[keys.DB],
        description=description,
        client_name=client_name,
        organisation=organisation,
        tier=tier,
        at=request.app[keys.CLOCK].now_ms(),
    )
    return _session_response(request, ticket, session)


async def redeem_invitation(request: web.Request) -> web.Response:
    """``POST /api/v1/agent/redeem``: use an invitation code once."""
    body = await read_body(
        request, allowed={"code", "client_name"}, required={"code", "client_name"}
    )
    digits = normalise_code(body.text("code", max_len=20))
    client_name = body.text("client_name", max_len=200)
    request.app[keys.AGENT_RATE_LIMIT].hit("redeem:" + client_address(request))
    ticket, session = await queries.redeem_invitation(
        request.app[keys.DB],
        code_hash=hash_invitation_code(digits),
        client_name=client_name,
        at=request.app[keys.CLOCK].now_ms(),
    )
    return _session_response(request, ticket, session)
