"""State and low-level helpers shared by the parts of the session core
(see :mod:`broker.relay.session`).

:class:`SessionContext` holds one session's state and the primitives every part
uses: append to the log *then* act (``append``, ``transition``, ``record``), queue
actions (``send``, ``emit``, ``take``), and build the broker's own messages
(``session.state``, ``consent.request``).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from broker.relay.actions import AGENT, Action, Close, EventLog, PersistState, SendText
from broker.relay.consent import ConsentBook, ConsentRequest
from broker.relay.flow import ViewerFlow
from protocol import messages as m
from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import CONSENT_TIMEOUT_S
from protocol.state import SessionEvent, SessionMachine, SessionState

__all__ = [
    "BROKER",
    "CLIENT",
    "HandoverInfo",
    "RelayTimings",
    "SessionContext",
    "SessionInfo",
    "ViewerSlot",
    "ViewerUser",
]

log = logging.getLogger("broker.relay.session")

S = SessionState
E = SessionEvent
BROKER = "broker"
"""Actor of events the broker itself decides (timeouts, shutdown)."""
CLIENT = "client"
"""Actor of events the client's agent caused."""

# Codes whose SPEC §7 close applies inside a session; others are answered with
# an ``error`` and the connection stays (an observer pressing a wrong button
# should not lose its view).
_FATAL_IN_SESSION = frozenset(
    {
        ErrorCode.MALFORMED_JSON,
        ErrorCode.MALFORMED_BINARY,
        ErrorCode.TOO_LARGE,
        ErrorCode.RATE_LIMITED,
        ErrorCode.UNAUTHORIZED,
        ErrorCode.SESSION_ENDED,
        ErrorCode.SHUTTING_DOWN,
    }
)


@dataclass(frozen=True, slots=True)
class RelayTimings:
    """Timers of the core, in milliseconds (tests shorten them)."""

    consent_timeout_ms: int = CONSENT_TIMEOUT_S * 1000
    checkpoint_interval_ms: int = 30_000
    input_flush_ms: int = 1_000
    """Forwarded/dropped input is logged as counts at most this late (G7: within 1 s)."""
    agent_grace_ms: int = 30_000
    """How long a session survives its agent's connection dropping."""
    ended_linger_ms: int = 60_000
    """How long an ended session keeps the agent connected (to send ``rating``)."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What the core needs to know about the session from the store."""

    session_id: str
    ticket_id: str
    ticket_title: str
    client_name: str = "client"
    audit_recipient_pem: str | None = None
    """The audit-recipient certificate sent to the agent after ``welcome`` (SPEC §3.4)."""


@dataclass(frozen=True, slots=True)
class HandoverInfo:
    """Why a second engineer joins a live session (issue 19): ``kind`` ``transfer``
    (``by`` hands the session over) or ``invite`` (``by`` asks a colleague in).
    ``id`` is the store's hand-over record."""

    id: str
    kind: str  # "transfer" | "invite"
    by_user_id: str
    by_name: str


@dataclass(frozen=True, slots=True)
class ViewerUser:
    """The verified staff user behind a viewer connection."""

    user_id: str
    name: str
    role: str  # "engineer" | "observer"
    handover: HandoverInfo | None = None  # joined on a transfer or an invitation


@dataclass(slots=True)
class ViewerSlot:
    """One connected viewer as the core tracks it."""

    viewer_id: str
    number: int
    user: ViewerUser
    flow: ViewerFlow = field(default_factory=ViewerFlow)
    input_forwarded: int = 0
    input_dropped: int = 0
    drop_reasons: set[str] = field(default_factory=set)


class SessionContext:
    """One session's shared state and the primitives every part uses.

    :class:`broker.relay.session.SessionRelay` owns one and hands it to its parts
    (:class:`~broker.relay.consenting.ConsentFlow`, :class:`~broker.relay.fanout.Fanout`,
    :class:`~broker.relay.input.InputRelay`, :class:`~broker.relay.lifecycle.Lifecycle`);
    none of them inherits from it or from another."""

    def __init__(
        self, info: SessionInfo, event_log: EventLog, timings: RelayTimings | None = None
    ) -> None:
        self.info = info
        self.timings = timings or RelayTimings()
        self.machine = SessionMachine()
        self.consent = ConsentBook(self.timings.consent_timeout_ms / 1000)
        self.log = event_log
        self.viewers: dict[str, ViewerSlot] = {}
        self.numbers: dict[int, str] = {}
        self.next_number = 1
        self.agent_connected = False
        self.engineer_id: str | None = None
        self.last_update_seq = 0
        self.agent_acked = 0
        self.audit_keys: deque[m.KeyAudit] = deque(maxlen=16)
        self.agent_gone_ms: int | None = None
        self.ended_ms: int | None = None
        self.last_checkpoint_ms = 0
        self.last_flush_ms = 0
        self.closed = False
        self.started = False
        self.backlog: deque[str] = deque(maxlen=1024)
        self.out: list[Action] = []
        # G10 fail closed: set while the recording cannot be written (no update relayed).
        self.recording_paused = False
        self.recording_since_ms: int | None = None
        self.recording_unlogged = False  # the pause could not be logged yet either

    # -- properties ----------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self.info.session_id

    @property
    def state(self) -> SessionState:
        """The current SPEC §5 state."""
        return self.machine.state

    @property
    def viewer_ids(self) -> list[str]:
        """Ids of the connected viewers, in join order."""
        return list(self.viewers)

    def flow(self, viewer_id: str) -> ViewerFlow:
        """The flow-control state of one viewer (for tests and metrics)."""
        return self.viewers[viewer_id].flow

    def next_deadline(self) -> int | None:
        """The earliest time (ms) :meth:`tick` has something to do, or ``None``."""
        return self.consent.next_deadline()

    # -- helpers -------------------------------------------------------------

    def record(
        self,
        event: str,
        actor: str,
        detail: dict[str, Any],
        now_ms: int,
        trigger: SessionEvent | None,
    ) -> None:
        """Append ``event``; if ``trigger`` is set, as the record of that transition."""
        if trigger is None:
            self.append(event, actor, detail, now_ms)
        else:
            self.transition(trigger, now_ms, actor, detail, event=event)

    def anyone_views(self) -> bool:
        """Whether any viewer holds ``view``."""
        return any(self.consent.holds(vid, "view") for vid in self.viewers)

    def need(self, viewer_id: str, permission: str) -> None:
        """Raise ``not_granted`` unless ``viewer_id`` holds ``permission``."""
        if not self.consent.holds(viewer_id, permission):
            raise ProtocolError.of(ErrorCode.NOT_GRANTED, f"needs {permission}")

    def drop_viewer(self, viewer: ViewerSlot) -> None:
        """Forget ``viewer`` (flow, consent, number)."""
        viewer.flow.clear()
        self.consent.forget(viewer.viewer_id)
        self.viewers.pop(viewer.viewer_id, None)
        self.numbers.pop(viewer.number, None)

    def viewer(self, viewer_id: str) -> ViewerSlot:
        """The connected viewer ``viewer_id`` (``invalid_field`` if none)."""
        viewer = self.viewers.get(viewer_id)
        if viewer is None:
            raise ProtocolError.of(ErrorCode.INVALID_FIELD, f"no viewer {viewer_id}")
        return viewer

    def transition(
        self,
        trigger: SessionEvent,
        now_ms: int,
        actor: str,
        detail: dict[str, Any],
        *,
        reason: str | None = None,
        event: str | None = None,
        consent_timeout_ms: int | None = None,
    ) -> None:
        """Validate, log (before), apply, persist: the SPEC §5 two-step."""
        kwargs: dict[str, Any] = {"reason": reason}
        if consent_timeout_ms is not None:
            kwargs["consent_timeout_ms"] = consent_timeout_ms
        t = self.machine.transition(trigger, now_ms, **kwargs)
        self.append(event or t.event, actor, {**detail, "state": t.after.value}, now_ms)
        self.machine.apply(t)
        if t.after is not S.ENDED:  # the end is stored by MarkEnded (with its reason)
            self.emit(PersistState(self.session_id, t.after.value, now_ms))

    def append(self, event: str, actor: str, detail: dict[str, Any], now_ms: int) -> None:
        """Write the event durably, then stream it (raises: nothing happens)."""
        record = self.log.append(event, actor, detail, now_ms)
        text = m.serialize_control(m.LogEvent(record=record))
        if self.agent_connected:
            self.emit(SendText(self.session_id, AGENT, text))
        else:  # the agent gets what it missed right after its next welcome
            self.backlog.append(text)
        # The log quotes the client's chat: only viewers the client consented to
        # read it (G2: a second engineer or observer needs its own consent). A
        # record about a viewer itself (its own consent answer) also goes to it:
        # it is written before the grant takes effect, and carries no client data.
        about = detail.get("viewer_id")
        for vid in self.viewers:
            if self.consent.holds_any(vid) or vid == about:
                self.emit(SendText(self.session_id, vid, text))

    def checkpoint(self, now_ms: int) -> None:
        """Sign a checkpoint of the log and send it to the agent."""
        self.last_checkpoint_ms = now_ms
        cp = self.log.checkpoint(now_ms)
        if cp is not None and self.agent_connected:
            self.send(AGENT, m.CheckpointMessage(checkpoint=cp))

    def consent_message(self, request: ConsentRequest) -> m.ConsentRequest:
        """The ``consent.request`` the agent is shown for ``request``."""
        viewer = self.viewers[request.viewer_id]
        h = viewer.user.handover
        return m.ConsentRequest(
            request_id=request.request_id,
            viewer_id=request.viewer_id,
            user=m.User(id=viewer.user.user_id, name=viewer.user.name, role=viewer.user.role),
            ticket=self.ticket(),
            permissions=tuple(sorted(request.permissions)),
            expires_ms=request.expires_ms,
            # The prompt names who hands over or invites, so the client knows why.
            handover=m.Handover(
                kind=h.kind, by=m.User(id=h.by_user_id, name=h.by_name, role="engineer")
            )
            if h is not None
            else None,
        )

    def state_message(self) -> m.SessionStateMessage:
        """``session.state`` as it stands."""
        viewers = tuple(
            m.ViewerInfo(
                viewer_id=v.viewer_id,
                name=v.user.name,
                role=v.user.role,
                permissions=tuple(sorted(self.consent.permissions(v.viewer_id))),
            )
            for v in self.viewers.values()
        )
        return m.SessionStateMessage(
            state=self.state.value,
            viewers=viewers,
            reason=self.machine.end_reason if self.machine.ended else None,
        )

    def broadcast_state(self) -> None:
        """Send ``session.state`` to the agent and every viewer."""
        text = m.serialize_control(self.state_message())
        if self.agent_connected:
            self.emit(SendText(self.session_id, AGENT, text))
        for vid in self.viewers:
            self.emit(SendText(self.session_id, vid, text))

    def to_viewers(self, msg: m.ControlMessage) -> None:
        """Send ``msg`` to every viewer."""
        text = m.serialize_control(msg)
        for vid in self.viewers:
            self.emit(SendText(self.session_id, vid, text))

    def ticket(self) -> m.Ticket:
        """The ticket as the protocol shows it."""
        return m.Ticket(id=self.info.ticket_id, title=self.info.ticket_title)

    @staticmethod
    def actor(user: ViewerUser) -> str:
        """The log actor of a staff user (``role:user id``)."""
        return f"{user.role}:{user.user_id}"

    def send(self, to: str, msg: m.ControlMessage) -> None:
        """Queue ``msg`` for ``to`` (nothing for an absent agent)."""
        if to == AGENT and not self.agent_connected:
            return
        self.emit(SendText(self.session_id, to, m.serialize_control(msg)))

    def error(self, to: str, exc: ProtocolError) -> None:
        """Queue an ``error`` for ``to``; close it if the code is fatal in a session."""
        self.send(to, m.ErrorMessage(code=exc.code, message=exc.message[:1000]))
        if exc.code in _FATAL_IN_SESSION and exc.close_code is not None:
            self.emit(Close(self.session_id, to, exc.close_code, exc.message[:120]))

    def emit(self, action: Action) -> None:
        """Queue one action."""
        self.out.append(action)

    def take(self) -> list[Action]:
        """Return and clear the queued actions."""
        out, self.out = self.out, []
        return out
