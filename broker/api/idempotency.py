"""``Idempotency-Key`` on POSTs (issue 18): a help desk that retries a POST after a
timeout must not open a second ticket or invitation.

The first request with a key claims it; its successful response is stored and replayed
(with ``Idempotent-Replayed: true``) for 24 h to every later request of the same caller
with the same key and the same body. The same key with a different body or route is
refused with 422; a request that arrives while the first still runs gets 409. A request
that fails leaves no trace: it may be retried with the same key.
"""

from __future__ import annotations

import hashlib
import json
from functools import wraps

from aiohttp import web

from broker.api.body import MAX_BODY_BYTES, PRELOADED_BODY
from broker.auth.policy import USER, Handler
from broker.clock import CLOCK
from broker.errors import BadRequest, BrokerError, Conflict
from broker.store import queries
from broker.store.db import DB

__all__ = ["HEADER", "KEEP_MS", "KeyReused", "idempotent"]

HEADER = "Idempotency-Key"
KEEP_MS = 24 * 3600 * 1000


class KeyReused(BrokerError):
    """The Idempotency-Key was used before for a different request."""

    code = "idempotency_key_reused"
    status = 422


def _fingerprint(method: str, path: str, raw: bytes) -> str:
    """The request's identity: route and body (JSON compared by value, not spelling)."""
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = raw
    return hashlib.sha256(method.encode() + b"\0" + path.encode() + b"\0" + body).hexdigest()


def idempotent(handler: Handler) -> Handler:
    """Honour an ``Idempotency-Key`` header on ``handler`` (a guarded POST)."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request)
        if not 1 <= len(key) <= 255 or not all(" " <= ch <= "~" for ch in key):
            raise BadRequest(f"{HEADER} must be 1-255 printable ASCII characters")
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes")
        request[PRELOADED_BODY] = raw
        db = request.app[DB]
        user_id = request[USER].id
        fingerprint = _fingerprint(request.method, request.path, raw)
        earlier = await queries.reserve_idempotent(
            db, user_id, key, fingerprint, at=request.app[CLOCK].now_ms(), keep_ms=KEEP_MS
        )
        if earlier is not None:
            if earlier.fingerprint != fingerprint:
                raise KeyReused(f"this {HEADER} was used for a different request")
            if earlier.status == 0:
                raise Conflict(f"a request with this {HEADER} is still running; retry later")
            return web.Response(
                status=earlier.status,
                text=earlier.body,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            response = await handler(request)
        except BaseException:
            await queries.release_idempotent(db, user_id, key)
            raise
        if isinstance(response, web.Response) and 200 <= response.status < 300:
            await queries.finish_idempotent(db, user_id, key, response.status, response.text or "")
        else:
            await queries.release_idempotent(db, user_id, key)
        return response

    return wrapped
