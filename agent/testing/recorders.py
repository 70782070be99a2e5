"""Recording fakes: an injector that records calls, a capture source that counts
grabs (so a test can prove capture stopped), an observer that keeps what the session
tells it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from agent.consent import Decision, Prompt
from agent.inject import Injector
from agent.observer import LogLine, SessionObserver, SessionOutcome, SessionStatus, TicketStatus

__all__ = ["CountingSource", "RecordingInjector", "RecordingObserver"]


class RecordingInjector(Injector):
    """Records ``(action, args...)`` tuples instead of touching the machine."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.closed = False

    def move(self, x: int, y: int) -> None:
        self.calls.append(("move", x, y))

    def button(self, x: int, y: int, button: int, pressed: bool) -> None:
        self.calls.append(("button", x, y, button, pressed))

    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        self.calls.append(("wheel", x, y, dx, dy))

    def key(self, keysym: int, pressed: bool) -> None:
        self.calls.append(("key", keysym, pressed))

    def close(self) -> None:
        self.closed = True


class CountingSource:
    """A capture source wrapper that counts grabs and records their times."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.grab_times: list[float] = []
        self.closed_at: float | None = None
        self._lock = threading.Lock()

    @property
    def size(self) -> tuple[int, int]:
        """The wrapped source's size."""
        w, h = self.inner.size
        return int(w), int(h)

    @property
    def origin(self) -> tuple[int, int]:
        """The wrapped source's origin."""
        x, y = getattr(self.inner, "origin", (0, 0))
        return int(x), int(y)

    def grab(self) -> Any:
        """Grab from the wrapped source, noting the time."""
        with self._lock:
            self.grab_times.append(time.monotonic())
        return self.inner.grab()

    def close(self) -> None:
        """Close the wrapped source, noting the time."""
        if self.closed_at is None:
            self.closed_at = time.monotonic()
        self.inner.close()

    @property
    def grabs(self) -> int:
        """How many frames were grabbed."""
        with self._lock:
            return len(self.grab_times)


@dataclass
class RecordingObserver(SessionObserver):
    """Keeps everything the session reports; can answer prompts automatically."""

    prompts: list[Prompt] = field(default_factory=list)
    closed: list[Decision] = field(default_factory=list)
    statuses: list[SessionStatus] = field(default_factory=list)
    lines: list[LogLine] = field(default_factory=list)
    chats: list[tuple[str, str]] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    outcome: SessionOutcome | None = None
    prompt_event: threading.Event = field(default_factory=threading.Event)
    closure_questions: list[TicketStatus] = field(default_factory=list)
    closure_answers: list[TicketStatus] = field(default_factory=list)

    def status(self, status: SessionStatus) -> None:
        self.statuses.append(status)

    def prompt(self, prompt: Prompt) -> None:
        self.prompts.append(prompt)
        self.prompt_event.set()

    def prompt_closed(self, decision: Decision) -> None:
        self.closed.append(decision)

    def log_line(self, line: LogLine) -> None:
        self.lines.append(line)

    def chat(self, sender: str, text: str, at_ms: int) -> None:
        self.chats.append((sender, text))

    def verification_code(self, viewer_id: str, name: str, code: str) -> None:
        self.codes[viewer_id] = code

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def call_requested(self, viewer_id: str, name: str) -> None:
        self.calls.append((viewer_id, name))

    def closure_asked(self, ticket: TicketStatus) -> None:
        self.closure_questions.append(ticket)

    def closure_answered(self, ticket: TicketStatus) -> None:
        self.closure_answers.append(ticket)

    def ended(self, outcome: SessionOutcome) -> None:
        self.outcome = outcome
