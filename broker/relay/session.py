"""The relay core for one session: pure state, time passed in (SPEC §3–§6).

:class:`SessionRelay` is fed what the endpoints said (already parsed by
``protocol``) and returns :data:`broker.relay.actions.Action` lists. It owns:

* the state machine (:class:`protocol.state.SessionMachine`) and the per-role
  message table (:func:`protocol.state.check_allowed`);
* the viewers (``v<n>``; ``n`` is the u32 sender number of input frames);
* consent bookkeeping (:class:`broker.relay.consent.ConsentBook`), changed only
  by the agent's answers to prompts the broker issued (G2, G4);
* fan-out of opaque screen updates with per-viewer credit (SPEC §6);
* input forwarding, only from the viewer whose number matches the header and
  who holds ``control`` (G4, defence in depth);
* pause/resume, kill, end, and the session log: every event is appended
  *before* it takes effect, and streamed to everyone as ``log.event``.

Connections and control messages are here; the session owns its parts, each
over the shared :class:`broker.relay.base.SessionContext` and testable alone:
binary frames (fan-out, flow control) in :mod:`broker.relay.fanout`, input in
:mod:`broker.relay.input`, timers and the end in :mod:`broker.relay.lifecycle`,
consent in :mod:`broker.relay.consenting`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from typing import Any

from broker.relay.actions import (
    AGENT,
    Action,
    EventLog,
    MarkAnswered,
    SendText,
)
from broker.relay.base import (
    CLIENT,
    RelayTimings,
    SessionContext,
    SessionInfo,
    ViewerSlot,
    ViewerUser,
)
from broker.relay.consent import ConsentBook
from broker.relay.consenting import ConsentFlow
from broker.relay.fanout import Fanout
from broker.relay.flow import ViewerFlow
from broker.relay.handover import HandoverFlow
from broker.relay.input import InputRelay
from broker.relay.lifecycle import Lifecycle
from broker.relay.messages import ControlMessages
from protocol import messages as m
from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import MAX_U32
from protocol.state import SessionEvent, SessionMachine, SessionState

__all__ = ["RelayTimings", "SessionInfo", "SessionRelay", "ViewerUser"]

log = logging.getLogger(__name__)

S = SessionState
E = SessionEvent


class SessionRelay:
    """One live session. Not thread-safe; one caller at a time (the event loop).

    Composed of parts it owns, each over the shared :class:`SessionContext`: consent
    (:class:`ConsentFlow`), the stream (:class:`Fanout`), input (:class:`InputRelay`)
    and the timers and end (:class:`Lifecycle`). Connections and control messages
    are handled here."""

    def __init__(
        self, info: SessionInfo, event_log: EventLog, timings: RelayTimings | None = None
    ) -> None:
        self._ctx = ctx = SessionContext(info, event_log, timings)
        self._input = InputRelay(ctx)
        self._consenting = ConsentFlow(ctx, self._input)
        self._handover = HandoverFlow(ctx, self._input)
        self._consenting.after_answer = self._handover.answered
        self._fanout = Fanout(ctx, self._input)
        self._life = Lifecycle(ctx, self._consenting, self._input)
        self._messages = ControlMessages(ctx, self._consenting, self._life)
        # The parts' entry points, as the session's own.
        self.agent_binary = self._fanout.agent_binary
        self.viewer_binary = self._fanout.viewer_binary
        self.request_keyframe = self._fanout.request_keyframe
        self.recording_changed = self._fanout.recording_changed  # G10 fail closed
        self.tick = self._life.tick
        self.end = self._life.end
        self.abort = self._life.abort
        self.close_log = self._life.close_log
        self.agent_control = self._messages.agent_control
        self.viewer_control = self._messages.viewer_control

    def notice(self, event: str, detail: dict[str, Any], now_ms: int) -> list[Action]:
        """A broker notice in the session's log, which the client's agent shows (e.g.
        ``session.escalated``: the request was passed to a supervisor). Nothing once
        the session has ended."""
        ctx = self._ctx
        ctx.out = []
        if not ctx.machine.ended:
            ctx.append(event, "broker", detail, now_ms)
        return ctx.take()

    # -- state, for the backend and tests ------------------------------------------

    @property
    def info(self) -> SessionInfo:
        """What the store said about the session."""
        return self._ctx.info

    @property
    def timings(self) -> RelayTimings:
        """The core's timers."""
        return self._ctx.timings

    @property
    def machine(self) -> SessionMachine:
        """The SPEC §5 state machine."""
        return self._ctx.machine

    @property
    def consent(self) -> ConsentBook:
        """Who holds what, and the open prompts."""
        return self._ctx.consent

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self._ctx.session_id

    @property
    def state(self) -> SessionState:
        """The current SPEC §5 state."""
        return self._ctx.state

    @property
    def viewer_ids(self) -> list[str]:
        """Ids of the connected viewers, in join order."""
        return self._ctx.viewer_ids

    @property
    def closed(self) -> bool:
        """Whether the core is done with the session (ended, agent gone)."""
        return self._ctx.closed

    @property
    def agent_connected(self) -> bool:
        """Whether the agent's connection is attached."""
        return self._ctx.agent_connected

    @property
    def recording_since_ms(self) -> int | None:
        """Since when the recording cannot be written (``None``: it works)."""
        return self._ctx.recording_since_ms

    @property
    def last_update_seq(self) -> int:
        """The seq of the agent's last screen update (relayed or not)."""
        return self._ctx.last_update_seq

    @property
    def audit_keys(self) -> deque[m.KeyAudit]:
        """The latest ``key.audit`` wraps (for the recorder)."""
        return self._ctx.audit_keys

    def flow(self, viewer_id: str) -> ViewerFlow:
        """The flow-control state of one viewer (for tests and metrics)."""
        return self._ctx.flow(viewer_id)

    def next_deadline(self) -> int | None:
        """The earliest time (ms) :meth:`tick` has something to do, or ``None``."""
        return self._ctx.next_deadline()

    # -- connections -----------------------------------------------------------

    def attach_agent(
        self, now_ms: int, resume_token: str | None = None, log_seq: int | None = None
    ) -> list[Action]:
        """The agent said a verified ``hello``: ``requested → waiting`` and ``welcome``.

        With ``log_seq`` (the last log record the agent holds) every later record is
        re-sent right after the welcome, before anything new: records written into a
        dead socket are not lost (issue 13). Without it (an older agent) only what was
        logged while no connection was attached follows (the backlog)."""
        self._ctx.out = []
        if self._ctx.machine.ended:
            raise ProtocolError.of(ErrorCode.SESSION_ENDED, "the session has ended")
        if self._ctx.state is S.REQUESTED:
            detail = {"client": self._ctx.info.client_name, "ticket_id": self._ctx.info.ticket_id}
            # A fresh core over a log that already holds records: the broker restarted
            # (SIGKILL, crash) and the agent came back — its own event, not a new request.
            again = bool(self._ctx.log.records_after(0))
            event = "session.reattached" if again else "session.requested"
            self._ctx.transition(E.AGENT_CONNECTED, now_ms, CLIENT, detail, event=event)
        else:
            # A second agent connection replaces the first (the I/O layer closes the old
            # one): what is logged now goes to the backlog, sent after the welcome —
            # never ahead of it on the new connection.
            self._ctx.agent_connected = False
            self._ctx.append("session.reconnected", CLIENT, {}, now_ms)
        self._ctx.agent_connected = True
        self._ctx.agent_gone_ms = None
        welcome = m.Welcome(
            session_id=self._ctx.session_id,
            ticket=self._ctx.ticket(),
            role="agent",
            state=self._ctx.state.value,
            server_time_ms=now_ms,
            resume_token=resume_token,
        )
        self._ctx.send(AGENT, welcome)
        if self._ctx.info.audit_recipient_pem:
            self._ctx.send(AGENT, m.AuditRecipient(certificate=self._ctx.info.audit_recipient_pem))
        if log_seq is not None:
            self._ctx.backlog.clear()  # all of it is in what follows
            for record in self._ctx.log.records_after(log_seq):
                text = m.serialize_control(m.LogEvent(record=record))
                self._ctx.emit(SendText(self._ctx.session_id, AGENT, text))
        while self._ctx.backlog:
            self._ctx.emit(SendText(self._ctx.session_id, AGENT, self._ctx.backlog.popleft()))
        self._ctx.send(AGENT, self._ctx.state_message())
        for request in self._ctx.consent.open_requests():  # re-ask what is still open
            self._ctx.send(AGENT, self._ctx.consent_message(request))
        return self._ctx.take()

    def attach_viewer(
        self, user: ViewerUser, permissions: Iterable[str], now_ms: int
    ) -> tuple[str, list[Action]]:
        """A staff user said a verified ``hello`` on ``/ws/viewer``.

        Assigns ``v<n>``, logs the join, tells the agent (``viewer.joined``) and
        asks its consent (``consent.request``) for ``permissions`` (G2: every
        viewer, observers too, needs its own consent).
        """
        self._ctx.out = []
        if self._ctx.machine.ended:
            raise ProtocolError.of(ErrorCode.SESSION_ENDED, "the session has ended")
        if not self._ctx.agent_connected:
            raise ProtocolError(ErrorCode.WRONG_STATE, "the client is not connected", 1013)
        if user.role not in ("engineer", "observer"):
            raise ProtocolError.of(ErrorCode.FORBIDDEN, "only engineers and observers may join")
        if self._ctx.next_number > MAX_U32:
            raise ProtocolError(ErrorCode.WRONG_STATE, "too many viewers", 1013)
        asked = set(permissions)
        refused = {"control"} if user.role == "observer" and "control" in asked else set()
        asked -= refused
        number = self._ctx.next_number
        viewer_id = f"v{number}"
        actor = self._ctx.actor(user)
        detail: dict[str, Any] = {
            "viewer_id": viewer_id,
            "user_id": user.user_id,
            "name": user.name,
        }
        if user.handover is not None:  # issue 19: who handed over to / invited this engineer
            h = user.handover
            detail |= {"handover": h.kind, "handover_id": h.id, "by_user_id": h.by_user_id}
            detail["by_name"] = h.by_name
        self._ctx.append("viewer.joined", actor, {**detail, "role": user.role}, now_ms)
        self._ctx.next_number += 1
        viewer = ViewerSlot(viewer_id, number, user)
        self._ctx.viewers[viewer_id] = viewer
        self._ctx.numbers[number] = viewer_id
        if user.role == "engineer" and self._ctx.engineer_id is None:
            self._ctx.engineer_id = user.user_id
            self._ctx.emit(MarkAnswered(self._ctx.session_id, user.user_id, now_ms))
        self._ctx.send(
            viewer_id,
            m.Welcome(
                session_id=self._ctx.session_id,
                ticket=self._ctx.ticket(),
                role=user.role,
                state=self._ctx.state.value,
                server_time_ms=now_ms,
                viewer_id=viewer_id,
            ),
        )
        self._ctx.send(
            AGENT,
            m.ViewerJoined(
                viewer_id=viewer_id, user=m.User(id=user.user_id, name=user.name, role=user.role)
            ),
        )
        if refused:
            self._ctx.error(
                viewer_id, ProtocolError.of(ErrorCode.FORBIDDEN, "observers cannot get control")
            )
        if asked:
            self._consenting.ask(viewer, asked, now_ms)
        self._ctx.broadcast_state()
        return viewer_id, self._ctx.take()

    def detach_agent(self, now_ms: int) -> list[Action]:
        """The agent's connection closed (network, or it is done after an end)."""
        self._ctx.out = []
        if not self._ctx.agent_connected:
            return []
        self._ctx.agent_connected = False
        if self._ctx.machine.ended:
            self._life.finish(now_ms)
        else:
            self._ctx.agent_gone_ms = now_ms
            self._ctx.append("session.interrupted", CLIENT, {}, now_ms)
        return self._ctx.take()

    def detach_viewer(self, viewer_id: str, now_ms: int, reason: str = "left") -> list[Action]:
        """A viewer's connection closed."""
        self._ctx.out = []
        viewer = self._ctx.viewers.get(viewer_id)
        if viewer is None:
            return []
        if self._ctx.machine.ended:
            self._ctx.drop_viewer(viewer)
            return self._ctx.take()
        self._input.flush(viewer, now_ms)
        trigger = self._consenting.settle_trigger(viewer_id, leaving=True)
        self._ctx.record(
            "viewer.left",
            self._ctx.actor(viewer.user),
            {"viewer_id": viewer_id, "reason": reason},
            now_ms,
            trigger,
        )
        self._ctx.drop_viewer(viewer)
        left = m.ViewerLeft(viewer_id=viewer_id, reason=reason)
        self._ctx.send(AGENT, left)
        for other in self._ctx.viewers:
            self._ctx.send(other, left)
        self._consenting.reopen(now_ms)
        self._ctx.broadcast_state()
        return self._ctx.take()
