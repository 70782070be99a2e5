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

Connections and control messages are here; binary frames (fan-out, flow
control, input gate) in :mod:`broker.relay.fanout`; timers and the end in
:mod:`broker.relay.lifecycle`; consent in :mod:`broker.relay.consenting`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from audit.errors import EventError
from audit.events import check_local_event
from broker.relay.actions import (
    AGENT,
    Action,
    MarkAnswered,
    Record,
    SaveRating,
    SendText,
)
from broker.relay.base import (
    CLIENT,
    RelayTimings,
    SessionInfo,
    ViewerSlot,
    ViewerUser,
)
from broker.relay.fanout import FanoutMixin
from broker.relay.lifecycle import LifecycleMixin
from protocol import messages as m
from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import MAX_U32
from protocol.state import EndReason, SessionEvent, SessionState, check_allowed

__all__ = ["RelayTimings", "SessionInfo", "SessionRelay", "ViewerUser"]

log = logging.getLogger(__name__)

S = SessionState
E = SessionEvent


class SessionRelay(LifecycleMixin, FanoutMixin):
    """One live session. Not thread-safe; one caller at a time (the event loop)."""

    # -- connections -----------------------------------------------------------

    def attach_agent(self, now_ms: int, resume_token: str | None = None) -> list[Action]:
        """The agent said a verified ``hello``: ``requested → waiting`` and ``welcome``."""
        self._out = []
        if self.machine.ended:
            raise ProtocolError.of(ErrorCode.SESSION_ENDED, "the session has ended")
        if self.state is S.REQUESTED:
            detail = {"client": self.info.client_name, "ticket_id": self.info.ticket_id}
            self._transition(E.AGENT_CONNECTED, now_ms, CLIENT, detail, event="session.requested")
        else:
            self._append("session.reconnected", CLIENT, {}, now_ms)
        # A second agent connection replaces the first; the I/O layer closes the old one.
        self.agent_connected = True
        self._agent_gone_ms = None
        welcome = m.Welcome(
            session_id=self.session_id,
            ticket=self._ticket(),
            role="agent",
            state=self.state.value,
            server_time_ms=now_ms,
            resume_token=resume_token,
        )
        self._send(AGENT, welcome)
        if self.info.audit_recipient_pem:
            self._send(AGENT, m.AuditRecipient(certificate=self.info.audit_recipient_pem))
        while self._backlog:
            self._emit(SendText(self.session_id, AGENT, self._backlog.popleft()))
        self._send(AGENT, self._state_message())
        for request in self.consent.open_requests():  # re-ask what is still open
            self._send(AGENT, self._consent_message(request))
        return self._take()

    def attach_viewer(
        self, user: ViewerUser, permissions: Iterable[str], now_ms: int
    ) -> tuple[str, list[Action]]:
        """A staff user said a verified ``hello`` on ``/ws/viewer``.

        Assigns ``v<n>``, logs the join, tells the agent (``viewer.joined``) and
        asks its consent (``consent.request``) for ``permissions`` (G2: every
        viewer, observers too, needs its own consent).
        """
        self._out = []
        if self.machine.ended:
            raise ProtocolError.of(ErrorCode.SESSION_ENDED, "the session has ended")
        if not self.agent_connected:
            raise ProtocolError(ErrorCode.WRONG_STATE, "the client is not connected", 1013)
        if user.role not in ("engineer", "observer"):
            raise ProtocolError.of(ErrorCode.FORBIDDEN, "only engineers and observers may join")
        if self._next_number > MAX_U32:
            raise ProtocolError(ErrorCode.WRONG_STATE, "too many viewers", 1013)
        asked = set(permissions)
        refused = {"control"} if user.role == "observer" and "control" in asked else set()
        asked -= refused
        number = self._next_number
        viewer_id = f"v{number}"
        actor = self._actor(user)
        detail = {"viewer_id": viewer_id, "user_id": user.user_id, "name": user.name}
        self._append("viewer.joined", actor, {**detail, "role": user.role}, now_ms)
        self._next_number += 1
        viewer = ViewerSlot(viewer_id, number, user)
        self._viewers[viewer_id] = viewer
        self._numbers[number] = viewer_id
        if user.role == "engineer" and self.engineer_id is None:
            self.engineer_id = user.user_id
            self._emit(MarkAnswered(self.session_id, user.user_id, now_ms))
        self._send(
            viewer_id,
            m.Welcome(
                session_id=self.session_id,
                ticket=self._ticket(),
                role=user.role,
                state=self.state.value,
                server_time_ms=now_ms,
                viewer_id=viewer_id,
            ),
        )
        self._send(
            AGENT,
            m.ViewerJoined(
                viewer_id=viewer_id, user=m.User(id=user.user_id, name=user.name, role=user.role)
            ),
        )
        if refused:
            self._error(
                viewer_id, ProtocolError.of(ErrorCode.FORBIDDEN, "observers cannot get control")
            )
        if asked:
            self._ask_consent(viewer, asked, now_ms)
        self._broadcast_state()
        return viewer_id, self._take()

    def detach_agent(self, now_ms: int) -> list[Action]:
        """The agent's connection closed (network, or it is done after an end)."""
        self._out = []
        if not self.agent_connected:
            return []
        self.agent_connected = False
        if self.machine.ended:
            self._finish(now_ms)
        else:
            self._agent_gone_ms = now_ms
            self._append("session.interrupted", CLIENT, {}, now_ms)
        return self._take()

    def detach_viewer(self, viewer_id: str, now_ms: int, reason: str = "left") -> list[Action]:
        """A viewer's connection closed."""
        self._out = []
        viewer = self._viewers.get(viewer_id)
        if viewer is None:
            return []
        if self.machine.ended:
            self._drop_viewer(viewer)
            return self._take()
        self._flush_input(viewer, now_ms)
        trigger = self._settle_trigger(viewer_id, leaving=True)
        self._record(
            "viewer.left",
            self._actor(viewer.user),
            {"viewer_id": viewer_id, "reason": reason},
            now_ms,
            trigger,
        )
        self._drop_viewer(viewer)
        left = m.ViewerLeft(viewer_id=viewer_id, reason=reason)
        self._send(AGENT, left)
        for other in self._viewers:
            self._send(other, left)
        self._reopen(now_ms)
        self._broadcast_state()
        return self._take()

    # -- control messages --------------------------------------------------------

    def agent_control(self, msg: m.ControlMessage, now_ms: int) -> list[Action]:
        """A control message from the agent."""
        self._out = []
        try:
            check_allowed(msg.type, "agent", self.state)
            self._agent_control(msg, now_ms)
        except ProtocolError as exc:
            self._error(AGENT, exc)
        else:
            self._emit(Record(self.session_id, "agent", m.serialize_control(msg), now_ms))
        return self._take()

    def viewer_control(self, viewer_id: str, msg: m.ControlMessage, now_ms: int) -> list[Action]:
        """A control message from viewer ``viewer_id``."""
        self._out = []
        viewer = self._viewers.get(viewer_id)
        if viewer is None:
            return []
        try:
            check_allowed(msg.type, viewer.user.role, self.state)
            self._viewer_control(viewer, msg, now_ms)
        except ProtocolError as exc:
            self._error(viewer_id, exc)
        else:
            self._emit(Record(self.session_id, "viewer", m.serialize_control(msg), now_ms))
        return self._take()

    def _agent_control(self, msg: m.ControlMessage, now_ms: int) -> None:
        if msg.type == "consent.grant":
            self._on_grant(msg, now_ms)
        elif msg.type == "consent.deny":
            self._on_deny(msg, now_ms)
        elif msg.type == "consent.revoke":
            self._on_revoke(msg.viewer_id, msg.permissions, now_ms, by=CLIENT)
        elif msg.type in ("key.agent", "key.wrap"):
            viewer = self._viewer(msg.viewer_id)
            if msg.type == "key.wrap" and not self.consent.holds(viewer.viewer_id, "view"):
                raise ProtocolError.of(
                    ErrorCode.NOT_GRANTED, f"{viewer.viewer_id} does not hold view"
                )
            self._send(viewer.viewer_id, msg)
        elif msg.type == "key.audit":
            detail = {"epoch": msg.epoch, "recipient": msg.recipient_fingerprint}
            self._append("audit.wrapped", CLIENT, detail, now_ms)
            self.audit_keys.append(msg)
        elif msg.type == "pause":
            self._transition(E.PAUSE, now_ms, CLIENT, {})
            for viewer in self._viewers.values():
                viewer.flow.drop_pending()
            self._to_viewers(msg)
            self._broadcast_state()
        elif msg.type == "resume":
            self._transition(E.RESUME, now_ms, CLIENT, {})
            self._to_viewers(msg)
            self._broadcast_state()
        elif msg.type == "mask.update":
            self._append(
                "mask.changed", CLIENT, {"regions": msg.regions, "windows": msg.windows}, now_ms
            )
            self._to_viewers(msg)
        elif msg.type == "chat":
            self._chat(None, msg.text, now_ms)
        elif msg.type == "log.local":
            try:
                check_local_event(msg.event)
            except EventError as exc:
                raise ProtocolError.of(ErrorCode.INVALID_FIELD, f"event: {exc}") from exc
            self._append(msg.event, CLIENT, dict(msg.detail), now_ms)
        elif msg.type == "rating":
            # After the end the log is sealed (its last record is session.ended):
            # the rating then goes to the store only.
            if not self.machine.ended:
                self._append("rating.given", CLIENT, {"score": msg.score}, now_ms)
            self._emit(SaveRating(self.session_id, msg.score, msg.comment))
        elif msg.type == "call.start":
            self._append("call.started", CLIENT, {}, now_ms)
            self._to_viewers(msg)
        elif msg.type in ("rtc.offer", "rtc.answer", "rtc.candidate", "rtc.mute", "rtc.hangup"):
            if msg.type == "rtc.hangup":
                self._append("call.ended", CLIENT, {"reason": msg.reason}, now_ms)
            for vid in self._viewers:
                if self.consent.holds(vid, "video"):
                    self._send(vid, msg)
        elif msg.type == "kill":
            self._append("kill.triggered", CLIENT, {}, now_ms)
            self._end(EndReason.KILLED_BY_CLIENT, CLIENT, None, now_ms)
        else:  # every other type the table allows the agent is listed above
            raise ProtocolError.of(ErrorCode.FORBIDDEN, f"agent may not send {msg.type}")

    def _viewer_control(self, viewer: ViewerSlot, msg: m.ControlMessage, now_ms: int) -> None:
        vid = viewer.viewer_id
        actor = self._actor(viewer.user)
        if msg.type == "permission.request":
            asked = set(msg.permissions)
            if viewer.user.role == "observer" and "control" in asked:
                raise ProtocolError.of(ErrorCode.FORBIDDEN, "observers cannot get control")
            asked -= self.consent.permissions(vid)
            if not asked:
                raise ProtocolError.of(
                    ErrorCode.INVALID_FIELD, "those permissions are already held"
                )
            if self.consent.open_requests(vid):
                raise ProtocolError.of(ErrorCode.WRONG_STATE, "a consent request is already open")
            self._ask_consent(viewer, asked, now_ms, note=msg.note)
            self._broadcast_state()
        elif msg.type == "permission.release":
            self._on_revoke(vid, msg.permissions, now_ms, by=actor, event="permission.released")
            self._send(AGENT, m.PermissionRelease(permissions=msg.permissions, viewer_id=vid))
        elif msg.type == "key.commit":
            self._send(
                AGENT,
                m.KeyCommit(
                    commitment=msg.commitment, viewer_id=vid, video_codecs=msg.video_codecs
                ),
            )
        elif msg.type == "key.reveal":
            self._send(AGENT, m.KeyReveal(viewer_public=msg.viewer_public, viewer_id=vid))
        elif msg.type == "refresh":
            self._need(vid, "view")
            self._send(AGENT, msg)
        elif msg.type == "chat":
            self._chat(viewer, msg.text, now_ms)
        elif msg.type == "call.request":
            self._append("call.requested", actor, {"viewer_id": vid}, now_ms)
            self._send(AGENT, msg)
        elif msg.type in ("rtc.offer", "rtc.answer", "rtc.candidate", "rtc.mute", "rtc.hangup"):
            self._need(vid, "video")
            if msg.type == "rtc.hangup":
                self._append("call.ended", actor, {"viewer_id": vid, "reason": msg.reason}, now_ms)
            self._send(AGENT, msg)
        elif msg.type == "end":
            if viewer.user.user_id != self.engineer_id:
                raise ProtocolError.of(
                    ErrorCode.FORBIDDEN, "only the session's engineer can end it"
                )
            self._end(EndReason.ENDED_BY_ENGINEER, viewer.user.name, msg.resolution, now_ms)
        else:
            raise ProtocolError.of(ErrorCode.FORBIDDEN, f"viewer may not send {msg.type}")

    def _chat(self, viewer: ViewerSlot | None, text: str, now_ms: int) -> None:
        if viewer is None:
            sender, actor = m.ChatFrom(kind="agent", name=self.info.client_name), CLIENT
            detail: dict[str, Any] = {"from": "client", "text": text}
        else:
            sender = m.ChatFrom(kind="viewer", name=viewer.user.name, viewer_id=viewer.viewer_id)
            actor = self._actor(viewer.user)
            detail = {"from": viewer.viewer_id, "text": text}
        self._append("chat.sent", actor, detail, now_ms)
        out = m.Chat(text=text, from_=sender, at_ms=now_ms)
        if viewer is not None:
            self._send(AGENT, out)
        for vid in self._viewers:  # only to viewers the client consented to (G2)
            if (viewer is None or vid != viewer.viewer_id) and self.consent.holds_any(vid):
                self._send(vid, out)
