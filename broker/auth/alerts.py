"""Security alerts (issue 14): when a defence trips (invitation-code guessing), the
broker logs a warning and hands the alert to every registered sink — the webhooks
package registers one that queues a ``security.alert`` event. The sinks are an app
key filled by the higher layer, so this module depends on nothing above it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

__all__ = ["ALERT_SINKS", "AlertSink", "raise_alert"]

log = logging.getLogger(__name__)

#: ``sink(kind, data, at_ms)``: deliver one alert (e.g. as a webhook event).
AlertSink = Callable[[str, dict[str, Any], int], Awaitable[None]]
ALERT_SINKS = web.AppKey[list[AlertSink]]("security_alert_sinks")


async def raise_alert(app: web.Application, kind: str, data: dict[str, Any], at_ms: int) -> None:
    """Log the alert and pass it to every sink (a failing sink does not stop the others)."""
    log.warning("security alert %s: %s", kind, data)
    for sink in app.get(ALERT_SINKS, []):
        try:
            await sink(kind, data, at_ms)
        except Exception:  # an alert must never turn the refused request into a 500
            log.exception("security alert %s: a sink failed", kind)
