"""Endpoints the agent calls before it has a session: ask for help, or redeem an
invitation code. Both are unauthenticated and rate-limited per client address.

And one it calls after its session: the client's rating (:func:`rate_session`),
authenticated by the agent's own session token."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from audit.errors import AuditError
from broker import queue_notice
from broker.api.body import read_body
from broker.api.tickets import hash_invitation_code, normalise_code
from broker.auth.alerts import raise_alert
from broker.auth.policy import client_address
from broker.auth.setup import AGENT_RATE_LIMIT, REDEEM_GUARD, TOKENS
from broker.auth.tokens import AuthError
from broker.clock import CLOCK, iso_ms
from broker.config import CONFIG
from broker.errors import (
    BrokerError,
    Conflict,
    Gone,
    InvalidField,
    NotFound,
    OrganisationDisabled,
    Unauthorized,
)
from broker.ice import ice_servers_for
from broker.recording import RECORDER
from broker.routing import ROUTER
from broker.store import queries
from broker.store.db import DB

__all__ = ["RATING_WINDOW_S", "create_request", "rate_session", "redeem_invitation"]

#: How long after its end a session may still be rated over REST.
RATING_WINDOW_S = 30 * 60


async def _waiting_info(request: web.Request, session: queries.SessionInfo) -> dict[str, Any]:
    """What the client is told while waiting: when an engineer answers at the latest
    (the SLA deadline) and how many requests are ahead of theirs (issue 20 item 6)."""
    waiting = await queries.waiting_sessions(request.app[DB])
    ahead = sum(
        1
        for w in waiting
        if w.session.id != session.id and w.session.deadline_ms <= session.deadline_ms
    )
    return {"answer_by": iso_ms(session.deadline_ms), "queue_position": ahead + 1}


def _session_response(
    request: web.Request,
    ticket: queries.Ticket,
    session: queries.SessionInfo,
    waiting: dict[str, Any] | None = None,
) -> web.Response:
    tokens = request.app[TOKENS]
    config = request.app[CONFIG]
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
                now_s=request.app[CLOCK].now_ms() // 1000,
                ttl_s=config.turn_credential_ttl_s,
            ),
            **(waiting or {}),
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
    if "tier" in body:
        # The client is not authenticated: its SLA tier comes from the organisation's
        # contract (admins, PUT /organisations/{name}), never from the request.
        raise InvalidField("tier", "the SLA tier comes from the organisation's contract")
    contract = await queries.get_organisation(request.app[DB], organisation)
    if contract is not None and contract.disabled:
        raise OrganisationDisabled(organisation)
    tier = contract.tier if contract is not None else request.app[CONFIG].default_tier
    await request.app[AGENT_RATE_LIMIT].hit("request:" + client_address(request))
    ticket, session = await queries.create_request(
        request.app[DB],
        description=description,
        client_name=client_name,
        organisation=organisation,
        tier=tier,
        at=request.app[CLOCK].now_ms(),
    )
    if ROUTER in request.app:  # issue 19: push it to an engineer now, not at the next pass
        request.app[ROUTER].kick()
    queue_notice.kick(request.app)  # places behind it may move
    return _session_response(request, ticket, session, await _waiting_info(request, session))


async def redeem_invitation(request: web.Request) -> web.Response:
    """``POST /api/v1/agent/redeem``: use an invitation code once."""
    body = await read_body(
        request, allowed={"code", "client_name"}, required={"code", "client_name"}
    )
    digits = normalise_code(body.text("code", max_len=20))
    client_name = body.text("client_name", max_len=200)
    await request.app[AGENT_RATE_LIMIT].hit("redeem:" + client_address(request))
    guard = request.app[REDEEM_GUARD]
    await guard.check()
    try:
        ticket, session = await queries.redeem_invitation(
            request.app[DB],
            code_hash=hash_invitation_code(digits),
            client_name=client_name,
            at=request.app[CLOCK].now_ms(),
        )
    except NotFound:
        until = await guard.failure()
        if until is not None:
            await _guessing_alert(request, until)
        raise
    queue_notice.kick(request.app)
    return _session_response(request, ticket, session)


async def _guessing_alert(request: web.Request, until: int) -> None:
    """Wrong invitation codes from all addresses reached the limit: tell operators
    (warning log and a ``security.alert`` webhook event), at most once per window;
    ``until``: when redemptions are allowed again."""
    app = request.app
    config = app[CONFIG]
    now = app[CLOCK].now_ms()
    await raise_alert(
        app,
        "invitation_guessing",
        {
            "failures": config.invitation_failures_per_window,
            "window_s": config.invitation_failure_window_s,
            "until": iso_ms(until),
            "last_address": client_address(request),
        },
        now,
    )


class _NotEnded(Conflict):
    """Rating over REST is for ended sessions (the agent may retry shortly: the end
    of a killed session is stored just after the kill reaches the broker)."""

    code = "not_ended"


class _RatingUnavailable(BrokerError):
    """The review log could not record the rating: it is refused (fail closed)."""

    code = "unavailable"
    status = 503


async def rate_session(request: web.Request) -> web.Response:
    """``POST /api/v1/agent/rating``: the client rates the help after the end.

    Authenticated by an ``agent`` token of the session (``Authorization: Bearer``): the
    one from the request/redeem answer or a ``welcome.resume_token``. Its own expiry
    is not checked — a kill closes the socket at once (G5), and a long session outlives
    every token the agent holds — the window is bounded instead by the session's end:
    the session must have ended no more than :data:`RATING_WINDOW_S` ago. One rating
    per session (409 for a second, also after a rating sent over the WebSocket). The
    session log is sealed at the end, so ``rating.given`` goes to the signed review log.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <agent token>'")
    try:
        claims = request.app[TOKENS].verify(token.strip(), "agent", allow_expired=True)
    except AuthError as exc:
        raise Unauthorized(exc.message) from None
    assert claims.sid is not None  # agent tokens always carry their session
    body = await read_body(request, allowed={"score", "comment"}, required={"score"})
    score = body.opt_int("score", low=1, high=5)
    if score is None:
        raise InvalidField("score", "is required")
    comment = body.opt_text("comment", max_len=1000) or None
    db = request.app[DB]
    now = request.app[CLOCK].now_ms()
    session = await queries.get_session(db, claims.sid)
    if session is None:
        raise Unauthorized("the token's session does not exist")
    if session.state != "ended" or session.ended_at_ms is None:
        raise _NotEnded("the session has not ended; rate it over its connection")
    if now - session.ended_at_ms > RATING_WINDOW_S * 1000:
        raise Gone("the time to rate this session is over")
    if session.rating_score is not None:
        raise Conflict("this session has already been rated")
    recorder = request.app.get(RECORDER)
    if recorder is not None:
        try:
            recorder.review_event(session.id, "rating.given", "client", {"score": score}, now)
        except (OSError, AuditError) as exc:
            raise _RatingUnavailable(f"the rating cannot be recorded: {exc}") from None
    rated = await queries.set_rating(db, session.id, score, comment, once=True)
    return web.json_response(
        {
            "session_id": rated.id,
            "rating": {"score": rated.rating_score, "comment": rated.rating_comment},
        },
        status=201,
    )
