"""Admin API of the SLA workflow (docs/workflow.md): calendars, contracts per tier
(calendar, pauses, at-risk fraction, escalation chain, targets per priority),
closure rules per organisation and staff e-mail addresses for escalations."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from broker.api.body import Query, read_body
from broker.clock import CLOCK
from broker.errors import InvalidField
from broker.sla import store
from broker.sla.calendar import Calendar, CalendarError
from broker.sla.contracts import Contract, ContractError, parse_chain, parse_pause, parse_targets
from broker.store.db import DB

__all__ = [
    "calendar_json",
    "contract_json",
    "delete_calendar",
    "list_addresses",
    "list_calendars",
    "list_closures",
    "list_contracts",
    "put_address",
    "put_calendar",
    "put_closure",
    "put_contract",
]

NAME_CHARS = re.compile(r"^[a-z0-9._-]{1,64}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")
MAX_AUTO_CLOSE_S = 90 * 24 * 3600
MIN_REMIND_S, MAX_REMIND_S = 300, 7 * 24 * 3600


def calendar_json(name: str, cal: Calendar) -> dict[str, Any]:
    """A calendar with its name."""
    return {"name": name, **cal.to_json()}


def contract_json(c: Contract) -> dict[str, Any]:
    """A tier's contract."""
    return {
        "tier": c.tier,
        "calendar": c.calendar_name,
        "pause_statuses": sorted(c.pause),
        "at_risk_fraction": c.at_risk,
        "chain": [level.to_json() for level in c.chain],
        "targets": {
            p: {"response_s": t.response_s, "resolution_s": t.resolution_s}
            for p, t in sorted(c.targets.items())
        },
        "remind_after_s": c.remind_after_s,
    }


def _name(request: web.Request, key: str = "name") -> str:
    name = request.match_info[key]
    if not NAME_CHARS.match(name):
        raise InvalidField("name", "use 1-64 characters from a-z 0-9 . _ -")
    return name


async def list_calendars(request: web.Request) -> web.Response:
    """``GET /api/v1/sla/calendars``"""
    Query(request, ())
    found = await store.list_calendars(request.app[DB])
    return web.json_response({"calendars": [calendar_json(n, c) for n, c in found]})


async def put_calendar(request: web.Request) -> web.Response:
    """``PUT /api/v1/sla/calendars/{name}`` ``{timezone, always?, hours, holidays?}``"""
    name = _name(request)
    body = await read_body(
        request, allowed={"timezone", "always", "hours", "holidays"}, required={"timezone"}
    )
    data = {k: body.opt_json(k) for k in ("timezone", "always", "hours", "holidays") if k in body}
    try:
        cal = Calendar.from_json(data)
    except CalendarError as exc:
        raise InvalidField(exc.field, exc.message) from None
    await store.put_calendar(request.app[DB], name, cal, at=request.app[CLOCK].now_ms())
    return web.json_response(calendar_json(name, cal))


async def delete_calendar(request: web.Request) -> web.Response:
    """``DELETE /api/v1/sla/calendars/{name}`` (409 while a contract uses it)."""
    name = _name(request)
    await store.delete_calendar(request.app[DB], name)
    return web.json_response({"deleted": name})


async def list_contracts(request: web.Request) -> web.Response:
    """``GET /api/v1/sla/contracts``: every tier's contract."""
    Query(request, ())
    contracts = await store.list_contracts(request.app[DB])
    return web.json_response({"contracts": [contract_json(c) for c in contracts]})


async def put_contract(request: web.Request) -> web.Response:
    """``PUT /api/v1/sla/contracts/{tier}``: replace a tier's contract (no ``calendar``:
    24×7)."""
    tier = request.match_info["tier"]
    fields = {"calendar", "pause_statuses", "at_risk_fraction", "chain", "targets"}
    body = await read_body(
        request, allowed=fields | {"remind_after_s"}, required=fields - {"calendar"}
    )
    calendar = body.opt_text("calendar", max_len=64, min_len=1)
    remind = body.opt_int("remind_after_s", low=0, high=MAX_REMIND_S)
    if remind is not None and 0 < remind < MIN_REMIND_S:
        raise InvalidField("remind_after_s", f"0 (never) or at least {MIN_REMIND_S} seconds")
    fraction = body.opt_json("at_risk_fraction")
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        raise InvalidField("at_risk_fraction", "must be a number in (0, 1]")
    try:
        pause = parse_pause(body.opt_json("pause_statuses"))
        chain = parse_chain(body.opt_json("chain"))
        targets = parse_targets(body.opt_json("targets"))
    except ContractError as exc:
        raise InvalidField(exc.field, exc.message) from None
    contract = await store.put_contract(
        request.app[DB],
        tier,
        calendar=calendar,
        pause=pause,
        at_risk=float(fraction),
        chain=chain,
        targets=targets,
        at=request.app[CLOCK].now_ms(),
        remind_after_s=3600 if remind is None else remind,
    )
    return web.json_response(contract_json(contract))


def _closure_json(c: store.Closure) -> dict[str, Any]:
    return {
        "organisation": c.organisation,
        "auto_close_after_s": c.auto_close_after_s,
        "email_client": c.email_client,
    }


async def list_closures(request: web.Request) -> web.Response:
    """``GET /api/v1/sla/closure``: organisations with their own closure rules (the
    others: auto-close after 72 h, no e-mail)."""
    Query(request, ())
    closures = await store.list_closures(request.app[DB])
    return web.json_response(
        {
            "default": {"auto_close_after_s": store.DEFAULT_AUTO_CLOSE_S, "email_client": False},
            "organisations": [_closure_json(c) for c in closures],
        }
    )


async def put_closure(request: web.Request) -> web.Response:
    """``PUT /api/v1/sla/closure/{organisation}`` ``{auto_close_after_s, email_client}``"""
    organisation = request.match_info["organisation"].strip()
    if not 1 <= len(organisation) <= 200:
        raise InvalidField("organisation", "use 1-200 characters")
    fields = {"auto_close_after_s", "email_client"}
    body = await read_body(request, allowed=fields, required=fields)
    after = body.opt_int("auto_close_after_s", low=3600, high=MAX_AUTO_CLOSE_S)
    email = body.opt_bool("email_client")
    assert after is not None and email is not None
    closure = await store.put_closure(
        request.app[DB],
        organisation,
        auto_close_after_s=after,
        email_client=email,
        at=request.app[CLOCK].now_ms(),
    )
    return web.json_response(_closure_json(closure))


async def list_addresses(request: web.Request) -> web.Response:
    """``GET /api/v1/sla/addresses``: staff e-mail addresses for escalations."""
    Query(request, ())
    found = await store.list_notify_addresses(request.app[DB])
    return web.json_response(
        {"addresses": [{"user_id": u, "email": e} for u, e in sorted(found.items())]}
    )


async def put_address(request: web.Request) -> web.Response:
    """``PUT /api/v1/sla/addresses/{user_id}`` ``{email}`` (``""`` removes it)."""
    body = await read_body(request, allowed={"email"}, required={"email"})
    email = body.text("email", max_len=254, min_len=0)
    if email and not EMAIL.match(email):
        raise InvalidField("email", "is not an e-mail address")
    user_id = request.match_info["user_id"]
    await store.put_notify_address(request.app[DB], user_id, email or None)
    return web.json_response({"user_id": user_id, "email": email})
