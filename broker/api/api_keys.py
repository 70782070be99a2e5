"""API keys of integration accounts, managed by admins (issue 18; the keys
themselves: broker/auth/api_keys.py).

- ``GET /api/v1/api-keys?user_id=``: every key, revoked and expired ones too, with
  its prefix, scopes, expiry and last use (never the key).
- ``POST /api/v1/api-keys`` ``{user_id, name, scopes, expires_in_days?}``: a new key
  for a user of role ``integration``, returned once as ``key``.
- ``DELETE /api/v1/api-keys/{key_id}``: revoke it; its next request is refused.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broker.api.body import Query, read_body
from broker.auth import api_keys
from broker.auth.policy import USER
from broker.clock import CLOCK, iso_ms
from broker.store import queries
from broker.store.db import DB

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "create_key", "key_json", "list_keys", "revoke_key"]

DEFAULT_DAYS = 90
MAX_DAYS = 730


def key_json(k: queries.ApiKey, now_ms: int) -> dict[str, Any]:
    """A key as shown to admins: never the key or its hash."""
    state = "active"
    if k.revoked_at_ms is not None:
        state = "revoked"
    elif k.expires_at_ms <= now_ms:
        state = "expired"
    return {
        "id": k.id,
        "prefix": k.prefix,
        "user_id": k.user_id,
        "username": k.username,
        "name": k.name,
        "scopes": list(k.scopes),
        "state": state,
        "created_at": iso_ms(k.created_at_ms),
        "expires_at": iso_ms(k.expires_at_ms),
        "revoked_at": None if k.revoked_at_ms is None else iso_ms(k.revoked_at_ms),
        "last_used_at": None if k.last_used_at_ms is None else iso_ms(k.last_used_at_ms),
    }


async def list_keys(request: web.Request) -> web.Response:
    """``GET /api/v1/api-keys?user_id=``"""
    query = Query(request, {"user_id"})
    keys = await queries.list_api_keys(request.app[DB], user_id=query.opt_text("user_id"))
    now = request.app[CLOCK].now_ms()
    return web.json_response({"api_keys": [key_json(k, now) for k in keys]})


async def create_key(request: web.Request) -> web.Response:
    """``POST /api/v1/api-keys``: the key is in the answer, and nowhere else, ever."""
    body = await read_body(
        request,
        allowed={"user_id", "name", "scopes", "expires_in_days"},
        required={"user_id", "name", "scopes"},
    )
    user_id = body.text("user_id", max_len=32)
    name = body.text("name", max_len=200)
    scopes = body.opt_str_list("scopes", choices=api_keys.SCOPES) or []
    days = body.opt_int("expires_in_days", low=1, high=MAX_DAYS) or DEFAULT_DAYS
    key = api_keys.new_key()
    now = request.app[CLOCK].now_ms()
    stored = await queries.create_api_key(
        request.app[DB],
        user_id=user_id,
        name=name,
        scopes=scopes,
        key_hash=api_keys.hash_key(key),
        prefix=api_keys.display_prefix(key),
        created_by=request[USER].id,
        at=now,
        expires_at=now + days * 86_400_000,
    )
    return web.json_response({"api_key": key_json(stored, now), "key": key}, status=201)


async def revoke_key(request: web.Request) -> web.Response:
    """``DELETE /api/v1/api-keys/{key_id}``"""
    now = request.app[CLOCK].now_ms()
    revoked = await queries.revoke_api_key(request.app[DB], request.match_info["key_id"], now)
    return web.json_response(key_json(revoked, now))
