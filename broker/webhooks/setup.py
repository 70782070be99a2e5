"""Wiring the webhooks into the broker application: the admin routes and one cleanup
context that installs the outbox capture on the database and runs the delivery
worker (started after the database, stopped before it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from aiohttp import web

from broker.api.routes import API_PREFIX
from broker.auth.alerts import ALERT_SINKS
from broker.auth.policy import ADMIN, INTEGRATION, guard
from broker.clock import CLOCK
from broker.config import CONFIG, BrokerConfig
from broker.store.db import DB
from broker.webhooks import api
from broker.webhooks.capture import OutboxCapture, emit_after
from broker.webhooks.delivery import (
    WEBHOOKS,
    AiohttpTransport,
    DeliverySettings,
    Transport,
    WebhookDispatcher,
    client_ssl_context,
)
from broker.webhooks.events import SECURITY_ALERT
from broker.webhooks.relay_events import RELAY_EVENTS, RelayEvents
from broker.webhooks.summary_events import FOLLOW_UPS, SummaryEvents

__all__ = ["TRANSPORT", "WEBHOOKS", "settings_from", "setup_webhooks", "webhooks_ctx"]

log = logging.getLogger(__name__)

# Optional: set before start to replace the real HTTP client (tests, proxies).
TRANSPORT = web.AppKey[Transport]("webhooks_transport")


def settings_from(config: BrokerConfig) -> DeliverySettings:
    """The worker's settings from the broker configuration."""
    return DeliverySettings(
        max_attempts=config.webhook_max_attempts,
        timeout_s=config.webhook_timeout_s,
        backoff_base_s=config.webhook_backoff_base_s,
        backoff_max_s=config.webhook_backoff_max_s,
        poll_interval_s=config.webhook_poll_interval_s,
    )


async def webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    """Install the outbox capture, start the delivery worker; on shutdown stop the
    worker (undelivered rows stay in the outbox for the next start) and close the
    HTTP client."""
    config = app[CONFIG]
    owned: AiohttpTransport | None = None
    transport = app.get(TRANSPORT)
    if transport is None:
        ca_file = config.webhook_ca_file
        # The system trust store costs ~20 ms: loaded at the first delivery, not at every
        # start. A configured CA file is small and still read here (a bad one stops the start).
        owned = AiohttpTransport(
            client_ssl_context(ca_file) if ca_file else partial(client_ssl_context, None)
        )
        transport = owned
    dispatcher = WebhookDispatcher(app[DB], app[CLOCK], transport, settings_from(config))
    summaries = SummaryEvents(app)
    app[FOLLOW_UPS] = summaries
    OutboxCapture(app[CLOCK], dispatcher.wake, summaries.session_final).install(app[DB])
    app[WEBHOOKS] = dispatcher
    task = asyncio.create_task(dispatcher.run(), name="webhook-delivery")
    relay_task = asyncio.create_task(app[RELAY_EVENTS].run(app[DB]), name="webhook-relay-events")
    try:
        yield
    finally:
        await summaries.close()
        for t in (relay_task, task):  # the relay events first: they drain into the outbox
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if owned is not None:
            await owned.close()


def setup_webhooks(app: web.Application) -> None:
    """Add the admin routes and the cleanup context (call after the database
    context is registered and before the static catch-all route)."""
    routes = (
        ("GET", "/webhooks", api.list_webhooks),
        ("POST", "/webhooks", api.create_webhook),
        ("DELETE", "/webhooks/{webhook_id}", api.delete_webhook),
        ("GET", "/webhooks/{webhook_id}/deliveries", api.list_deliveries),
        ("GET", "/webhooks/{webhook_id}/deliveries/{delivery_id}", api.get_delivery),
        ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", api.redeliver),
        ("GET", "/webhook-schemas", api.list_schemas),
        ("GET", "/webhook-schemas/{name}", api.get_schema),
    )
    for method, path, handler in routes:
        app.router.add_route(method, API_PREFIX + path, guard(handler, ADMIN | INTEGRATION))
    app[RELAY_EVENTS] = RelayEvents()
    app.cleanup_ctx.append(webhooks_ctx)

    async def alert_sink(kind: str, data: dict[str, Any], at_ms: int) -> None:
        # Security alerts (broker/auth/alerts.py) reach the help desk as webhook events.
        await emit_after(
            app[DB], SECURITY_ALERT, {"kind": kind, **data}, subject_id=kind, at_ms=at_ms
        )

    app.setdefault(ALERT_SINKS, []).append(alert_sink)
