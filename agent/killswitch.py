"""Kill switch and pause, as a pure state machine (G5, G6).

The order of a kill is the guarantee: (1) stop capture locally, (2) tell the
broker, (3) close the connection. Step 1 happens *inside* ``kill()``,
synchronously, in whatever thread calls it (the Qt thread, a signal handler, the
terminal): it sets a ``threading.Event`` that the capture loop checks before every
grab and right before every send. Steps 2 and 3 are the session's job and run
afterwards with short timeouts, so a hung broker or network cannot delay step 1.

A killed session is final: ``resume()`` and ``pause()`` raise, and nothing can
undo the event. Time is passed in (``now_ms``); the module reads no clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agent.errors import SessionKilled

StreamState = Literal["running", "paused", "killed"]


@dataclass(frozen=True, slots=True)
class KillRecord:
    """When and why the kill switch was pressed."""

    at_ms: int
    source: str  # "button", "shortcut", "terminal", "signal", ...


class KillSwitch:
    """The capture flag, pause state and kill record. Thread-safe."""

    def __init__(self) -> None:
        self._killed = threading.Event()
        self._paused = threading.Event()
        self._lock = threading.Lock()
        #: Held by the capture loop while it checks ``capture_allowed()`` and commits a
        #: frame to be sent (microseconds, no I/O). ``kill()`` and ``pause()`` pass
        #: through it after setting their flag, so when they return no frame can be
        #: committed any more — "zero frames after kill" is exact, not statistical.
        self.gate = threading.Lock()
        self._record: KillRecord | None = None
        self._listeners: list[Callable[[KillRecord], None]] = []

    # -- kill --------------------------------------------------------------------

    def kill(self, now_ms: int, source: str = "button") -> KillRecord | None:
        """Stop capture *now* (sets the flag before anything else), then notify the
        listeners (which schedule the broker notification and the close). Returns the
        record, or None if the session was already killed."""
        self._killed.set()  # step 1: the capture loop stops at its next check
        with self.gate:
            pass  # fence: a frame being committed finishes; none starts after this
        with self._lock:
            if self._record is not None:
                return None
            record = self._record = KillRecord(now_ms, source)
            listeners = list(self._listeners)
        for listener in listeners:
            # A listener must not block (it schedules work on the session loop); one
            # that fails must not stop the others.
            try:
                listener(record)
            except Exception:
                continue
        return record

    def on_kill(self, listener: Callable[[KillRecord], None]) -> None:
        """Call ``listener(record)`` after a kill (immediately if already killed)."""
        with self._lock:
            record = self._record
            if record is None:
                self._listeners.append(listener)
                return
        listener(record)

    @property
    def killed(self) -> bool:
        """True once the kill switch was pressed; never becomes False again."""
        return self._killed.is_set()

    @property
    def record(self) -> KillRecord | None:
        """The kill record, if killed."""
        return self._record

    def wait_killed(self, timeout: float | None = None) -> bool:
        """Block (a capture thread) until killed or timeout; True if killed."""
        return self._killed.wait(timeout)

    # -- pause (G6) --------------------------------------------------------------

    def pause(self) -> bool:
        """Pause the stream. Returns True if this changed the state."""
        if self.killed:
            raise SessionKilled("the session was killed")
        with self._lock:
            if self._paused.is_set():
                return False
            self._paused.set()
        with self.gate:
            pass  # fence, as in kill()
        return True

    def resume(self) -> bool:
        """Resume a paused stream. Returns True if this changed the state."""
        if self.killed:
            raise SessionKilled("a killed session cannot be resumed")
        with self._lock:
            if not self._paused.is_set():
                return False
            self._paused.clear()
            return True

    @property
    def paused(self) -> bool:
        """True while the client has paused the stream."""
        return self._paused.is_set()

    @property
    def state(self) -> StreamState:
        """``running``, ``paused`` or ``killed``."""
        if self.killed:
            return "killed"
        return "paused" if self.paused else "running"

    def capture_allowed(self) -> bool:
        """The check the capture loop makes before every grab and every send."""
        return not self._killed.is_set() and not self._paused.is_set()
