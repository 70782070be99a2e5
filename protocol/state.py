"""Session state machine (SPEC §5) and the message/state/role table.

:class:`SessionMachine` is pure: it never reads a clock (``now_ms`` is an
argument) and never does I/O. A transition is two steps so that the audit
event is written *before* the transition takes effect (fail closed)::

    t = machine.transition(SessionEvent.PAUSE, now_ms)  # validates, no change
    audit.append(t.event, ...)                            # "session.paused"
    machine.apply(t)                                      # now it takes effect

Illegal transitions raise ``ProtocolError(code="wrong_state")``. ``ended`` is
final. :func:`allowed` says which control messages a sender role may send in
which state; the broker checks it for every message it receives.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import CONSENT_TIMEOUT_S


class SessionState(StrEnum):
    """SPEC §5 states."""

    REQUESTED = "requested"
    WAITING = "waiting"
    CONSENT_PENDING = "consent_pending"
    LIVE = "live"
    PAUSED = "paused"
    ENDED = "ended"


class SessionEvent(StrEnum):
    """SPEC §5 events that move the machine."""

    AGENT_CONNECTED = "agent_connected"
    CONSENT_REQUESTED = "consent_requested"  # a viewer joined, consent asked
    VIEW_GRANTED = "view_granted"
    CONSENT_DENIED = "consent_denied"
    CONSENT_TIMED_OUT = "consent_timed_out"  # only once now_ms >= consent deadline
    PAUSE = "pause"
    RESUME = "resume"
    LAST_VIEWER_LEFT = "last_viewer_left"
    END = "end"  # kill / end / timeout / failure / shutdown: needs an end reason


class EndReason(StrEnum):
    """SPEC §5 end reasons (``session.ended.reason``)."""

    KILLED_BY_CLIENT = "killed_by_client"
    ENDED_BY_ENGINEER = "ended_by_engineer"
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    BROKER_SHUTDOWN = "broker_shutdown"


STATES: Final = frozenset(s.value for s in SessionState)
END_REASONS: Final = frozenset(r.value for r in EndReason)
PERMISSIONS: Final = frozenset({"view", "control", "video"})
"""SPEC §3.3 permission names."""
SENDER_ROLES: Final = frozenset({"agent", "engineer", "observer", "broker"})

S = SessionState
E = SessionEvent
_NOT_ENDED: Final = frozenset(SessionState) - {S.ENDED}

# SPEC §5 table: (from, event) -> (to, audit event written before it takes effect).
# Event names are those of audit.events. The first grant of `view` is
# "session.started"; later ones (after the last viewer left) are "consent.granted".
TRANSITIONS: Final[dict[tuple[SessionState, SessionEvent], tuple[SessionState, str]]] = {
    (S.REQUESTED, E.AGENT_CONNECTED): (S.WAITING, "session.requested"),
    (S.WAITING, E.CONSENT_REQUESTED): (S.CONSENT_PENDING, "consent.requested"),
    (S.CONSENT_PENDING, E.VIEW_GRANTED): (S.LIVE, "consent.granted"),
    (S.CONSENT_PENDING, E.CONSENT_DENIED): (S.WAITING, "consent.denied"),
    (S.CONSENT_PENDING, E.CONSENT_TIMED_OUT): (S.WAITING, "consent.denied"),
    (S.LIVE, E.PAUSE): (S.PAUSED, "session.paused"),
    (S.PAUSED, E.RESUME): (S.LIVE, "session.resumed"),
    (S.LIVE, E.LAST_VIEWER_LEFT): (S.WAITING, "viewer.left"),
    (S.PAUSED, E.LAST_VIEWER_LEFT): (S.WAITING, "viewer.left"),
    **{(s, E.END): (S.ENDED, "session.ended") for s in _NOT_ENDED},
}
FIRST_LIVE_EVENT: Final = "session.started"


@dataclass(frozen=True, slots=True)
class Transition:
    """A validated, not yet applied transition; ``event`` is the audit event name."""

    before: SessionState
    after: SessionState
    trigger: SessionEvent
    event: str
    at_ms: int
    reason: str | None = None
    consent_deadline_ms: int | None = None


@dataclass(slots=True)
class SessionMachine:
    """The state of one session (SPEC §5). Pure: time is passed in."""

    state: SessionState = SessionState.REQUESTED
    end_reason: str | None = None
    consent_deadline_ms: int | None = None
    changed_at_ms: int = 0
    history: list[Transition] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        """Whether the session has ended (final)."""
        return self.state is SessionState.ENDED

    def transition(
        self,
        trigger: SessionEvent,
        now_ms: int,
        *,
        reason: str | None = None,
        consent_timeout_ms: int = CONSENT_TIMEOUT_S * 1000,
    ) -> Transition:
        """Validate ``trigger`` in the current state and return the transition.

        Does not change the machine: write ``Transition.event`` to the audit log,
        then call :meth:`apply`. ``END`` needs an end ``reason``;
        ``CONSENT_TIMED_OUT`` is legal only once ``now_ms`` reaches the deadline.
        """
        found = TRANSITIONS.get((self.state, trigger))
        if found is None:
            raise ProtocolError.of(
                ErrorCode.WRONG_STATE, f"{trigger.value} not allowed in state {self.state.value}"
            )
        after, event = found
        if (
            after is SessionState.LIVE
            and trigger is SessionEvent.VIEW_GRANTED
            and not any(t.after is SessionState.LIVE for t in self.history)
        ):
            event = FIRST_LIVE_EVENT
        if trigger is SessionEvent.END:
            if reason not in END_REASONS:
                raise ProtocolError.of(ErrorCode.INVALID_FIELD, f"bad end reason {reason!r}")
        elif reason is not None:
            raise ProtocolError.of(ErrorCode.INVALID_FIELD, "reason is only for END")
        if trigger is SessionEvent.CONSENT_TIMED_OUT and (
            self.consent_deadline_ms is None or now_ms < self.consent_deadline_ms
        ):
            raise ProtocolError.of(ErrorCode.WRONG_STATE, "consent prompt has not timed out")
        deadline = now_ms + consent_timeout_ms if after is SessionState.CONSENT_PENDING else None
        return Transition(self.state, after, trigger, event, now_ms, reason, deadline)

    def apply(self, t: Transition) -> None:
        """Make ``t`` take effect (after its audit event was written)."""
        if t.before is not self.state:
            raise ProtocolError.of(ErrorCode.WRONG_STATE, f"stale transition from {t.before.value}")
        self.state = t.after
        self.consent_deadline_ms = t.consent_deadline_ms
        self.changed_at_ms = t.at_ms
        if t.after is SessionState.ENDED:
            self.end_reason = t.reason
        self.history.append(t)

    def consent_expired(self, now_ms: int) -> bool:
        """Whether a pending consent prompt has timed out (answer it ``consent.deny``)."""
        return (
            self.state is SessionState.CONSENT_PENDING
            and self.consent_deadline_ms is not None
            and now_ms >= self.consent_deadline_ms
        )


# Which control message each sender role may send, and in which states (SPEC §3, §5).
_VIEWERS: Final = frozenset({"engineer", "observer"})
_AGENT: Final = frozenset({"agent"})
_ENGINEER: Final = frozenset({"engineer"})
_BROKER: Final = frozenset({"broker"})
_AGENT_ENGINEER: Final = frozenset({"agent", "engineer"})
_ALL_STATES: Final = frozenset(SessionState)
_JOINED: Final = frozenset({S.CONSENT_PENDING, S.LIVE, S.PAUSED})
_ACTIVE: Final = frozenset({S.LIVE, S.PAUSED})
_CONNECTED: Final = frozenset({S.WAITING, S.CONSENT_PENDING, S.LIVE, S.PAUSED})

ALLOWED: Final[dict[str, tuple[frozenset[str], frozenset[SessionState]]]] = {
    "hello": (frozenset({"agent", "engineer", "observer"}), _NOT_ENDED),
    "error": (SENDER_ROLES, _ALL_STATES),
    "welcome": (_BROKER, _ALL_STATES),
    "session.state": (_BROKER, _ALL_STATES),
    "viewer.joined": (_BROKER, _NOT_ENDED),
    "viewer.left": (_BROKER, _ALL_STATES),
    "queue.position": (_BROKER, _NOT_ENDED),
    "permission.request": (_VIEWERS, _CONNECTED),
    "permission.release": (_VIEWERS, _JOINED),
    "consent.request": (_BROKER, _JOINED),
    "consent.grant": (_AGENT, _JOINED),
    "consent.deny": (_AGENT, _CONNECTED),  # a late answer after the timeout is harmless
    "consent.revoke": (_AGENT, _JOINED),
    "key.commit": (_VIEWERS, _JOINED),
    "key.agent": (_AGENT, _JOINED),
    "key.reveal": (_VIEWERS, _JOINED),
    "key.wrap": (_AGENT, _JOINED),
    "key.audit": (_AGENT, _JOINED),
    "audit.recipient": (_BROKER, _NOT_ENDED),
    "pause": (_AGENT, frozenset({S.LIVE})),
    "resume": (_AGENT, frozenset({S.PAUSED})),
    "mask.update": (_AGENT, _CONNECTED),
    "refresh": (_VIEWERS, _ACTIVE),
    "desktop.info": (_AGENT, _CONNECTED),
    "monitor.select": (_ENGINEER, _ACTIVE),
    "chat": (frozenset({"agent", "engineer", "observer"}), _ACTIVE),
    "log.event": (_BROKER, _ALL_STATES),
    "log.local": (_AGENT, _CONNECTED),
    "checkpoint": (_BROKER, _ALL_STATES),
    "recording.state": (_BROKER, _NOT_ENDED),
    "rating": (_AGENT, frozenset({S.LIVE, S.PAUSED, S.ENDED})),
    "call.request": (_ENGINEER, _ACTIVE),
    "call.start": (_AGENT, _ACTIVE),
    "rtc.offer": (_AGENT_ENGINEER, _ACTIVE),
    "rtc.answer": (_AGENT_ENGINEER, _ACTIVE),
    "rtc.candidate": (_AGENT_ENGINEER, _ACTIVE),
    "rtc.mute": (_AGENT_ENGINEER, _ACTIVE),
    "rtc.hangup": (_AGENT_ENGINEER, _ACTIVE),
    "kill": (_AGENT, _NOT_ENDED),
    "end": (_ENGINEER, _CONNECTED),
    "session.ended": (_BROKER, _ALL_STATES),
}
"""``type`` → (sender roles, states in which it may be sent)."""


def allowed(msg_type: str, sender_role: str, state: SessionState | str) -> bool:
    """Whether ``sender_role`` (agent/engineer/observer/broker) may send ``msg_type`` now."""
    entry = ALLOWED.get(msg_type)
    if entry is None:
        return False
    roles, states = entry
    return sender_role in roles and state in states


def check_allowed(msg_type: str, sender_role: str, state: SessionState | str) -> None:
    """Raise ``forbidden`` (wrong role) or ``wrong_state`` unless :func:`allowed`."""
    entry = ALLOWED.get(msg_type)
    if entry is None:
        raise ProtocolError.of(ErrorCode.UNKNOWN_TYPE, f"unknown type {msg_type[:64]!r}")
    roles, states = entry
    if sender_role not in roles:
        raise ProtocolError.of(ErrorCode.FORBIDDEN, f"{sender_role} may not send {msg_type}")
    if state not in states:
        raise ProtocolError.of(ErrorCode.WRONG_STATE, f"{msg_type} not allowed in {state}")
