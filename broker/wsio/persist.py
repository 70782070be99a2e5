"""Writing the relay's store actions (``PersistAction``) to the database."""

from __future__ import annotations

import asyncio
import logging

from broker.relay.actions import MarkAnswered, MarkEnded, PersistState, SaveRating
from broker.relay.backend import PersistAction
from broker.store import queries
from broker.store.db import Database
from protocol.pacing import backoff_s

log = logging.getLogger(__name__)

END_ATTEMPTS = 3


async def persist(db: Database, action: PersistAction) -> None:
    """Apply ``action``; an end is retried a few times (the ticket shows it, and a
    restart must not reopen the session), other updates are superseded anyway."""
    attempts = END_ATTEMPTS if isinstance(action, MarkEnded) else 1
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
