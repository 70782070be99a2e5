"""State and low-level helpers shared by the session core (see :mod:`broker.relay.session`).

:class:`SessionBase` holds one session's state and the primitives every
handler uses: append to the log *then* act (``_append``, ``_transition``,
``_record``), queue actions (``_send``, ``_emit``), and build the broker's own
messages (``session.state``, ``consent.request``).
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
    "RelayTimings",
    "SessionBase",
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
class ViewerUser:
    """The verified staff user behind a viewer connection."""

    user_id: str
    name: str
    role: str  # "engineer" | "observer"


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


class SessionBase:
    """One session's state; :class:`broker.relay.session.SessionRelay` adds the handlers."""

    def __init__(
        self, info: SessionInfo, event_log: EventLog, timings: RelayTimings | None = None
    ) -> None:
        self.info = info
        self.timings = timings or RelayTimings()
        self.machine = SessionMachine()
        self.consent = ConsentBook(self.timings.consent_timeout_ms / 1000)
        self._log = event_log
        self._viewers: dict[str, ViewerSlot] = {}
        self._numbers: dict[int, str] = {}
        self._next_number = 1
        self.agent_connected = False
        self.engineer_id: str | None = None
        self.last_update_seq = 0
        self.agent_acked = 0
        self.audit_keys: deque[m.KeyAudit] = deque(maxlen=16)
        self._agent_gone_ms: int | None = None
        self._ended_ms: int | None = None
        self._last_checkpoint_ms = 0
        self._last_flush_ms = 0
        self._closed = False
        self._started = False
        self._backlog: deque[str] = deque(maxlen=1024)
        self._out: list[Action] = []

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
        return list(self._viewers)

    @property
    def closed(self) -> bool:
        """Whether the core is done with the session (ended, agent gone)."""
        return self._closed

    def flow(self, viewer_id: str) -> ViewerFlow:
        """The flow-control state of one viewer (for tests and metrics)."""
        return self._viewers[viewer_id].flow

    def next_deadline(self) -> int | None:
        """The earliest time (ms) :meth:`tick` has something to do, or ``None``."""
        return self.consent.next_deadline()

    # -- helpers -------------------------------------------------------------

    def _record(
        self,
        event: str,
        actor: str,
        detail: dict[str, Any],
        now_ms: int,
        trigger: SessionEvent | None,
    ) -> None:
        """Append ``event``; if ``trigger`` is set, as the record of that transition."""
        if trigger is None:
            self._append(event, actor, detail, now_ms)
        else:
            self._transition(trigger, now_ms, actor, detail, event=event)

    def _anyone_views(self) -> bool:
        return any(self.consent.holds(vid, "view") for vid in self._viewers)

    def _need(self, viewer_id: str, permission: str) -> None:
        if not self.consent.holds(viewer_id, permission):
            raise ProtocolError.of(ErrorCode.NOT_GRANTED, f"needs {permission}")

    def _flush_input(self, viewer: ViewerSlot, now_ms: int) -> None:
        """Log forwarded/dropped input as counts (the broker cannot see keys anyway)."""
        if viewer.input_forwarded:
            self._append(
                "input.forwarded",
                self._actor(viewer.user),
                {"viewer_id": viewer.viewer_id, "batches": viewer.input_forwarded},
                now_ms,
            )
            viewer.input_forwarded = 0
        if viewer.input_dropped:
            self._append(
                "input.dropped",
                self._actor(viewer.user),
                {
                    "viewer_id": viewer.viewer_id,
                    "batches": viewer.input_dropped,
                    "reasons": sorted(viewer.drop_reasons),
                },
                now_ms,
            )
            viewer.input_dropped = 0
            viewer.drop_reasons.clear()

    def _drop_viewer(self, viewer: ViewerSlot) -> None:
        viewer.flow.clear()
        self.consent.forget(viewer.viewer_id)
        self._viewers.pop(viewer.viewer_id, None)
        self._numbers.pop(viewer.number, None)

    def _viewer(self, viewer_id: str) -> ViewerSlot:
        viewer = self._viewers.get(viewer_id)
        if viewer is None:
            raise ProtocolError.of(ErrorCode.INVALID_FIELD, f"no viewer {viewer_id}")
        return viewer

    def _transition(
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
        self._append(event or t.event, actor, {**detail, "state": t.after.value}, now_ms)
        self.machine.apply(t)
        if t.after is not S.ENDED:  # the end is stored by MarkEnded (with its reason)
            self._emit(PersistState(self.session_id, t.after.value, now_ms))

    def _append(self, event: str, actor: str, detail: dict[str, Any], now_ms: int) -> None:
        """Write the event durably, then stream it (raises: nothing happens)."""
        record = self._log.append(event, actor, detail, now_ms)
        text = m.serialize_control(m.LogEvent(record=record))
        if self.agent_connected:
            self._emit(SendText(self.session_id, AGENT, text))
        else:  # the agent gets what it missed right after its next welcome
            self._backlog.append(text)
        # The log quotes the client's chat: only viewers the client consented to
        # read it (G2: a second engineer or observer needs its own consent). A
        # record about a viewer itself (its own consent answer) also goes to it:
        # it is written before the grant takes effect, and carries no client data.
        about = detail.get("viewer_id")
        for vid in self._viewers:
            if self.consent.holds_any(vid) or vid == about:
                self._emit(SendText(self.session_id, vid, text))

    def _checkpoint(self, now_ms: int) -> None:
        self._last_checkpoint_ms = now_ms
        cp = self._log.checkpoint(now_ms)
        if cp is not None and self.agent_connected:
            self._send(AGENT, m.CheckpointMessage(checkpoint=cp))

    def _consent_message(self, request: ConsentRequest) -> m.ConsentRequest:
        viewer = self._viewers[request.viewer_id]
        return m.ConsentRequest(
            request_id=request.request_id,
            viewer_id=request.viewer_id,
            user=m.User(id=viewer.user.user_id, name=viewer.user.name, role=viewer.user.role),
            ticket=self._ticket(),
            permissions=tuple(sorted(request.permissions)),
            expires_ms=request.expires_ms,
        )

    def _state_message(self) -> m.SessionStateMessage:
        viewers = tuple(
            m.ViewerInfo(
                viewer_id=v.viewer_id,
                name=v.user.name,
                role=v.user.role,
                permissions=tuple(sorted(self.consent.permissions(v.viewer_id))),
            )
            for v in self._viewers.values()
        )
        return m.SessionStateMessage(
            state=self.state.value,
            viewers=viewers,
            reason=self.machine.end_reason if self.machine.ended else None,
        )

    def _broadcast_state(self) -> None:
        text = m.serialize_control(self._state_message())
        if self.agent_connected:
            self._emit(SendText(self.session_id, AGENT, text))
        for vid in self._viewers:
            self._emit(SendText(self.session_id, vid, text))

    def _to_viewers(self, msg: m.ControlMessage) -> None:
        text = m.serialize_control(msg)
        for vid in self._viewers:
            self._emit(SendText(self.session_id, vid, text))

    def _ticket(self) -> m.Ticket:
        return m.Ticket(id=self.info.ticket_id, title=self.info.ticket_title)

    @staticmethod
    def _actor(user: ViewerUser) -> str:
        return f"{user.role}:{user.user_id}"

    def _send(self, to: str, msg: m.ControlMessage) -> None:
        if to == AGENT and not self.agent_connected:
            return
        self._emit(SendText(self.session_id, to, m.serialize_control(msg)))

    def _error(self, to: str, exc: ProtocolError) -> None:
        self._send(to, m.ErrorMessage(code=exc.code, message=exc.message[:1000]))
        if exc.code in _FATAL_IN_SESSION and exc.close_code is not None:
            self._emit(Close(self.session_id, to, exc.close_code, exc.message[:120]))

    def _emit(self, action: Action) -> None:
        self._out.append(action)

    def _take(self) -> list[Action]:
        out, self._out = self._out, []
        return out
