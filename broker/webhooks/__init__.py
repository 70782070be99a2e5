"""Outbound webhooks (DESIGN §7, docs/webhooks.md): signed HTTP POSTs to the external
help desk for session and ticket events, retried from a durable outbox.

Owns: the admin API for endpoints (:mod:`.api`), the capture that writes events into
the outbox in the transaction of the change (:mod:`.capture`), the event bodies
(:mod:`.events`), the delivery worker (:mod:`.delivery`), request signing and the
receivers' :func:`verify_signature` (:mod:`.signing`), and the app wiring
(:mod:`.setup`). The tables and their queries live in broker/store/webhook_models.py.

This package's own import is light on purpose: the SLA workflow and others emit events
through it, and the API's routes import them. The app wiring (:mod:`.setup`, with the
admin API) therefore is not imported here — only :mod:`broker.app` imports it — or
importing any emitter first would run the routes before the emitter is ready.
"""

from broker.webhooks.capture import OutboxCapture, emit, emit_after, emit_event, emit_in
from broker.webhooks.delivery import (
    WEBHOOKS,
    AiohttpTransport,
    DeliverySettings,
    Transport,
    WebhookDispatcher,
)
from broker.webhooks.errors import DeliveryFailed, SignatureError, WebhookError
from broker.webhooks.events import EVENT_TYPES, EVENT_VERSIONS
from broker.webhooks.signing import new_secret, sign, signature_header, verify_signature

__all__ = [
    "EVENT_TYPES",
    "EVENT_VERSIONS",
    "WEBHOOKS",
    "AiohttpTransport",
    "DeliveryFailed",
    "DeliverySettings",
    "OutboxCapture",
    "SignatureError",
    "Transport",
    "WebhookDispatcher",
    "WebhookError",
    "emit",
    "emit_after",
    "emit_event",
    "emit_in",
    "new_secret",
    "sign",
    "signature_header",
    "verify_signature",
]
