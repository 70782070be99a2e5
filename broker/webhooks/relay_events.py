"""Webhook events that happen inside a live session (consent answers, revocations),
read off the session log as the relay writes it.

The relay core writes every consent answer to the session's hash-chained log before
it takes effect (broker/relay/consenting.py). :meth:`RelayEvents.observe` wraps a
session's :class:`~broker.relay.actions.EventLog` so that each record that matters
to the help desk is also queued as a webhook event — no line in the Sans-I/O relay
core, and whatever writes the record (in-process or NATS backend) is covered.

``append`` is synchronous and must stay fast, so the records go through an in-memory
queue that one task (:meth:`run`, started by the webhooks context) turns into outbox
rows in order. A broker killed between the log write and that task loses the webhook
(the log itself still has the record): consent events are at most once, unlike the
store-captured ones (docs/webhooks.md).

=====================================  ==========================================
session log record                     webhook event
=====================================  ==========================================
``consent.granted``                    ``consent.granted``
``consent.denied``                     ``consent.denied`` (``timed_out`` says why)
``consent.revoked`` (by the client)    ``consent.revoked`` with ``by: "client"``
``permission.released`` (the viewer)   ``consent.revoked`` with ``by: "viewer"``
=====================================  ==========================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from broker.relay import SessionInfo
from broker.relay.actions import EventLog
from broker.store.db import Database
from broker.webhooks.capture import emit_after
from broker.webhooks.events import CONSENT_DENIED, CONSENT_GRANTED, CONSENT_REVOKED

__all__ = ["RELAY_EVENTS", "ObservedLog", "RelayEvents", "event_for_record", "observe"]

log = logging.getLogger(__name__)

_Item = tuple[str, str, dict[str, Any], int]


def _perms(detail: Mapping[str, Any]) -> list[str]:
    return sorted(str(p) for p in detail.get("permissions") or ())


def event_for_record(
    info: SessionInfo, event: str, actor: str, detail: Mapping[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    """The webhook event (type, data) for one session log record, or None."""
    base: dict[str, Any] = {
        "session_id": info.session_id,
        "ticket_id": info.ticket_id,
        "viewer_id": str(detail.get("viewer_id", "")),
        "permissions": _perms(detail),
    }
    if event == "consent.granted":
        user_id = detail.get("user_id")
        return CONSENT_GRANTED, {
            **base,
            "request_id": str(detail.get("request_id", "")),
            "user_id": None if user_id is None else str(user_id),
        }
    if event == "consent.denied" and "request_id" in detail:
        return CONSENT_DENIED, {
            **base,
            "request_id": str(detail["request_id"]),
            "timed_out": bool(detail.get("timed_out", False)),
        }
    if event == "consent.revoked":
        return CONSENT_REVOKED, {**base, "by": "client" if actor == "client" else "broker"}
    if event == "permission.released":
        return CONSENT_REVOKED, {**base, "by": "viewer"}
    return None


def observe(app: web.Application, info: SessionInfo, inner: EventLog) -> EventLog:
    """``inner`` wrapped by the app's :class:`RelayEvents` (as is without webhooks)."""
    events = app.get(RELAY_EVENTS)
    return inner if events is None else events.observe(info, inner)


class ObservedLog:
    """An :class:`EventLog` that reports the records it writes (after they are written)."""

    def __init__(self, inner: EventLog, info: SessionInfo, events: RelayEvents) -> None:
        self._inner = inner
        self._info = info
        self._events = events

    def append(
        self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int
    ) -> dict[str, Any]:
        """Write through; then queue the webhook event, if the record has one."""
        record = self._inner.append(event, actor, detail, at_ms)
        found = event_for_record(self._info, event, actor, detail)
        if found is not None:
            self._events.put(found[0], self._info.session_id, found[1], at_ms)
        return record

    def checkpoint(self, at_ms: int) -> dict[str, Any] | None:
        """See :meth:`EventLog.checkpoint`."""
        return self._inner.checkpoint(at_ms)

    def records_after(self, seq: int) -> list[dict[str, Any]]:
        """See :meth:`EventLog.records_after`."""
        return self._inner.records_after(seq)

    def close(self) -> None:
        """See :meth:`EventLog.close`."""
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        # Anything else a backend reads from the real log (path, session_id, …).
        return getattr(self._inner, name)


class RelayEvents:
    """The queue between the relay's log writes and the outbox."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()

    def observe(self, info: SessionInfo, inner: EventLog) -> EventLog:
        """``inner``, reporting its consent records as webhook events."""
        return ObservedLog(inner, info, self)

    def put(self, event_type: str, subject_id: str, data: dict[str, Any], at_ms: int) -> None:
        """Queue one event (never blocks, never raises)."""
        self._queue.put_nowait((event_type, subject_id, data, at_ms))

    async def drain(self, db: Database) -> None:
        """Write every queued event into the outbox, in order."""
        while not self._queue.empty():
            await self._write(db, self._queue.get_nowait())

    async def run(self, db: Database) -> None:
        """Write queued events as they come, until cancelled (then what is left)."""
        try:
            while True:
                await self._write(db, await self._queue.get())
        finally:
            with contextlib.suppress(Exception):
                await self.drain(db)

    async def _write(self, db: Database, item: _Item) -> None:
        event_type, subject_id, data, at_ms = item
        try:
            await emit_after(db, event_type, data, subject_id=subject_id, at_ms=at_ms)
        except Exception:  # the store may be briefly unavailable: log, do not stop
            log.exception("webhook %s for %s could not be queued", event_type, subject_id)


#: The app's queue of relay events (set by broker.webhooks.setup.setup_webhooks).
RELAY_EVENTS = web.AppKey[RelayEvents]("webhooks_relay_events")
