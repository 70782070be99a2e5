"""Writing webhook events into the outbox, in the transaction of the change.

Two ways in:

* **Capture** (:class:`OutboxCapture`, installed on the app's database by the webhooks
  cleanup context): a ``before_flush`` hook on the ORM sessions of the broker's
  :class:`~broker.store.db.Database` looks at the tickets and sessions being inserted
  or changed and queues the matching events *in the same flush, so the same
  transaction*. Every path that changes a ticket or session — the REST API, the relay's
  store updates, the CLI — is covered without a line in those callers, and a change
  that rolls back never announces itself.

  ============================  =====================================================
  change seen in the flush      event
  ============================  =====================================================
  new ``tickets`` row           ``ticket.created``
  ticket field changed          ``ticket.updated`` (``data.changes`` names the fields)
  new ``sessions`` row          ``session.requested`` and ``queue.entered``
  … with origin ``request``     also ``ticket.client_opened`` (the client's own ticket)
  answered_at set               ``queue.answered``
  state consent_pending → live  ``session.started`` (first time only)
  state → ended                 ``session.ended`` (the session summary)
  rating set or changed         ``session.rated``
  ============================  =====================================================

* **Explicit** (:func:`emit`, :func:`emit_after`) for events a caller wants to add:
  ``emit`` writes into the caller's own transaction; ``emit_after`` opens a new one
  right after the change (use it only where no session is at hand: a crash between the
  two transactions loses that event).

After a commit that queued deliveries, ``on_queued`` (the worker's ``wake``) is called
so that delivery starts at once instead of at the next poll.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web
from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from broker.clock import CLOCK, Clock
from broker.store.db import DB, Database
from broker.store.models import SessionModel, TicketModel, UserModel
from broker.store.queries import new_id
from broker.store.webhook_models import add_outbox_rows, has_event
from broker.webhooks.events import (
    EVENT_TYPES,
    QUEUE_ANSWERED,
    QUEUE_ENTERED,
    SESSION_ENDED,
    SESSION_RATED,
    SESSION_REQUESTED,
    SESSION_STARTED,
    TICKET_CLIENT_OPENED,
    TICKET_CREATED,
    TICKET_UPDATED,
    envelope,
    session_data,
    ticket_data,
    ticket_ref,
)

__all__ = ["EventTarget", "OutboxCapture", "emit", "emit_after", "emit_event", "emit_in"]

log = logging.getLogger(__name__)

# Set in a session's ``info`` when it queued deliveries: wake the worker on commit.
_QUEUED = "clearpane.webhooks.queued"
# Sessions that ended (or were rated after the end) in this transaction: their signed
# summary is sent after the commit (broker/webhooks/summary_events.py).
_FINAL = "clearpane.webhooks.final_sessions"
TICKET_FIELDS = (
    "title",
    "description",
    "organisation",
    "tier",
    "external_ref",
    "external_source",
    "status",
    "skills",
    "resolution",
)


def emit_in(
    session: Session, event_type: str, payload: dict[str, Any], *, subject_id: str, at_ms: int
) -> list[str]:
    """Queue an event in a synchronous ORM session (its transaction); return the
    delivery ids (none when no endpoint subscribes to ``event_type``)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    event_id = new_id()
    body = envelope(event_id, event_type, at_ms, payload)
    ids = add_outbox_rows(
        session,
        event_id=event_id,
        event_type=event_type,
        subject_id=subject_id,
        body=body,
        at=at_ms,
    )
    if ids:
        session.info[_QUEUED] = True
        log.debug("queued %s %s for %d endpoint(s)", event_type, event_id, len(ids))
    return ids


async def emit(
    session: AsyncSession,
    event_type: str,
    payload: dict[str, Any],
    *,
    subject_id: str,
    at_ms: int,
) -> list[str]:
    """Queue an event inside the caller's open transaction (``session``): it is
    delivered only if that transaction commits. Returns the delivery ids."""
    return await session.run_sync(
        lambda s: emit_in(s, event_type, payload, subject_id=subject_id, at_ms=at_ms)
    )


async def emit_after(
    db: Database, event_type: str, payload: dict[str, Any], *, subject_id: str, at_ms: int
) -> list[str]:
    """Queue an event in a transaction of its own, right after the change it reports
    (see the module docstring for when this is acceptable)."""
    async with db.sessions.begin() as s:
        return await emit(s, event_type, payload, subject_id=subject_id, at_ms=at_ms)


EventTarget = web.Application | Database | AsyncSession


async def emit_event(
    target: EventTarget,
    event_type: str,
    payload: dict[str, Any],
    *,
    subject_id: str,
    at_ms: int | None = None,
) -> list[str]:
    """The stable entry point for other parts (broker/webhooks/events.py docstring):
    queue ``event_type`` with ``payload`` as its ``data`` for every subscribed
    endpoint; return the delivery ids.

    ``target`` is an open ``AsyncSession`` (the event is part of that transaction), a
    :class:`Database` or the application (a transaction of its own). ``at_ms``
    defaults to the application's clock, else the wall clock. Raises ``ValueError``
    for a type not in :data:`broker.webhooks.events.EVENT_TYPES`."""
    if at_ms is None:
        if isinstance(target, web.Application):
            at_ms = target[CLOCK].now_ms()
        else:
            at_ms = int(time.time() * 1000)
    if isinstance(target, AsyncSession):
        return await emit(target, event_type, payload, subject_id=subject_id, at_ms=at_ms)
    db = target[DB] if isinstance(target, web.Application) else target
    return await emit_after(db, event_type, payload, subject_id=subject_id, at_ms=at_ms)


def _changed(obj: object, names: Iterable[str]) -> list[str]:
    attrs = inspect(obj).attrs
    return [name for name in names if attrs[name].history.has_changes()]


class OutboxCapture:
    """The ``before_flush`` hook that turns ticket and session changes into outbox
    rows (module docstring). ``clock`` dates the events; ``on_queued`` is called after
    a commit that queued at least one delivery."""

    def __init__(
        self,
        clock: Clock,
        on_queued: Callable[[], None],
        on_final: Callable[[str], None] | None = None,
    ) -> None:
        self._clock = clock
        self._on_queued = on_queued
        self._on_final = on_final

    def install(self, db: Database) -> None:
        """Hook into ``db``'s sessions only (a private Session subclass, so other
        databases in the same process, e.g. other test brokers, are untouched)."""
        session_class: type[Session] = type("WebhookCapturingSession", (Session,), {})
        event.listen(session_class, "before_flush", self._before_flush)
        event.listen(session_class, "after_commit", self._after_commit)
        event.listen(session_class, "after_rollback", self._after_rollback)
        db.sessions.configure(sync_session_class=session_class)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_QUEUED, False):
            self._on_queued()
        final: set[str] = session.info.pop(_FINAL, set())
        if self._on_final is not None:
            for sid in sorted(final):
                self._on_final(sid)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_QUEUED, None)
        session.info.pop(_FINAL, None)

    def _session_payload(self, session: Session, s: SessionModel) -> dict[str, Any]:
        with session.no_autoflush:
            ticket = session.get(TicketModel, s.ticket_id)
            engineer = session.get(UserModel, s.engineer_id) if s.engineer_id else None
        data: dict[str, Any] = {"session": session_data(s, engineer)}
        data["ticket"] = ticket_ref(ticket) if ticket is not None else None
        return data

    def _before_flush(self, session: Session, _context: Any, _instances: Any) -> None:
        found: list[tuple[str, str, dict[str, Any]]] = []
        for obj in list(session.new):
            if isinstance(obj, TicketModel):
                found.append((TICKET_CREATED, obj.id, {"ticket": ticket_data(obj)}))
            elif isinstance(obj, SessionModel):
                payload = self._session_payload(session, obj)
                found.append((SESSION_REQUESTED, obj.id, payload))
                found.append((QUEUE_ENTERED, obj.id, payload))
                if obj.origin == "request":
                    found.extend(self._client_opened(session, obj))
        for obj in list(session.dirty):
            if isinstance(obj, TicketModel):
                changes = _changed(obj, TICKET_FIELDS)
                if changes:
                    data = {"ticket": ticket_data(obj), "changes": changes}
                    found.append((TICKET_UPDATED, obj.id, data))
            elif isinstance(obj, SessionModel):
                found.extend(self._session_events(session, obj))
        if not found:
            return
        now = self._clock.now_ms()
        for event_type, subject_id, payload in found:
            emit_in(session, event_type, payload, subject_id=subject_id, at_ms=now)

    def _client_opened(
        self, session: Session, obj: SessionModel
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """The client's own ticket, for the help desk to create its twin."""
        with session.no_autoflush:
            ticket = session.get(TicketModel, obj.ticket_id)
        if ticket is None:  # not flushed yet: it is in this same flush
            ticket = next(
                (t for t in session.new if isinstance(t, TicketModel) and t.id == obj.ticket_id),
                None,
            )
        if ticket is None:
            return []
        data = {"ticket": ticket_data(ticket), "session": session_data(obj, None)}
        return [(TICKET_CLIENT_OPENED, ticket.id, data)]

    def _session_events(
        self, session: Session, obj: SessionModel
    ) -> list[tuple[str, str, dict[str, Any]]]:
        out: list[tuple[str, str, dict[str, Any]]] = []
        answered = inspect(obj).attrs["answered_at_ms"].history
        if (
            answered.has_changes()
            and obj.answered_at_ms is not None
            and not any(v is not None for v in answered.deleted)
        ):
            out.append((QUEUE_ANSWERED, obj.id, self._session_payload(session, obj)))
        state = inspect(obj).attrs["state"].history
        if state.has_changes():
            before = state.deleted[0] if state.deleted else None
            if obj.state == "ended":
                out.append((SESSION_ENDED, obj.id, self._session_payload(session, obj)))
                session.info.setdefault(_FINAL, set()).add(obj.id)
            elif (
                obj.state == "live"
                and before == "consent_pending"
                # A session may go live again after its viewers left: announce once.
                and not has_event(session, SESSION_STARTED, obj.id)
            ):
                out.append((SESSION_STARTED, obj.id, self._session_payload(session, obj)))
        if obj.rating_score is not None and _changed(obj, ("rating_score", "rating_comment")):
            out.append((SESSION_RATED, obj.id, self._session_payload(session, obj)))
            if obj.state == "ended":  # rated after the end: the summary now has it
                session.info.setdefault(_FINAL, set()).add(obj.id)
        return out
