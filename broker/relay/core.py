"""The registry of live sessions: pure, time passed in.

:class:`RelayCore` maps session ids to :class:`broker.relay.session.SessionRelay`
objects, runs their timers and turns a failing session log into a fail-closed
abort (the session ends for everyone; nothing more is relayed).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import partial

from broker.relay.actions import Action, EventLog, SessionClosed
from broker.relay.session import RelayTimings, SessionInfo, SessionRelay
from protocol.errors import ErrorCode, ProtocolError

__all__ = ["RelayCore"]

log = logging.getLogger(__name__)

LogFactory = Callable[[SessionInfo], EventLog]

MAX_ENDED_REMEMBERED = 65_536
"""Ids of forgotten (ended) sessions the core still refuses to reopen (~5 MB at most)."""


class RelayCore:
    """All sessions this relay knows (one process, one event loop)."""

    def __init__(self, log_factory: LogFactory, timings: RelayTimings | None = None) -> None:
        self._log_factory = log_factory
        self.timings = timings or RelayTimings()
        self._sessions: dict[str, SessionRelay] = {}
        # G5: an ended session is final. The store says so too, but its update is
        # asynchronous (and may fail), so a quick reconnect must not find a fresh core.
        self._ended: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[SessionRelay]:
        return iter(list(self._sessions.values()))

    def get(self, session_id: str) -> SessionRelay | None:
        """The live session ``session_id``, if this relay holds it."""
        return self._sessions.get(session_id)

    def open(self, info: SessionInfo) -> SessionRelay:
        """The session for ``info``, created (with its log) on first use.

        Raises ``ProtocolError(session_ended)`` for a session this core has ended
        and forgotten: a killed session cannot be resumed (G5).
        """
        session = self._sessions.get(info.session_id)
        if session is None:
            if info.session_id in self._ended:
                raise ProtocolError.of(ErrorCode.SESSION_ENDED, "the session has ended")
            session = SessionRelay(info, self._log_factory(info), self.timings)
            self._sessions[info.session_id] = session
        return session

    def run(
        self, session: SessionRelay, step: Callable[[], list[Action]], now_ms: int
    ) -> list[Action]:
        """Run one core call; if the log cannot be written, abort the session.

        Fail closed: the step raised before its effect, so the only safe thing
        left is to stop the session without recording more.
        """
        try:
            actions = step()
        except OSError as exc:  # LogFailure is an OSError too
            log.error("session %s: log write failed, aborting: %s", session.session_id, exc)
            actions = session.abort(now_ms, "session log unavailable")
        self._forget_closed(actions)
        return actions

    def tick(self, now_ms: int) -> list[Action]:
        """Run every session's timers."""
        out: list[Action] = []
        for session in list(self._sessions.values()):
            out.extend(self.run(session, partial(session.tick, now_ms), now_ms))
        return out

    def shutdown(self, now_ms: int) -> list[Action]:
        """End every session with ``broker_shutdown`` and seal its log."""
        out: list[Action] = []
        for session in list(self._sessions.values()):
            out.extend(
                self.run(
                    session,
                    partial(session.end, "broker_shutdown", "broker", None, now_ms),
                    now_ms,
                )
            )
            if not session.closed:
                out.extend(self.run(session, partial(session.detach_agent, now_ms), now_ms))
        return out

    def _forget_closed(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SessionClosed):
                session = self._sessions.pop(action.session_id, None)
                if session is not None:
                    session.close_log()
                self._ended[action.session_id] = None
                while len(self._ended) > MAX_ENDED_REMEMBERED:
                    self._ended.popitem(last=False)
