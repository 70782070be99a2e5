"""The session's closure part (docs/workflow.md): after the end, the client is asked to
confirm the engineer's resolution or to reopen the ticket. The broker is asked over
REST with the session token — ``GET /api/v1/agent/ticket`` to learn that the ticket was
resolved, ``POST /api/v1/agent/closure`` with the answer — because the session's socket
is gone by the time an engineer resolves the ticket. Without an answer the broker closes
it by itself after the organisation's time."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from agent.connection import ConnectionLost, get_ticket_status, make_ssl_context, post_closure
from agent.errors import AgentError
from agent.i18n import _
from agent.observer import TicketStatus
from agent.session.core import SessionCore

__all__ = ["Closure", "ticket_status"]

log = logging.getLogger(__name__)


def ticket_status(data: dict[str, Any]) -> TicketStatus:
    """The broker's answer as a :class:`TicketStatus` (``ConnectionLost`` if malformed)."""
    try:
        return TicketStatus(
            str(data["ticket_id"]),
            str(data.get("title") or ""),
            str(data["status"]),
            data.get("resolution") if isinstance(data.get("resolution"), str) else None,
            data.get("auto_close_at") if isinstance(data.get("auto_close_at"), str) else None,
        )
    except KeyError as exc:
        raise ConnectionLost(f"the broker's ticket answer lacks {exc}") from None


class Closure:
    """Asks the broker about the ticket and sends the client's answer."""

    def __init__(self, core: SessionCore) -> None:
        self._core = core
        self._asked = False
        self._last: TicketStatus | None = None  # the resolved ticket the client was asked about
        self._thread: threading.Thread | None = None

    def _auth(self) -> tuple[str, Any]:
        token = self._core.session_token
        if token is None:
            raise AgentError("there is no session whose ticket could be closed")
        return token, make_ssl_context(self._core.ca_pem, **self._core.config.client_identity())

    async def status(self) -> TicketStatus:
        """The ticket's status now (``AgentError`` if the broker cannot say)."""
        token, ssl_ctx = self._auth()
        data = await get_ticket_status(self._core.config.broker_url, ssl_ctx, token)
        return ticket_status(data)

    async def answer(self, accept: bool, comment: str = "") -> TicketStatus:
        """Confirm (``accept``) or reopen; the ticket after the answer."""
        token, ssl_ctx = self._auth()
        data = await post_closure(self._core.config.broker_url, ssl_ctx, token, accept, comment)
        result = ticket_status(data)
        self._core.observer.closure_answered(result)
        if result.status == "closed":
            self._core.observer.notice(_("Thank you. Your request is closed."))
        else:
            self._core.observer.notice(
                _("Your request was reopened: the help desk will get back to you.")
            )
        return result

    async def watch(self, *, poll_s: float, for_s: float) -> TicketStatus | None:
        """Poll until the ticket is resolved (then ask the client once), closed, or
        ``for_s`` has passed; the status that ended the watch (None: time is up)."""
        deadline = time.monotonic() + for_s
        while time.monotonic() < deadline:
            try:
                found = await self.status()
            except ConnectionLost as exc:
                log.info("ticket status not known yet: %s", exc)
            except AgentError as exc:
                log.info("no closure question: %s", exc)
                return None
            else:
                if found.status == "resolved":
                    if not self._asked:
                        self._asked = True
                        self._last = found
                        self._core.observer.closure_asked(found)
                    return found
                if found.status == "closed":
                    return found
            await asyncio.sleep(poll_s)
        return None

    def start_watch(self) -> None:
        """After the end: watch in a background thread (config ``closure_watch_s``;
        0 = the client is not asked)."""
        cfg = self._core.config
        if cfg.closure_watch_s <= 0 or self._core.session_token is None or self._thread:
            return

        def run() -> None:
            asyncio.run(self.watch(poll_s=cfg.closure_poll_s, for_s=cfg.closure_watch_s))

        self._thread = threading.Thread(target=run, name="agent-closure", daemon=True)
        self._thread.start()

    def send_answer(self, accept: bool, comment: str = "") -> None:
        """The client's answer from the UI thread: sent in a background thread; the
        observer hears the result (``closure_answered`` and a notice)."""

        def run() -> None:
            try:
                asyncio.run(self.answer(accept, comment))
            except AgentError as exc:
                log.warning("closure answer not sent: %s", exc)
                self._core.observer.notice(_("Your answer could not be sent: {reason}", reason=exc))

        threading.Thread(target=run, name="agent-closure-answer", daemon=True).start()
