"""The closure question in terminal mode (docs/workflow.md; the window asks it on its
end page): after the session and the rating, the terminal waits for the engineer to
resolve the ticket (asking the broker with the session token, as the window does),
then asks "Is your problem solved?" — ``y`` confirms and closes the request, ``n``
reopens it, Enter leaves it (it then closes by itself after the organisation's time).

Input follows the terminal mode's rules: one line per answer read by its standard-input
thread (so only when standard input is a terminal), a question with a time limit, Enter
to skip. The waiting can be left with Enter at any moment.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from agent.connection import ConnectionLost
from agent.errors import AgentError
from agent.i18n import _
from agent.observer import TicketStatus

__all__ = ["CLOSURE_PROMPT_S", "CLOSURE_WATCH_S", "ClosureSession", "TerminalClosure"]

log = logging.getLogger(__name__)

#: How long the terminal waits for the engineer to resolve the ticket after the end.
CLOSURE_WATCH_S = 600.0
#: How long the question then waits for the client's answer (Enter skips).
CLOSURE_PROMPT_S = 300.0

_YES = ("y", "yes", "д", "да")
_NO = ("n", "no", "н", "нет")


class ClosureSession(Protocol):
    """What the question needs of the session (``AgentSession`` has both)."""

    async def ticket_status(self) -> TicketStatus: ...

    async def closure_over_rest(self, accept: bool, comment: str = "") -> TicketStatus: ...


class TerminalClosure:
    """The terminal's closure question: :meth:`run` on the main thread after the
    session, :meth:`take_line` from the standard-input thread."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._lock = threading.Lock()
        self._waiting = False  # polling the broker: Enter leaves
        self._asking = False  # the question is open: y / n / Enter
        self._answer: bool | None = None
        self._done = threading.Event()  # Enter while waiting, or the answer typed

    def take_line(self, text: str) -> bool:
        """A line typed by the client; True if it belonged to the closure question."""
        low = text.strip().lower()
        with self._lock:
            if self._asking:
                if low in _YES or low in _NO or not low:
                    self._asking = False
                    self._answer = None if not low else low in _YES
                    self._done.set()
                else:
                    self._say("    " + _choices())
                return True
            if self._waiting and not low:
                self._waiting = False
                self._done.set()
                return True
        return False

    def run(
        self,
        session: ClosureSession,
        *,
        watch_s: float = CLOSURE_WATCH_S,
        poll_s: float = 15.0,
        prompt_s: float = CLOSURE_PROMPT_S,
    ) -> TicketStatus | None:
        """Wait for the resolution, ask, send the answer; the ticket after the answer
        (None: not resolved in time, left by the client, or not answered)."""
        if watch_s <= 0:
            return None
        with self._lock:
            self._waiting, self._answer = True, None
            self._done.clear()
        try:
            ticket = asyncio.run(self._resolved(session, watch_s, poll_s))
        finally:
            with self._lock:
                self._waiting = False
        if ticket is None:
            return None
        self._ask(ticket)
        if not self._done.wait(prompt_s):
            with self._lock:
                self._asking = False
            self._say("* " + _("No answer given: the request closes by itself."))
            return None
        if self._answer is None:
            self._say("* " + _("No answer given: the request closes by itself."))
            return None
        try:
            # Closure.answer tells the client the outcome (a notice: closed or reopened).
            return asyncio.run(session.closure_over_rest(self._answer))
        except AgentError as exc:
            self._say("* " + _("Your answer could not be sent: {reason}", reason=exc))
            return None

    async def _resolved(
        self, session: ClosureSession, watch_s: float, poll_s: float
    ) -> TicketStatus | None:
        deadline = time.monotonic() + watch_s
        told = False
        while True:
            try:
                found = await session.ticket_status()
            except ConnectionLost as exc:
                log.info("ticket status not known yet: %s", exc)
            except AgentError as exc:
                log.info("no closure question: %s", exc)
                return None
            else:
                if found.status == "resolved":
                    return found
                if found.status == "closed":
                    return None
                if not told:
                    told = True
                    self._say(
                        "* "
                        + _(
                            "Waiting for the engineer to mark your request resolved "
                            "(press Enter to leave)."
                        )
                    )
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            # Wait for the next poll, or until the client presses Enter.
            if await asyncio.to_thread(self._done.wait, min(poll_s, left)):
                return None

    def _ask(self, ticket: TicketStatus) -> None:
        with self._lock:
            self._done.clear()
            self._asking = True
        self._say("")
        self._say("=== " + _("Is your problem solved?"))
        text = _("The engineer marked your request resolved.")
        if ticket.resolution:
            text += " " + _("Resolution: {resolution}", resolution=ticket.resolution)
        text += " " + _("Without an answer it closes by itself.")
        self._say("    " + text)
        self._say("    " + _choices())


def _choices() -> str:  # a function: looked up once the language is known
    return _("Type y if it is solved (the request is closed), n to reopen it, Enter to skip.")
