"""The delivery worker: claims due outbox rows, POSTs them signed, records the outcome.

* One background task (started and stopped by the webhooks cleanup context); handlers
  and the relay only insert outbox rows, so a slow or dead receiver never blocks them.
* Each attempt: ``POST url`` with the stored JSON body and the headers
  ``X-Clearpane-Event``, ``X-Clearpane-Delivery`` (the outbox row id: the same on
  every retry, for the receiver's de-duplication), ``X-Clearpane-Timestamp`` and
  ``X-Clearpane-Signature`` (broker/webhooks/signing.py). A 2xx answer is success;
  anything else (other status, redirect, timeout, connection error) is a failure.
* A failed attempt is retried after ``base * 2**(attempts-1)`` seconds (capped at
  ``max``), scaled by a random factor in [0.5, 1) so that many deliveries to a
  recovering receiver spread out; after ``max_attempts`` the row is marked dead.
* The outbox is durable: a restarted broker carries on where the last one stopped.
  A claim pushes the row's next attempt one lease ahead, so a worker that dies mid-send
  leaves it to be retried later: delivery is at least once.

Time comes from the injected :class:`~broker.clock.Clock`, randomness from an injected
:class:`random.Random`, HTTP from an injected :class:`Transport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp
from aiohttp import web

from broker.clock import Clock
from broker.store.db import Database
from broker.store.webhook_models import (
    DueDelivery,
    claim_due,
    prune_finished,
    record_failure,
    record_success,
)
from broker.webhooks.errors import DeliveryFailed
from broker.webhooks.signing import signature_header
from protocol.pacing import backoff_s

__all__ = [
    "WEBHOOKS",
    "AiohttpTransport",
    "DeliverySettings",
    "Transport",
    "WebhookDispatcher",
    "client_ssl_context",
]

log = logging.getLogger(__name__)

USER_AGENT = "Clearpane-Webhooks/1"
MAX_RESPONSE_BYTES = 64 * 1024


class Transport(Protocol):
    """Sends one webhook request."""

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float
    ) -> int:
        """POST ``body``; return the HTTP status. Raise :class:`DeliveryFailed` (or
        ``OSError`` / ``asyncio.TimeoutError``) when no answer came."""
        ...


def client_ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """TLS for outgoing webhooks: the system's trust store, or only ``ca_file``."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class AiohttpTransport:
    """The real :class:`Transport`: one ``aiohttp.ClientSession`` (redirects are not
    followed: a webhook URL that redirects is misconfigured). Close with
    :meth:`close`.

    ``ssl_context`` may be a function that builds it: it is then called at the first
    delivery, not at start — loading the system's trust store costs ~20 ms (bench), paid
    by every broker start although most brokers send no webhook for a while (or ever).
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | Callable[[], ssl.SSLContext],
        *,
        connections: int = 16,
    ) -> None:
        self._ssl = ssl_context
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The client session, made (with its TLS context) at the first call."""
        if self._session is None:
            context = self._ssl if isinstance(self._ssl, ssl.SSLContext) else self._ssl()
            connector = aiohttp.TCPConnector(ssl=context, limit=self._connections)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float
    ) -> int:
        """See :meth:`Transport.post`."""
        try:
            async with self._client().post(
                url,
                data=body,
                headers=dict(headers),
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                allow_redirects=False,
            ) as response:
                await response.content.read(MAX_RESPONSE_BYTES)  # let the receiver finish
                return response.status
        except aiohttp.ClientError as exc:
            # The URL may carry a token in its query: keep it out of errors and logs.
            detail = str(exc).replace(url, "<url>")
            raise DeliveryFailed(f"{type(exc).__name__}: {detail}") from exc

    async def close(self) -> None:
        """Close the client session and its connections (if it was ever made)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """The worker's knobs (from ``BrokerConfig.webhook_*``)."""

    max_attempts: int = 12
    timeout_s: float = 10.0
    backoff_base_s: float = 10.0
    backoff_max_s: float = 3600.0
    poll_interval_s: float = 5.0
    batch: int = 50
    concurrency: int = 8
    # Delivered and dead rows are deleted this long after the event (pending never).
    retention_s: float = 30 * 24 * 3600.0
    prune_every_s: float = 3600.0

    @property
    def lease_ms(self) -> int:
        """How long a claimed row stays invisible to other workers: long enough for a
        whole batch to be sent ``concurrency`` at a time, plus a margin."""
        rounds = -(-self.batch // self.concurrency)
        return int((self.timeout_s * rounds + 30.0) * 1000)


class WebhookDispatcher:
    """Delivers the outbox. :meth:`run` is the background loop; :meth:`deliver_due`
    does one pass (tests call it directly); :meth:`wake` cuts the poll wait short."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        transport: Transport,
        settings: DeliverySettings,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._transport = transport
        self.settings = settings
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._pruned_at_ms: int | None = None

    def wake(self) -> None:
        """Look at the outbox now (called after a commit queued deliveries)."""
        self._wake.set()

    def backoff_s(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (with jitter)."""
        s = self.settings
        return backoff_s(
            max(1, attempts), s.backoff_base_s, s.backoff_max_s, jitter=0.5, rng=self._rng
        )

    async def run(self) -> None:
        """Deliver forever: a pass, then wait for :meth:`wake` or the poll interval."""
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
                now = self._clock.now_ms()
                if (
                    self._pruned_at_ms is None
                    or now - self._pruned_at_ms >= self.settings.prune_every_s * 1000
                ):
                    self._pruned_at_ms = now
                    await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be briefly unavailable: try again later
                log.exception("webhook delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_interval_s)

    async def prune(self) -> int:
        """Delete finished deliveries older than the retention; return how many."""
        before = self._clock.now_ms() - int(self.settings.retention_s * 1000)
        removed = await prune_finished(self._db, before=before)
        if removed:
            log.info("pruned %d finished webhook deliveries", removed)
        return removed

    async def deliver_due(self) -> int:
        """Send every delivery that is due now; return how many succeeded."""
        delivered = 0
        while True:
            due = await claim_due(
                self._db,
                now=self._clock.now_ms(),
                lease_ms=self.settings.lease_ms,
                limit=self.settings.batch,
            )
            if not due:
                return delivered
            results = await asyncio.gather(*(self._attempt(d) for d in due))
            delivered += sum(results)
            if len(due) < self.settings.batch:
                return delivered

    async def _attempt(self, d: DueDelivery) -> bool:
        async with self._limit:
            timestamp = str(self._clock.now_ms() // 1000)
            body = d.body.encode("utf-8")
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Clearpane-Event": d.event_type,
                "X-Clearpane-Delivery": d.id,
                "X-Clearpane-Timestamp": timestamp,
                "X-Clearpane-Signature": signature_header(d.secret, timestamp, body),
            }
            status: int | None = None
            sent_at = self._clock.now_ms()
            started = time.monotonic()  # the latency is measured, not taken from the clock

            def latency_ms() -> int:
                return int((time.monotonic() - started) * 1000)

            try:
                status = await self._transport.post(d.url, body, headers, self.settings.timeout_s)
                if 200 <= status < 300:
                    await record_success(
                        self._db,
                        d.id,
                        at=self._clock.now_ms(),
                        status=status,
                        sent_at=sent_at,
                        latency_ms=latency_ms(),
                    )
                    log.info("webhook %s %s delivered (HTTP %d)", d.event_type, d.id, status)
                    return True
                error = f"HTTP {status}"
            except DeliveryFailed as exc:
                error = exc.detail
            except Exception as exc:  # OSError, TimeoutError, or a surprise: still a failure
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            attempts = d.attempts + 1
            now = self._clock.now_ms()
            if attempts >= self.settings.max_attempts:
                next_at = None
                log.warning(
                    "webhook %s %s dead after %d attempts: %s", d.event_type, d.id, attempts, error
                )
            else:
                next_at = now + int(self.backoff_s(attempts) * 1000)
                log.info(
                    "webhook %s %s attempt %d failed (%s); retry in %.0f s",
                    d.event_type,
                    d.id,
                    attempts,
                    error,
                    (next_at - now) / 1000,
                )
            await record_failure(
                self._db,
                d.id,
                at=now,
                status=status,
                error=error,
                next_attempt_at=next_at,
                sent_at=sent_at,
                latency_ms=latency_ms(),
            )
            return False


#: The app's running delivery worker (its wake(), deliver_due(), settings).
WEBHOOKS = web.AppKey[WebhookDispatcher]("webhooks")
