"""Running the asyncio session next to Qt.

Choice (documented in the package docstring): the session runs on its **own
asyncio loop in a background thread** (``SessionThread``); the Qt event loop
stays in the main thread. Nothing new is needed (no qasync):

- session → UI: ``QtObserver`` is a ``SessionObserver`` whose methods emit Qt
  signals; signals emitted from the session thread are queued to the window's
  thread by Qt;
- UI → session: the window calls ``AgentSession`` methods, which are thread-safe
  (they hop onto the session loop with ``call_soon_threadsafe``) — except the
  kill switch and pause, whose local stop happens synchronously in the Qt thread
  before anything else (G5).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from agent.consent import Decision, Prompt
from agent.observer import LogLine, SessionObserver, SessionOutcome, SessionStatus, TicketStatus
from agent.plaintext import plain_text


class QtObserver(QObject, SessionObserver):
    """Turns session callbacks (any thread) into Qt signals (delivered in the GUI thread).

    Every string the broker or an engineer chose (names, roles, ticket titles, chat,
    notices, log text) is made inert here (``plain_text``) before any widget sees it;
    the window's labels are plain text besides (rich ones escape), so HTML stays text.
    """

    status_changed = Signal(object)
    prompt_shown = Signal(object)
    prompt_done = Signal(object)
    log_added = Signal(object)
    chat_received = Signal(str, str, object)  # ms do not fit a C int
    code_ready = Signal(str, str, str)
    call_asked = Signal(str, str)
    notice_posted = Signal(str)
    session_ended = Signal(object)
    closure_question = Signal(object)  # a TicketStatus: the engineer resolved it
    closure_result = Signal(object)  # a TicketStatus after the client's answer

    def status(self, status: SessionStatus) -> None:
        viewers = tuple(
            replace(v, name=plain_text(v.name), role=plain_text(v.role)) for v in status.viewers
        )
        self.status_changed.emit(
            replace(
                status,
                ticket_title=None
                if status.ticket_title is None
                else plain_text(status.ticket_title),
                viewers=viewers,
                controlled_by=tuple(plain_text(n) for n in status.controlled_by),
                message=plain_text(status.message),
            )
        )

    def prompt(self, prompt: Prompt) -> None:
        self.prompt_shown.emit(
            replace(
                prompt,
                user_name=plain_text(prompt.user_name),
                role=plain_text(prompt.role),
                ticket_id=plain_text(prompt.ticket_id),
                ticket_title=plain_text(prompt.ticket_title),
            )
        )

    def prompt_closed(self, decision: Decision) -> None:
        self.prompt_done.emit(decision)

    def log_line(self, line: LogLine) -> None:
        self.log_added.emit(replace(line, text=plain_text(line.text)))

    def chat(self, sender: str, text: str, at_ms: int) -> None:
        self.chat_received.emit(plain_text(sender), plain_text(text), at_ms)

    def verification_code(self, viewer_id: str, name: str, code: str) -> None:
        self.code_ready.emit(viewer_id, plain_text(name), plain_text(code))

    def call_requested(self, viewer_id: str, name: str) -> None:
        self.call_asked.emit(viewer_id, plain_text(name))

    def notice(self, text: str) -> None:
        self.notice_posted.emit(plain_text(text))

    def ended(self, outcome: SessionOutcome) -> None:
        self.session_ended.emit(outcome)

    def closure_asked(self, ticket: TicketStatus) -> None:
        self.closure_question.emit(ticket)

    def closure_answered(self, ticket: TicketStatus) -> None:
        self.closure_result.emit(ticket)


class SessionThread(threading.Thread):
    """Runs ``coroutine_factory()`` on a fresh asyncio loop in a daemon thread."""

    def __init__(self, coroutine_factory: Callable[[], object]) -> None:
        super().__init__(name="clearpane-session", daemon=True)
        self._factory = coroutine_factory
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._factory())  # type: ignore[arg-type]
        except BaseException as exc:  # reported by the session's own outcome
            self.error = exc
