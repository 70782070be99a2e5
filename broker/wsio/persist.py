"""Writing the relay's store actions (``PersistAction``) to the database."""

from __future__ import annotations

import asyncio
import logging

from broker.relay.actions import (
    HandoverAnswered,
    MarkAnswered,
    MarkEnded,
    PersistState,
    SaveRating,
)
from broker.relay.backend import PersistAction
from broker.store import queries
from broker.store.db import Database
from broker.store.queries import handovers
from broker.webhooks.capture import emit_event
from broker.webhooks.events import SESSION_TRANSFERRED
from protocol.pacing import backoff_s

log = logging.getLogger(__name__)

END_ATTEMPTS = 3


async def persist(db: Database, action: PersistAction) -> None:
    """Apply ``action``; an end is retried a few times (the ticket shows it, and a
    restart must not reopen the session), other updates are superseded anyway."""
    attempts = END_ATTEMPTS if isinstance(action, MarkEnded | HandoverAnswered) else 1
    for attempt in range(attempts):
        if await _persist_once(db, action, last=attempt == attempts - 1):
            return
        await asyncio.sleep(backoff_s(attempt + 1, 0.2, 1.0))


async def _persist_once(db: Database, action: PersistAction, *, last: bool) -> bool:
    try:
        if isinstance(action, PersistState):
            await queries.set_session_state(db, action.session_id, action.state, at=action.at_ms)
        elif isinstance(action, MarkAnswered):
            await queries.mark_answered(db, action.session_id, action.engineer_id, action.at_ms)
        elif isinstance(action, MarkEnded):
            await queries.mark_ended(
                db, action.session_id, action.reason, action.at_ms, action.resolution
            )
        elif isinstance(action, SaveRating):
            # A session is rated once, over the socket or over REST after a kill.
            await queries.set_rating(db, action.session_id, action.score, action.comment, once=True)
        elif isinstance(action, HandoverAnswered):
            # issue 19: the transfer's result (and the new engineer) in the store; the
            # webhook follows in a transaction of its own (at most once, like consent's).
            h = await handovers.answer_handover(
                db, action.handover_id, action.outcome, at=action.at_ms
            )
            if h.kind == "transfer" and h.state == "accepted":
                await emit_event(
                    db,
                    SESSION_TRANSFERRED,
                    {
                        "session_id": h.session_id,
                        "ticket_id": h.ticket_id,
                        "from": {"id": h.from_user_id, "name": h.from_name},
                        "to": {"id": h.to_user_id, "name": h.to_name},
                        "by": {"id": h.from_user_id, "name": h.from_name},
                        "reason": h.group,
                    },
                    subject_id=h.session_id,
                    at_ms=action.at_ms,
                )
    except Exception as exc:  # Conflict after the end, NotFound: nothing to undo
        if last:
            log.warning(
                "session %s: store update %s failed: %s",
                action.session_id,
                type(action).__name__,
                exc,
            )
        return False
    return True
