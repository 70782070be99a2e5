"""The django-helpdesk connector: tickets opened in the help desk get a Clearpane
invitation, and what happened in the session comes back as a follow-up that resolves
the ticket.

Two directions, each chosen for robustness:

- **Help desk → Clearpane: polling.** django-helpdesk's own webhooks are fire and
  forget (one attempt, no retry, nothing queued while the connector is down), so the
  connector reads the open tickets every ``poll_interval_s`` instead. A ticket without
  the connector's invitation follow-up gets its Clearpane ticket (upserted by reference:
  ``PUT /tickets/by-ref/django-helpdesk/<id>``, idempotent), an invitation (its POST
  carries an ``Idempotency-Key`` derived from the ticket) and the follow-up with the
  code, so a crash between two steps repeats nothing when the next poll retries.
- **Clearpane → help desk: signed webhooks** (retried by the broker's durable outbox).
  ``session.ended`` (or ``session.summary``, whichever comes first; the signed summary
  is fetched when the broker offers one) becomes a follow-up with the outcome,
  resolution, engineer, duration, time to answer and rating, and — when the engineer
  ended it with a resolution — the ticket's status becomes Resolved. The follow-up's
  first line names the session: a retried delivery finds it and writes nothing twice.
  The answer is 2xx only once the follow-up is stored; otherwise Clearpane retries.
  ``ticket.client_opened`` (a client asked for help in the agent) opens the ticket's twin
  in the help desk (``twin_queue``) and links it back to Clearpane by reference.

State lives in the two systems, not in the connector: it can be restarted, moved or
run again at any time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from integrations.clearpane import ClearpaneClient, ClearpaneError, SignatureError, verify_signature
from integrations.django_helpdesk import texts
from integrations.django_helpdesk.config import ConnectorConfig
from integrations.django_helpdesk.helpdesk import HelpdeskClient, HelpdeskError

__all__ = ["WEBHOOK_EVENTS", "WEBHOOK_PATH", "Connector"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/clearpane/webhook"
WEBHOOK_EVENTS = ["session.ended", "session.summary", "ticket.client_opened"]
MAX_BODY = 1024 * 1024


class Connector:
    """One help desk and one Clearpane, linked."""

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        clearpane: ClearpaneClient | None = None,
        helpdesk: HelpdeskClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clearpane = clearpane or ClearpaneClient(
            config.clearpane_url, config.api_key, ca_file=config.clearpane_ca_file
        )
        self.helpdesk = helpdesk or HelpdeskClient(
            config.helpdesk_url,
            config.helpdesk_user,
            config.helpdesk_password,
            ca_file=config.helpdesk_ca_file,
        )
        self._clock = clock
        # One writer at a time in this process: a poll and a webhook for the same
        # ticket must not both decide that a follow-up is still missing.
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Close both HTTP sessions."""
        await self.clearpane.close()
        await self.helpdesk.close()

    def ticket_id_of(self, ticket: Mapping[str, Any]) -> int | None:
        """The help-desk ticket id of a Clearpane ticket linked to this help desk (its
        ``external_source`` ours, its ``external_ref`` the id), else None."""
        ref = ticket.get("external_ref")
        if ticket.get("external_source") != self.config.external_source:
            return None
        return int(ref) if isinstance(ref, str) and ref.isdigit() else None

    # --- help desk → Clearpane ---------------------------------------------------------

    async def poll_once(self) -> int:
        """Invite every open ticket that has no invitation yet; return how many."""
        invited = 0
        async for ticket in self.helpdesk.open_tickets(self.config.open_statuses):
            if self.config.queues and ticket.get("queue") not in self.config.queues:
                continue
            if texts.has_invitation(ticket):
                continue
            async with self._lock:
                fresh = await self.helpdesk.ticket(int(ticket["id"]))
                if texts.has_invitation(fresh):
                    continue
                await self._invite(fresh)
                invited += 1
        return invited

    async def _invite(self, ticket: Mapping[str, Any]) -> None:
        source, ref = self.config.external_source, str(ticket["id"])
        twin = await self.clearpane.upsert_ticket(
            source,
            ref,
            {
                "title": str(ticket.get("title") or f"{source} {ref}")[:200],
                "description": str(ticket.get("description") or "")[:10_000],
            },
        )
        invitation = await self.clearpane.invite(
            str(twin["id"]),
            ttl_s=self.config.invitation_ttl_s,
            idempotency_key=f"{source}/{ref}/invitation",
        )
        await self.helpdesk.add_followup(
            int(ticket["id"]),
            texts.invitation_text(
                str(invitation["code"]), str(invitation["expires_at"]), self.config.language
            ),
            public=True,
        )
        log.info("invited ticket %s (Clearpane ticket %s)", ticket["id"], twin["id"])

    # --- Clearpane → help desk ---------------------------------------------------------

    async def handle_event(self, event: Mapping[str, Any]) -> str:
        """Act on one verified webhook event; returns what was done (for logs/tests)."""
        kind = event.get("type")
        data = event.get("data")
        if not isinstance(data, Mapping):
            return "ignored"
        if kind == "ticket.client_opened" and isinstance(data.get("ticket"), Mapping):
            return await self._twin(data["ticket"], data.get("session") or {})
        signed = False
        if kind == "session.summary" and isinstance(data.get("summary"), Mapping):
            session: Mapping[str, Any] = data["summary"]
            ticket_ref = session.get("ticket") or {}
            session_id = str(session.get("session_id"))
            signed = True
        elif kind == "session.ended" and isinstance(data.get("session"), Mapping):
            session = data["session"]
            ticket_ref = data.get("ticket") or {}
            session_id = str(session.get("id"))
        else:
            return "ignored"
        ticket_id = self.ticket_id_of(ticket_ref)
        if ticket_id is None:
            return "not ours"
        async with self._lock:
            ticket = await self.helpdesk.ticket(ticket_id)
            if texts.has_summary(ticket, session_id):
                return "already written"
            if not signed:  # prefer the signed summary where the broker offers one
                found = await self.clearpane.summary(session_id)
                if isinstance(found, Mapping):
                    body = found.get("summary", found)
                    if isinstance(body, Mapping):
                        session, signed = {**body, "id": session_id}, True
            resolve = (
                session.get("outcome") in self.config.resolve_outcomes
                and ticket.get("status") in self.config.open_statuses
            )
            await self.helpdesk.add_followup(
                ticket_id,
                texts.summary_text(session, signed=signed, language=self.config.language),
                public=True,
                new_status=self.config.resolved_status if resolve else None,
            )
        log.info("session %s written to ticket %s (resolved: %s)", session_id, ticket_id, resolve)
        return "resolved" if resolve else "written"

    async def _twin(self, ticket: Mapping[str, Any], session: Mapping[str, Any]) -> str:
        """A client opened a request in Clearpane: open its twin in the help desk and
        link it back (``PUT /tickets/by-ref/…`` with ``ticket_id``). The twin's
        description names the Clearpane ticket, so a retried delivery finds the twin
        it made before instead of making a second one."""
        queue = self.config.twin_queue
        if queue is None or ticket.get("external_source"):
            return "ignored" if queue is None else "already linked"
        cp_id = str(ticket["id"])
        async with self._lock:
            twin = None
            async for open_ticket in self.helpdesk.open_tickets(self.config.open_statuses):
                if texts.is_twin_of(open_ticket, cp_id):
                    twin = open_ticket
                    break
            if twin is None:
                client = str(session.get("client_name") or "")
                title = str(ticket.get("title") or client or cp_id)[:200]
                twin = await self.helpdesk.create_ticket(
                    queue,
                    title,
                    texts.twin_description(cp_id, str(ticket.get("description") or "")),
                )
            await self.clearpane.link_ticket(
                self.config.external_source, str(twin["id"]), clearpane_ticket_id=cp_id
            )
        log.info("client request %s: help-desk twin %s", cp_id, twin["id"])
        return "twin"

    async def webhook(self, request: web.Request) -> web.Response:
        """``POST /clearpane/webhook``: 204 once handled; 401 for a bad signature (never
        acted on); 503 while the help desk cannot be written (Clearpane retries)."""
        body = await request.read()
        try:
            verify_signature(
                self.config.webhook_secret,
                request.headers.get("X-Clearpane-Timestamp", ""),
                body,
                request.headers.get("X-Clearpane-Signature", ""),
                now=self._clock(),
            )
        except SignatureError as exc:
            log.warning("webhook refused: %s", exc)
            return web.json_response({"error": str(exc)}, status=401)
        try:
            event = json.loads(body)
        except ValueError:
            return web.json_response({"error": "not JSON"}, status=400)
        if not isinstance(event, dict):
            return web.json_response({"error": "not an event"}, status=400)
        try:
            outcome = await self.handle_event(event)
        except (HelpdeskError, ClearpaneError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("webhook %s not handled yet: %s", event.get("id"), exc)
            return web.json_response({"error": "try again later"}, status=503)
        log.debug("webhook %s: %s", event.get("id"), outcome)
        return web.Response(status=204)

    def webhook_app(self) -> web.Application:
        """The receiver of Clearpane's webhooks."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(WEBHOOK_PATH, self.webhook)
        return app

    async def run(self, stop: asyncio.Event, *, sock: socket.socket | None = None) -> None:
        """Serve the webhook receiver and poll until ``stop`` is set. ``sock``: an
        already bound listening socket to serve on (instead of ``listen_host:port``)."""
        runner = web.AppRunner(self.webhook_app(), access_log=None)
        await runner.setup()
        site: web.BaseSite
        if sock is not None:
            site = web.SockSite(runner, sock)
        else:
            site = web.TCPSite(runner, self.config.listen_host, self.config.listen_port)
        await site.start()
        log.info("receiving Clearpane webhooks on %s", runner.addresses)
        try:
            while not stop.is_set():
                try:
                    await self.poll_once()
                except (HelpdeskError, ClearpaneError, aiohttp.ClientError, TimeoutError) as exc:
                    log.warning("poll failed, retrying: %s", exc)
                with contextlib.suppress(TimeoutError):  # the next poll is due
                    await asyncio.wait_for(stop.wait(), self.config.poll_interval_s)
        finally:
            await runner.cleanup()
