"""Tickets and invitations."""

from __future__ import annotations

import hashlib
import secrets

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from broker.api.body import Body, Query, read_body
from broker.api.serialize import session_json, ticket_change_json, ticket_json
from broker.api.ticket_sync import ExternalRefTaken, check_source
from broker.auth.policy import USER, may_read_session, ticket_scope
from broker.clock import CLOCK, iso_ms
from broker.config import CONFIG
from broker.errors import Conflict, InvalidField, NotFound
from broker.store import queries
from broker.store.db import DB

__all__ = [
    "create_invitation",
    "create_ticket",
    "get_ticket",
    "hash_invitation_code",
    "list_tickets",
    "normalise_code",
    "ticket_history",
    "update_ticket",
]

_TICKET_FIELDS = {
    "title",
    "description",
    "organisation",
    "tier",
    "external_ref",
    "external_source",
    "skills",
}


def normalise_code(code: str) -> str:
    """The 8 digits of an invitation code typed as ``4821-7730``, ``4821 7730`` …"""
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != 8 or len(code) > 20:
        raise InvalidField("code", "an invitation code has 8 digits, like 4821-7730")
    return digits


def hash_invitation_code(digits: str) -> str:
    """What the store keeps instead of the code."""
    return hashlib.sha256(b"clearpane-invitation\0" + digits.encode()).hexdigest()


async def list_tickets(request: web.Request) -> web.Response:
    """``GET /api/v1/tickets?status=&organisation=&q=&external_ref=&external_source=&limit=&offset=``
    (``external_ref``: the help desk's exact lookup of its own ticket number)."""
    query = Query(
        request,
        {"status", "organisation", "q", "external_ref", "external_source", "limit", "offset"},
    )
    tickets = await queries.list_tickets(
        request.app[DB],
        scope=ticket_scope(request),
        status=query.opt_choice("status", queries.TICKET_STATUSES),
        organisation=query.opt_text("organisation"),
        q=query.opt_text("q"),
        external_ref=query.opt_text("external_ref"),
        external_source=query.opt_text("external_source", max_len=64),
        limit=query.integer("limit", default=100, low=1, high=500),
        offset=query.integer("offset", default=0, low=0, high=1_000_000),
    )
    return web.json_response({"tickets": [ticket_json(t) for t in tickets]})


async def create_ticket(request: web.Request) -> web.Response:
    """``POST /api/v1/tickets``"""
    body = await read_body(request, allowed=_TICKET_FIELDS, required={"title"})
    app = request.app
    organisation = body.opt_text("organisation", max_len=200) or ""
    title = body.text("title", max_len=200)
    await queries.check_organisation_enabled(app[DB], organisation)
    external_ref, external_source = _ref_fields(body)
    try:
        ticket = await queries.create_ticket(
            app[DB],
            title=title,
            description=body.opt_text("description", max_len=10_000) or "",
            organisation=organisation,
            tier=body.opt_text("tier", max_len=32) or app[CONFIG].default_tier,
            external_ref=external_ref,
            external_source=external_source,
            skills=body.opt_str_list("skills") or [],
            created_by=request[USER].id,
            at=app[CLOCK].now_ms(),
        )
    except IntegrityError:
        raise ExternalRefTaken("another ticket already has this reference") from None
    return web.json_response(ticket_json(ticket), status=201)


def _ref_fields(body: Body) -> tuple[str | None, str | None]:
    """``external_ref`` and its ``external_source`` (checked); a source needs a ref."""
    ref = body.opt_text("external_ref", max_len=200)
    source = body.opt_text("external_source", max_len=64)
    if source is not None:
        check_source(source)
        if ref is None:
            raise InvalidField("external_source", "needs an external_ref")
    return ref, source


async def _ticket_or_404(request: web.Request) -> queries.Ticket:
    """The path's ticket if the user may see it; 404 alike for missing and foreign ones
    (an engineer cannot tell another organisation's ticket ids from random ones)."""
    ticket_id = request.match_info["ticket_id"]
    db = request.app[DB]
    ticket = await queries.get_ticket(db, ticket_id)
    if ticket is None or not await queries.ticket_in_scope(db, ticket_id, ticket_scope(request)):
        raise NotFound("no such ticket")
    return ticket


async def get_ticket(request: web.Request) -> web.Response:
    """``GET /api/v1/tickets/{ticket_id}``: the ticket with its sessions."""
    ticket = await _ticket_or_404(request)
    sessions = await queries.list_sessions(request.app[DB], ticket_id=ticket.id)
    data = ticket_json(ticket)
    data["sessions"] = [session_json(s) for s in sessions if await may_read_session(request, s)]
    return web.json_response(data)


async def update_ticket(request: web.Request) -> web.Response:
    """``PATCH /api/v1/tickets/{ticket_id}``"""
    body = await read_body(
        request, allowed=_TICKET_FIELDS | {"status", "resolution", "assignee", "owner"}
    )
    changes = {
        "title": body.opt_text("title", max_len=200, min_len=1),
        "description": body.opt_text("description", max_len=10_000),
        "organisation": body.opt_text("organisation", max_len=200),
        "tier": body.opt_text("tier", max_len=32, min_len=1),
        "external_ref": body.opt_text("external_ref", max_len=200),
        "external_source": body.opt_text("external_source", max_len=64),
        "status": body.opt_choice("status", queries.TICKET_STATUSES),
        "resolution": body.opt_text("resolution", max_len=10_000),
        # A user id, or "" to take the assignee (owner) away.
        "assignee_id": body.opt_text("assignee", max_len=32),
        "owner_id": body.opt_text("owner", max_len=32),
    }
    if changes["external_source"] is not None:
        check_source(changes["external_source"])
    skills = body.opt_str_list("skills")
    await _ticket_or_404(request)
    if changes["organisation"]:
        await queries.check_organisation_enabled(request.app[DB], changes["organisation"])
    try:
        ticket = await queries.update_ticket(
            request.app[DB],
            request.match_info["ticket_id"],
            at=request.app[CLOCK].now_ms(),
            skills=skills,
            actor_id=request[USER].id,
            **changes,
        )
    except IntegrityError:
        raise ExternalRefTaken("another ticket already has this reference") from None
    return web.json_response(ticket_json(ticket))


async def ticket_history(request: web.Request) -> web.Response:
    """``GET /api/v1/tickets/{ticket_id}/history``: every change, oldest first."""
    ticket = await _ticket_or_404(request)
    changes = await queries.list_ticket_history(request.app[DB], ticket.id)
    return web.json_response({"history": [ticket_change_json(c) for c in changes]})


async def create_invitation(request: web.Request) -> web.Response:
    """``POST /api/v1/tickets/{ticket_id}/invitations`` ``{ttl_s?}`` → a single-use
    code for the client (shown once; only its hash is stored)."""
    config = request.app[CONFIG]
    body = await read_body(request, allowed={"ttl_s"})
    ttl_s = (
        body.opt_int("ttl_s", low=60, high=config.invitation_max_ttl_s) or config.invitation_ttl_s
    )
    ticket = await _ticket_or_404(request)
    now = request.app[CLOCK].now_ms()
    for _ in range(5):  # a fresh code may collide with an old one's hash: draw again
        digits = f"{secrets.randbelow(10**8):08d}"
        try:
            invitation = await queries.create_invitation(
                request.app[DB],
                ticket_id=ticket.id,
                code_hash=hash_invitation_code(digits),
                created_by=request[USER].id,
                at=now,
                expires_at=now + ttl_s * 1000,
            )
        except IntegrityError:
            continue
        return web.json_response(
            {
                "code": f"{digits[:4]}-{digits[4:]}",
                "ticket_id": ticket.id,
                "expires_at": iso_ms(invitation.expires_at_ms),
            },
            status=201,
        )
    raise Conflict("could not draw a free invitation code; try again")
