"""The session's rating part: the client's rating of the help, over the socket while
it is open (during the session, or lingering after the end), else over REST with
the session token (``POST /api/v1/agent/rating``, after a kill)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from agent.connection import ConnectionLost, make_ssl_context, post_rating
from agent.errors import AgentError, FinalError
from agent.i18n import _
from agent.session.core import SessionCore
from protocol.messages import Rating as RatingMessage

log = logging.getLogger(__name__)

#: How long a REST rating keeps retrying while the broker has not yet stored the end
#: (a kill that never reached it ends the session after the agent grace, 30 s).
REST_RATING_RETRY_S = 45.0


class Rating:
    """Sends the client's one rating, over the socket or over REST."""

    def __init__(self, core: SessionCore) -> None:
        self._core = core

    def rate(self, score: int, comment: str = "") -> None:
        """The client's rating of the help (1–5). While the session's socket is open
        (during the session, or lingering after the end) it goes over the socket; once
        the socket is gone (after a kill) over REST with the session token, in a
        background thread (:meth:`wait` waits for it). Only the first counts."""
        if not 1 <= score <= 5:
            raise ValueError("score must be 1..5")
        if self._core.outcome is not None and self._core.linger_ws is None:
            self._start_rest(score, comment[:1000])
            return
        self._core.call_soon(self.send, score, comment[:1000])

    def wait(self, timeout: float) -> bool:
        """Wait for a REST rating in flight; True when none is (left) in flight."""
        thread = self._core.rest_rating
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    async def over_rest(self, score: int, comment: str = "") -> None:
        """Send the rating now over REST (``POST /api/v1/agent/rating``, pinned CA TLS,
        the session token), retrying while the broker has not stored the end yet.
        Raises ``AgentError`` (``FinalError`` if refused: already rated, too late)."""
        token, sid = self._core.session_token, self._core.session_id
        if token is None or sid is None:
            raise AgentError("there is no session to rate")
        ssl_ctx = make_ssl_context(self._core.ca_pem, **self._core.config.client_identity())
        deadline = time.monotonic() + REST_RATING_RETRY_S
        while True:
            try:
                await post_rating(self._core.config.broker_url, ssl_ctx, token, score, comment)
                break
            except FinalError as exc:
                if exc.reason != "not_ended" or time.monotonic() > deadline:
                    raise
            except ConnectionLost:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(1.0)
        self._core.rating_sent = True

    def _start_rest(self, score: int, comment: str) -> None:
        if self._core.rating_sent or self._core.rest_rating is not None:
            return
        if self._core.outcome is None or not self._core.outcome.rest_rating:
            self._core.observer.notice(_("This session can no longer be rated."))
            return

        def send() -> None:
            try:
                asyncio.run(self.over_rest(score, comment))
            except AgentError as exc:
                log.warning("rating not sent: %s", exc)
                self._core.observer.notice(_("Your rating could not be sent: {reason}", reason=exc))
            else:
                self._core.observer.notice(_("Your rating was sent. Thank you."))

        thread = threading.Thread(target=send, name="agent-rating", daemon=True)
        self._core.rest_rating = thread
        thread.start()

    def send(self, score: int, comment: str) -> None:
        """Send the rating over the socket (on the loop; once)."""
        if self._core.rating_sent:
            return
        self._core.rating_sent = True
        self._core.send(RatingMessage(score=score, comment=comment))
        if self._core.rating_evt is not None:
            self._core.rating_evt.set()
