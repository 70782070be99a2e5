"""Ticket sync by the help desk's own reference (issue 18, docs/integrations.md):

* ``GET /api/v1/tickets/by-ref/{source}/{external_ref}`` — the ticket ``source`` (the
  help desk, e.g. ``zammad``) knows as ``external_ref``; 404 if none.
* ``PUT /api/v1/tickets/by-ref/{source}/{external_ref}`` — upsert: update that ticket
  with the fields given (200), or create it (201; ``title`` required), or — with
  ``ticket_id`` — link an existing Clearpane ticket (a client-opened one announced by
  ``ticket.client_opened``) to that reference (200). A PUT is idempotent by itself: the
  same body twice leaves one ticket with the same fields.

One ticket per ``(source, external_ref)``: the store's unique index decides races;
a reference already linked to another ticket answers 409 ``external_ref_taken``, a
ticket already linked to another reference 409 ``already_linked``.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from broker.api.body import Body, read_body
from broker.api.serialize import ticket_json
from broker.auth.policy import USER, ticket_scope
from broker.clock import CLOCK
from broker.config import CONFIG
from broker.errors import BrokerError, InvalidField, NotFound
from broker.store import queries
from broker.store.db import DB
from broker.store.queries.ticket_sync import find_by_ref

__all__ = ["ExternalRefTaken", "check_ref", "check_source", "get_by_ref", "put_by_ref"]

SOURCE_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_FIELDS = {"title", "description", "organisation", "tier", "skills", "status", "resolution"}


class ExternalRefTaken(BrokerError):
    """Another ticket already has this (source, external_ref)."""

    code = "external_ref_taken"
    status = 409


class AlreadyLinked(BrokerError):
    """The ticket is already linked to another reference."""

    code = "already_linked"
    status = 409


def check_source(source: str) -> str:
    """A source system's name: 1-64 of ``a-z 0-9 . _ -``, starting with a letter/digit."""
    if not SOURCE_RE.fullmatch(source):
        raise InvalidField("source", "use 1-64 characters a-z, 0-9, '.', '_' or '-'")
    return source


def check_ref(ref: str) -> str:
    """An external reference: 1-200 printable characters."""
    if not 1 <= len(ref) <= 200 or not ref.isprintable():
        raise InvalidField("external_ref", "use 1-200 printable characters")
    return ref


def _path(request: web.Request) -> tuple[str, str]:
    return (
        check_source(request.match_info["source"]),
        check_ref(request.match_info["external_ref"]),
    )


async def _visible(request: web.Request, ticket: queries.Ticket | None) -> queries.Ticket | None:
    db = request.app[DB]
    if ticket is None or not await queries.ticket_in_scope(db, ticket.id, ticket_scope(request)):
        return None
    return ticket


async def get_by_ref(request: web.Request) -> web.Response:
    """``GET /api/v1/tickets/by-ref/{source}/{external_ref}``"""
    source, ref = _path(request)
    ticket = await _visible(request, await find_by_ref(request.app[DB], source, ref))
    if ticket is None:
        raise NotFound("no ticket with this reference")
    return web.json_response(ticket_json(ticket))


def _changes(body: Body) -> dict[str, Any]:
    return {
        "title": body.opt_text("title", max_len=200, min_len=1),
        "description": body.opt_text("description", max_len=10_000),
        "organisation": body.opt_text("organisation", max_len=200),
        "tier": body.opt_text("tier", max_len=32, min_len=1),
        "status": body.opt_choice("status", queries.TICKET_STATUSES),
        "resolution": body.opt_text("resolution", max_len=10_000),
        "skills": body.opt_str_list("skills"),
    }


async def put_by_ref(request: web.Request) -> web.Response:
    """``PUT /api/v1/tickets/by-ref/{source}/{external_ref}`` (module docstring)."""
    source, ref = _path(request)
    body = await read_body(request, allowed=_FIELDS | {"ticket_id"})
    changes = _changes(body)
    link_id = body.opt_text("ticket_id", max_len=32, min_len=1)
    db, now, actor = request.app[DB], request.app[CLOCK].now_ms(), request[USER].id
    if changes["organisation"]:
        await queries.check_organisation_enabled(db, changes["organisation"])
    for _ in range(2):  # a create that lost a race to the same reference becomes an update
        existing = await find_by_ref(db, source, ref)
        target: queries.Ticket | None = None
        if existing is not None:
            if link_id is not None and link_id != existing.id:
                raise ExternalRefTaken("another ticket already has this reference")
            target = await _visible(request, existing)
            if target is None:  # another organisation's: as if taken, without details
                raise ExternalRefTaken("another ticket already has this reference")
        elif link_id is not None:
            target = await _visible(request, await queries.get_ticket(db, link_id))
            if target is None:
                raise NotFound("no such ticket")
            linked = (target.external_source, target.external_ref)
            if target.external_source is not None and linked != (source, ref):
                raise AlreadyLinked("this ticket is linked to another reference")
        try:
            if target is not None:
                ticket = await queries.update_ticket(
                    db,
                    target.id,
                    at=now,
                    actor_id=actor,
                    external_ref=ref,
                    external_source=source,
                    **changes,
                )
                return web.json_response(ticket_json(ticket))
            if changes["title"] is None:
                raise InvalidField("title", "is required to create a ticket")
            skills = changes.pop("skills") or []
            for name in ("status", "resolution"):
                if changes.pop(name) is not None:
                    raise InvalidField(name, "cannot be set on a new ticket; PUT it again")
            ticket = await queries.create_ticket(
                db,
                title=changes["title"],
                description=changes["description"] or "",
                organisation=changes["organisation"] or "",
                tier=changes["tier"] or request.app[CONFIG].default_tier,
                external_ref=ref,
                external_source=source,
                skills=skills,
                created_by=actor,
                at=now,
            )
            return web.json_response(ticket_json(ticket), status=201)
        except IntegrityError:
            changes = _changes(body)
            continue
    raise ExternalRefTaken("another ticket already has this reference")
