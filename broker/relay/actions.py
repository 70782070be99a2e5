"""What the relay core asks the I/O layer to do, and what it needs from outside.

The core (:mod:`broker.relay.session`) never touches a socket, a database or a
clock. Every call returns a list of :data:`Action` values that the I/O layer
(:mod:`broker.ws` through a :class:`broker.relay.backend.RelayBackend`) executes
in order. ``to`` names an endpoint of the session: ``"agent"`` or a viewer id
(``"v3"``).

The session log is the one thing the core calls directly (:class:`EventLog`),
because an event must be written *before* the action it records takes effect
(fail closed, STYLE "audit/"): if ``append`` raises, the core has not changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "AGENT",
    "Action",
    "Close",
    "EventLog",
    "HandoverAnswered",
    "LogFailure",
    "MarkAnswered",
    "MarkEnded",
    "PersistState",
    "Record",
    "SaveRating",
    "SendBinary",
    "SendText",
    "SessionClosed",
]

AGENT = "agent"
"""The ``to`` of actions addressed to the session's agent."""


class LogFailure(OSError):
    """The session log could not be written: the action it records must not happen."""


class EventLog(Protocol):
    """The per-session hash-chained log as the core sees it (see broker.session_log)."""

    def append(
        self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int
    ) -> dict[str, Any]:
        """Write one record durably and return it as JSON (SPEC §9); raise on failure."""
        ...

    def checkpoint(self, at_ms: int) -> dict[str, Any] | None:
        """Sign the current head; ``None`` when nothing was added since the last one."""
        ...

    def records_after(self, seq: int) -> list[dict[str, Any]]:
        """Every record with a seq above ``seq``, oldest first (the log resumes)."""
        ...

    def close(self) -> None:
        """Release the file (the session is over)."""
        ...


@dataclass(frozen=True, slots=True)
class SendText:
    """Send a control message (already serialised JSON) to one endpoint."""

    session_id: str
    to: str
    text: str


@dataclass(frozen=True, slots=True)
class SendBinary:
    """Send a binary frame to one endpoint. ``data`` is shared, never copied."""

    session_id: str
    to: str
    data: bytes
    update: bool = False
    """Whether this is a screen update (the I/O layer may report it for metrics)."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close one endpoint's WebSocket with a SPEC §7 code and reason."""

    session_id: str
    to: str
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class PersistState:
    """Store the session's new state (``queries.set_session_state``)."""

    session_id: str
    state: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class MarkAnswered:
    """The first engineer joined (``queries.mark_answered``)."""

    session_id: str
    engineer_id: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class MarkEnded:
    """The session ended (``queries.mark_ended``)."""

    session_id: str
    reason: str
    at_ms: int
    resolution: str | None


@dataclass(frozen=True, slots=True)
class SaveRating:
    """The client rated the help (``queries.set_rating``)."""

    session_id: str
    score: int
    comment: str


@dataclass(frozen=True, slots=True)
class HandoverAnswered:
    """The client answered a transfer or invitation (issue 19): ``outcome``
    ``accepted`` (view granted; for a transfer the session is now ``to_user_id``'s) or
    ``refused`` (denied or timed out). Stored by ``queries.routing.answer_handover``."""

    session_id: str
    handover_id: str
    kind: str
    outcome: str
    from_user_id: str
    to_user_id: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class Record:
    """Keep a relayed frame in the session's recording (never input: G7).

    ``direction`` is who sent it (``"agent"`` / ``"viewer"``); ``data`` is a screen
    update as relayed (bytes) or an accepted control message (JSON text).
    """

    session_id: str
    direction: str
    data: bytes | str
    at_ms: int


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """The core forgot the session (ended and the agent gone): release its resources."""

    session_id: str


Action = (
    SendText
    | SendBinary
    | Close
    | PersistState
    | MarkAnswered
    | MarkEnded
    | SaveRating
    | HandoverAnswered
    | Record
    | SessionClosed
)
"""Any output of the relay core."""
