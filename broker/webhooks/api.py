"""Admin API for webhook endpoints (all routes admin only; broker/openapi.yaml):

* ``GET    /api/v1/webhooks`` — the registered endpoints (never their secrets).
* ``POST   /api/v1/webhooks`` ``{url, events, description?}`` — register one; the
  answer carries the signing ``secret``, shown this once.
* ``DELETE /api/v1/webhooks/{webhook_id}`` — remove one and drop its pending deliveries.
* ``GET    /api/v1/webhooks/{webhook_id}/deliveries?status=&limit=`` — recent
  deliveries with attempts, next attempt, last error.
* ``GET    /api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}`` — one delivery
  with its exact body and every attempt (when, HTTP status, latency, error, manual).
* ``POST   /api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver`` — send
  it again now (one more attempt, logged as manual; delivered or dead ones too).
* ``GET    /api/v1/webhook-schemas`` — every event type with its version and the
  path of its JSON Schema; ``GET /api/v1/webhook-schemas/{name}`` one schema
  (``consent.granted.v1``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from broker.api.body import Query, read_body
from broker.auth.policy import API_KEY, USER
from broker.clock import CLOCK, iso_ms
from broker.config import CONFIG
from broker.errors import Forbidden, InvalidField, NotFound
from broker.store import webhook_models as store
from broker.store.db import DB
from broker.store.delivery_log_models import DeliveryAttempt, list_attempts
from broker.webhooks import schemas
from broker.webhooks.delivery import WEBHOOKS
from broker.webhooks.events import EVENT_TYPES, EVENT_VERSIONS
from broker.webhooks.signing import new_secret

__all__ = [
    "check_url",
    "create_webhook",
    "delete_webhook",
    "get_delivery",
    "get_schema",
    "list_deliveries",
    "list_schemas",
    "list_webhooks",
    "redeliver",
]

MAX_URL_LEN = 2000
DELIVERY_STATUSES = ("pending", "delivered", "dead")


def check_url(url: str, *, allow_http_loopback: bool) -> str:
    """Accept ``https://host[:port]/path``; ``http://127.0.0.1[:port]/…`` only when the
    development flag allows it. No credentials or fragment in the URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a bad port
    except ValueError:
        raise InvalidField("url", "is not a valid URL") from None
    if parts.username is not None or parts.password is not None:
        raise InvalidField("url", "must not contain credentials")
    if parts.fragment:
        raise InvalidField("url", "must not contain a #fragment")
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname == "127.0.0.1" and allow_http_loopback:
        return url
    hint = " (or http://127.0.0.1 with webhook_allow_http_loopback)" if parts.scheme else ""
    raise InvalidField("url", f"must be an https:// URL with a host{hint}")


def endpoint_json(e: store.WebhookEndpoint) -> dict[str, Any]:
    """An endpoint, without its secret."""
    return {
        "id": e.id,
        "url": e.url,
        "events": list(e.events),
        "description": e.description,
        "created_by": e.created_by,
        "created_at": iso_ms(e.created_at_ms),
    }


def delivery_json(d: store.WebhookDelivery) -> dict[str, Any]:
    """A delivery's state."""
    return {
        "id": d.id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "subject_id": d.subject_id,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": iso_ms(d.created_at_ms),
        "next_attempt_at": iso_ms(d.next_attempt_at_ms),
        "delivered_at": iso_ms(d.delivered_at_ms),
        "dead_at": iso_ms(d.dead_at_ms),
        "last_status": d.last_status,
        "last_error": d.last_error,
    }


def _visible(request: web.Request, endpoint: store.WebhookEndpoint) -> bool:
    """Admins see every endpoint; an integration account only those it registered.
    Review of 2026-12-04: one help desk's key listed, deleted and redelivered another's
    endpoints and read their delivery bodies (session summaries, tickets)."""
    user = request[USER]
    return user.role != "integration" or endpoint.created_by == user.id


async def _endpoint_or_404(request: web.Request) -> store.WebhookEndpoint:
    endpoint = await store.get_endpoint(request.app[DB], request.match_info["webhook_id"])
    if endpoint is None or not _visible(request, endpoint):
        raise NotFound("no such webhook")
    return endpoint


#: The API-key scope an event's data needs (review of 2026-12-04: a key with only
#: ``webhooks`` subscribed to session.summary and read what ``sessions:read`` guards).
_EVENT_SCOPES = (
    (("session.", "consent.", "queue.", "recording."), "sessions:read"),
    (("ticket.", "sla.", "escalation."), "tickets"),
)


def _check_event_scopes(request: web.Request, events: list[str]) -> None:
    """An API key subscribes only to events whose data its scopes may read; the
    security alerts are for admins (no key subscribes to them)."""
    key = request.get(API_KEY)
    if key is None:
        return
    for event in events:
        needed = next((sc for starts, sc in _EVENT_SCOPES if event.startswith(starts)), None)
        if needed is None or needed not in key.scopes:
            raise Forbidden(f"this API key lacks the scope {needed or 'admin'!r} for {event!r}")


async def list_webhooks(request: web.Request) -> web.Response:
    """``GET /api/v1/webhooks`` (an integration account: those it registered)."""
    Query(request, ())
    endpoints = await store.list_endpoints(request.app[DB])
    return web.json_response(
        {"webhooks": [endpoint_json(e) for e in endpoints if _visible(request, e)]}
    )


async def create_webhook(request: web.Request) -> web.Response:
    """``POST /api/v1/webhooks`` ``{url, events, description?}`` → the endpoint and
    its secret (shown once)."""
    app = request.app
    body = await read_body(
        request, allowed={"url", "events", "description"}, required={"url", "events"}
    )
    url = check_url(
        body.text("url", max_len=MAX_URL_LEN),
        allow_http_loopback=app[CONFIG].webhook_allow_http_loopback,
    )
    events = body.opt_str_list("events", max_items=len(EVENT_TYPES), choices=EVENT_TYPES)
    if not events:
        raise InvalidField("events", f"list at least one of {', '.join(EVENT_TYPES)}")
    description = body.opt_text("description", max_len=200) or ""
    _check_event_scopes(request, events)
    secret = new_secret()
    endpoint = await store.create_endpoint(
        app[DB],
        url=url,
        events=events,
        secret=secret,
        description=description,
        created_by=request[USER].id,
        at=app[CLOCK].now_ms(),
    )
    return web.json_response({"webhook": endpoint_json(endpoint), "secret": secret}, status=201)


async def delete_webhook(request: web.Request) -> web.Response:
    """``DELETE /api/v1/webhooks/{webhook_id}``"""
    webhook_id = (await _endpoint_or_404(request)).id
    if not await store.delete_endpoint(request.app[DB], webhook_id):
        raise NotFound("no such webhook")
    return web.json_response({"deleted": webhook_id})


async def list_deliveries(request: web.Request) -> web.Response:
    """``GET /api/v1/webhooks/{webhook_id}/deliveries?status=&limit=``"""
    query = Query(request, {"status", "limit"})
    status = query.opt_choice("status", DELIVERY_STATUSES)
    limit = query.integer("limit", default=100, low=1, high=500)
    db = request.app[DB]
    webhook_id = (await _endpoint_or_404(request)).id
    deliveries = await store.list_deliveries(db, webhook_id, status=status, limit=limit)
    return web.json_response({"deliveries": [delivery_json(d) for d in deliveries]})


async def list_schemas(request: web.Request) -> web.Response:
    """``GET /api/v1/webhook-schemas``: each event type, its current version and the
    path of its schema."""
    Query(request, ())
    return web.json_response(
        {
            "events": [
                {
                    "type": t,
                    "version": EVENT_VERSIONS[t],
                    "schema": f"/api/v1/webhook-schemas/{t}.v{EVENT_VERSIONS[t]}",
                }
                for t in EVENT_TYPES
            ]
        }
    )


async def get_schema(request: web.Request) -> web.Response:
    """``GET /api/v1/webhook-schemas/{name}`` (``<type>.v<version>``): one JSON Schema."""
    name = request.match_info["name"]
    event_type, _, version = name.rpartition(".v")
    if not version.isdigit() or event_type not in EVENT_TYPES:
        raise NotFound("no such event schema")
    try:
        schema = schemas.load_schema(event_type, int(version))
    except KeyError:
        raise NotFound("no such event schema") from None
    return web.json_response(schema)


def attempt_json(a: DeliveryAttempt) -> dict[str, Any]:
    """One logged attempt."""
    return {
        "attempt": a.attempt,
        "at": iso_ms(a.at_ms),
        "status": a.status,
        "latency_ms": a.latency_ms,
        "error": a.error,
        "manual": a.manual,
    }


async def _delivery_or_404(request: web.Request) -> store.WebhookDelivery:
    await _endpoint_or_404(request)
    delivery = await store.get_delivery(request.app[DB], request.match_info["delivery_id"])
    if delivery is None or delivery.endpoint_id != request.match_info["webhook_id"]:
        raise NotFound("no such delivery")
    return delivery


async def get_delivery(request: web.Request) -> web.Response:
    """``GET /api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}``: the delivery,
    its body (as sent) and its attempts, oldest first."""
    Query(request, ())
    delivery = await _delivery_or_404(request)
    db = request.app[DB]
    body = await store.get_delivery_body(db, delivery.id)
    attempts = await list_attempts(db, delivery.id)
    return web.json_response(
        {
            "delivery": delivery_json(delivery),
            "body": json.loads(body) if body else None,
            "attempts": [attempt_json(a) for a in attempts],
        }
    )


async def redeliver(request: web.Request) -> web.Response:
    """``POST /api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver``"""
    await read_body(request, allowed=())
    delivery = await _delivery_or_404(request)
    app = request.app
    await store.redeliver(app[DB], delivery.endpoint_id, delivery.id, at=app[CLOCK].now_ms())
    dispatcher = app.get(WEBHOOKS)
    if dispatcher is not None:
        dispatcher.wake()
    fresh = await store.get_delivery(app[DB], delivery.id)
    assert fresh is not None
    return web.json_response({"delivery": delivery_json(fresh)}, status=202)
