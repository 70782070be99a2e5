"""User management (admins) and SLA tiers."""

from __future__ import annotations

from aiohttp import web

from broker.api.body import Body, Query, read_body
from broker.api.serialize import user_json
from broker.auth.passwords import PASSWORDS, PasswordService, random_password
from broker.auth.policy import USER
from broker.clock import CLOCK
from broker.errors import InvalidField
from broker.store import queries
from broker.store.db import DB

__all__ = [
    "create_user",
    "list_organisations",
    "list_tiers",
    "list_users",
    "put_organisation",
    "put_tier",
    "update_user",
]

USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


def check_username(username: str) -> str:
    """Usernames are 2–64 lower-case letters, digits, dot, dash, underscore."""
    if not 2 <= len(username) <= 64 or not set(username) <= USERNAME_CHARS:
        raise InvalidField("username", "use 2-64 characters from a-z 0-9 . _ -")
    return username


def check_password(password: str) -> str:
    """Passwords have at least :attr:`PasswordService.MIN_LENGTH` characters."""
    if len(password) < PasswordService.MIN_LENGTH:
        raise InvalidField("password", f"needs at least {PasswordService.MIN_LENGTH} characters")
    return password


def _organisations(body: Body) -> list[str] | None:
    """The optional ``organisations`` list (at most 64 names of 1–200 characters)."""
    names = body.opt_str_list("organisations")
    if names is not None and (len(names) > 64 or any(not 1 <= len(n) <= 200 for n in names)):
        raise InvalidField("organisations", "at most 64 names of 1-200 characters")
    return names


async def list_users(request: web.Request) -> web.Response:
    """``GET /api/v1/users``"""
    Query(request, ())
    users = await queries.list_users(request.app[DB])
    return web.json_response({"users": [user_json(u) for u in users]})


async def create_user(request: web.Request) -> web.Response:
    """``POST /api/v1/users`` ``{username, name, role, skills?, password?}``; without a
    password one is generated and returned once."""
    body = await read_body(
        request,
        allowed={"username", "name", "role", "skills", "organisations", "password"},
        required={"username", "name", "role"},
    )
    username = check_username(body.text("username", max_len=64))
    name = body.text("name", max_len=200)
    role = body.choice("role", queries.ROLES)
    skills = body.opt_str_list("skills") or []
    organisations = _organisations(body)
    given = body.opt_text("password", max_len=1024)
    password = check_password(given) if given is not None else random_password()
    app = request.app
    user = await queries.create_user(
        app[DB],
        username=username,
        name=name,
        role=role,
        skills=skills,
        password_hash=await app[PASSWORDS].hash_async(password),
        at=app[CLOCK].now_ms(),
        organisations=organisations or [],
        must_change_password=True,  # the admin knows it: the user replaces it first
    )
    data: dict[str, object] = {"user": user_json(user)}
    if given is None:
        data["password"] = password
    return web.json_response(data, status=201)


async def update_user(request: web.Request) -> web.Response:
    """``PATCH /api/v1/users/{user_id}`` ``{name?, role?, skills?, organisations?,
    disabled?, password?, mfa_reset?}``; ``mfa_reset`` (a lost device) turns the user's
    MFA off and revokes their tokens: they log in with the password and enrol again."""
    body = await read_body(
        request,
        allowed={"name", "role", "skills", "organisations", "disabled", "password", "mfa_reset"},
    )
    mfa_reset = body.opt_bool("mfa_reset")
    name = body.opt_text("name", max_len=200, min_len=1)
    role = body.opt_choice("role", queries.ROLES)
    skills = body.opt_str_list("skills")
    disabled = body.opt_bool("disabled")
    organisations = _organisations(body)
    password = body.opt_text("password", max_len=1024)
    if password is not None:
        check_password(password)
    if disabled and request.match_info["user_id"] == request[USER].id:
        raise InvalidField("disabled", "you cannot disable yourself")
    app = request.app
    user = await queries.update_user(
        app[DB],
        request.match_info["user_id"],
        name=name,
        role=role,
        skills=skills,
        disabled=disabled,
        password_hash=None if password is None else await app[PASSWORDS].hash_async(password),
        organisations=organisations,
        must_change_password=True if password is not None else None,  # a reset is one-time
    )
    if mfa_reset:
        await queries.set_mfa(app[DB], user.id, secret=None, recovery=[])
        await queries.bump_token_generation(app[DB], user.id)
        user = await queries.get_user(app[DB], user.id) or user
    return web.json_response(user_json(user))


async def list_tiers(request: web.Request) -> web.Response:
    """``GET /api/v1/sla-tiers``"""
    Query(request, ())
    tiers = await queries.list_tiers(request.app[DB])
    return web.json_response(
        {"tiers": [{"name": t.name, "answer_within_s": t.answer_within_s} for t in tiers]}
    )


async def put_tier(request: web.Request) -> web.Response:
    """``PUT /api/v1/sla-tiers/{name}`` ``{answer_within_s}``: create or change a tier."""
    name = request.match_info["name"]
    if not 1 <= len(name) <= 32 or not set(name) <= USERNAME_CHARS:
        raise InvalidField("name", "use 1-32 characters from a-z 0-9 . _ -")
    body = await read_body(request, allowed={"answer_within_s"}, required={"answer_within_s"})
    seconds = body.opt_int("answer_within_s", low=60, high=30 * 24 * 3600)
    assert seconds is not None
    tier = await queries.set_tier(request.app[DB], name, seconds)
    return web.json_response({"name": tier.name, "answer_within_s": tier.answer_within_s})


def _organisation_json(o: queries.Organisation) -> dict[str, object]:
    return {"name": o.name, "tier": o.tier, "disabled": o.disabled}


async def list_organisations(request: web.Request) -> web.Response:
    """``GET /api/v1/organisations``: every organisation, its contract's SLA tier and
    whether it is disabled."""
    Query(request, ())
    orgs = await queries.list_organisations(request.app[DB])
    return web.json_response({"organisations": [_organisation_json(o) for o in orgs]})


async def put_organisation(request: web.Request) -> web.Response:
    """``PUT /api/v1/organisations/{name}`` ``{tier, disabled?}``: create or change an
    organisation (admins only). A client request naming the organisation gets this
    tier's deadline; the client itself never chooses its tier. A disabled organisation
    (``disabled: true``; left out: false) gets no new tickets or client requests."""
    name = request.match_info["name"].strip()
    if not 1 <= len(name) <= 200:
        raise InvalidField("name", "use 1-200 characters")
    body = await read_body(request, allowed={"tier", "disabled"}, required={"tier"})
    tier = body.text("tier", max_len=32)
    disabled = body.opt_bool("disabled") or False
    org = await queries.put_organisation(
        request.app[DB], name, tier, disabled=disabled, at=request.app[CLOCK].now_ms()
    )
    return web.json_response(_organisation_json(org))
