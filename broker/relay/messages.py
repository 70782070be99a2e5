"""The session's control-message part: what the agent and each viewer may say, in
which state (:func:`protocol.state.check_allowed`), and what each message does.

Every accepted message is recorded for the recording (``Record``); a refused one
is answered with an ``error`` (closing only on the codes fatal in a session).
"""

from __future__ import annotations

from typing import Any

from audit.errors import EventError
from audit.events import check_local_event
from broker.relay.actions import AGENT, Action, Record, SaveRating
from broker.relay.base import CLIENT, SessionContext, ViewerSlot
from broker.relay.consenting import ConsentFlow
from broker.relay.lifecycle import Lifecycle
from protocol import messages as m
from protocol.errors import ErrorCode, ProtocolError
from protocol.state import EndReason, SessionEvent, check_allowed

__all__ = ["ControlMessages"]

E = SessionEvent


class ControlMessages:
    """Routes the agent's and the viewers' control messages to the parts that act."""

    def __init__(self, ctx: SessionContext, consenting: ConsentFlow, life: Lifecycle) -> None:
        self._ctx = ctx
        self._consenting = consenting
        self._life = life

    def agent_control(self, msg: m.ControlMessage, now_ms: int) -> list[Action]:
        """A control message from the agent."""
        self._ctx.out = []
        try:
            check_allowed(msg.type, "agent", self._ctx.state)
            self._agent_control(msg, now_ms)
        except ProtocolError as exc:
            self._ctx.error(AGENT, exc)
        else:
            self._ctx.emit(Record(self._ctx.session_id, "agent", m.serialize_control(msg), now_ms))
        return self._ctx.take()

    def viewer_control(self, viewer_id: str, msg: m.ControlMessage, now_ms: int) -> list[Action]:
        """A control message from viewer ``viewer_id``."""
        self._ctx.out = []
        viewer = self._ctx.viewers.get(viewer_id)
        if viewer is None:
            return []
        try:
            check_allowed(msg.type, viewer.user.role, self._ctx.state)
            self._viewer_control(viewer, msg, now_ms)
        except ProtocolError as exc:
            self._ctx.error(viewer_id, exc)
        else:
            self._ctx.emit(Record(self._ctx.session_id, "viewer", m.serialize_control(msg), now_ms))
        return self._ctx.take()

    def _agent_control(self, msg: m.ControlMessage, now_ms: int) -> None:
        if msg.type == "consent.grant":
            self._consenting.on_grant(msg, now_ms)
        elif msg.type == "consent.deny":
            self._consenting.on_deny(msg, now_ms)
        elif msg.type == "consent.revoke":
            self._consenting.revoke(msg.viewer_id, msg.permissions, now_ms, by=CLIENT)
        elif msg.type in ("key.agent", "key.wrap"):
            viewer = self._ctx.viewer(msg.viewer_id)
            if msg.type == "key.wrap" and not self._ctx.consent.holds(viewer.viewer_id, "view"):
                raise ProtocolError.of(
                    ErrorCode.NOT_GRANTED, f"{viewer.viewer_id} does not hold view"
                )
            self._ctx.send(viewer.viewer_id, msg)
        elif msg.type == "key.audit":
            detail = {"epoch": msg.epoch, "recipient": msg.recipient_fingerprint}
            self._ctx.append("audit.wrapped", CLIENT, detail, now_ms)
            self._ctx.audit_keys.append(msg)
        elif msg.type == "pause":
            self._ctx.transition(E.PAUSE, now_ms, CLIENT, {})
            for viewer in self._ctx.viewers.values():
                viewer.flow.drop_pending()
            self._ctx.to_viewers(msg)
            self._ctx.broadcast_state()
        elif msg.type == "resume":
            self._ctx.transition(E.RESUME, now_ms, CLIENT, {})
            self._ctx.to_viewers(msg)
            self._ctx.broadcast_state()
        elif msg.type == "mask.update":
            self._ctx.append(
                "mask.changed", CLIENT, {"regions": msg.regions, "windows": msg.windows}, now_ms
            )
            self._ctx.to_viewers(msg)
        elif msg.type == "desktop.info":
            self._ctx.to_viewers(msg)
        elif msg.type == "chat":
            self._chat(None, msg.text, now_ms)
        elif msg.type == "log.local":
            try:
                check_local_event(msg.event)
            except EventError as exc:
                raise ProtocolError.of(ErrorCode.INVALID_FIELD, f"event: {exc}") from exc
            self._ctx.append(msg.event, CLIENT, dict(msg.detail), now_ms)
        elif msg.type == "rating":
            # After the end the log is sealed (its last record is session.ended):
            # the rating then goes to the store only.
            if not self._ctx.machine.ended:
                self._ctx.append("rating.given", CLIENT, {"score": msg.score}, now_ms)
            self._ctx.emit(SaveRating(self._ctx.session_id, msg.score, msg.comment))
        elif msg.type == "call.start":
            self._ctx.append("call.started", CLIENT, {}, now_ms)
            self._ctx.to_viewers(msg)
        elif msg.type in ("rtc.offer", "rtc.answer", "rtc.candidate", "rtc.mute", "rtc.hangup"):
            if msg.type == "rtc.hangup":
                self._ctx.append("call.ended", CLIENT, {"reason": msg.reason}, now_ms)
            for vid in self._ctx.viewers:
                if self._ctx.consent.holds(vid, "video"):
                    self._ctx.send(vid, msg)
        elif msg.type == "kill":
            self._ctx.append("kill.triggered", CLIENT, {}, now_ms)
            self._life.end_now(EndReason.KILLED_BY_CLIENT, CLIENT, None, now_ms)
        else:  # every other type the table allows the agent is listed above
            raise ProtocolError.of(ErrorCode.FORBIDDEN, f"agent may not send {msg.type}")

    def _viewer_control(self, viewer: ViewerSlot, msg: m.ControlMessage, now_ms: int) -> None:
        vid = viewer.viewer_id
        actor = self._ctx.actor(viewer.user)
        if msg.type == "permission.request":
            asked = set(msg.permissions)
            if viewer.user.role == "observer" and "control" in asked:
                raise ProtocolError.of(ErrorCode.FORBIDDEN, "observers cannot get control")
            asked -= self._ctx.consent.permissions(vid)
            if not asked:
                raise ProtocolError.of(
                    ErrorCode.INVALID_FIELD, "those permissions are already held"
                )
            if self._ctx.consent.open_requests(vid):
                raise ProtocolError.of(ErrorCode.WRONG_STATE, "a consent request is already open")
            self._consenting.ask(viewer, asked, now_ms, note=msg.note)
            self._ctx.broadcast_state()
        elif msg.type == "permission.release":
            self._consenting.revoke(
                vid, msg.permissions, now_ms, by=actor, event="permission.released"
            )
            self._ctx.send(AGENT, m.PermissionRelease(permissions=msg.permissions, viewer_id=vid))
        elif msg.type == "key.commit":
            self._ctx.send(
                AGENT,
                m.KeyCommit(
                    commitment=msg.commitment, viewer_id=vid, video_codecs=msg.video_codecs
                ),
            )
        elif msg.type == "key.reveal":
            self._ctx.send(AGENT, m.KeyReveal(viewer_public=msg.viewer_public, viewer_id=vid))
        elif msg.type == "refresh":
            self._ctx.need(vid, "view")
            self._ctx.send(AGENT, msg)
        elif msg.type == "monitor.select":
            self._ctx.need(vid, "view")  # the agent decides whether the client allows it
            self._ctx.send(AGENT, m.MonitorSelect(monitor=msg.monitor, viewer_id=vid))
        elif msg.type == "chat":
            self._chat(viewer, msg.text, now_ms)
        elif msg.type == "call.request":
            self._ctx.append("call.requested", actor, {"viewer_id": vid}, now_ms)
            self._ctx.send(AGENT, msg)
        elif msg.type in ("rtc.offer", "rtc.answer", "rtc.candidate", "rtc.mute", "rtc.hangup"):
            self._ctx.need(vid, "video")
            if msg.type == "rtc.hangup":
                self._ctx.append(
                    "call.ended", actor, {"viewer_id": vid, "reason": msg.reason}, now_ms
                )
            self._ctx.send(AGENT, msg)
        elif msg.type == "end":
            if viewer.user.user_id != self._ctx.engineer_id:
                raise ProtocolError.of(
                    ErrorCode.FORBIDDEN, "only the session's engineer can end it"
                )
            self._life.end_now(
                EndReason.ENDED_BY_ENGINEER, viewer.user.name, msg.resolution, now_ms
            )
        else:
            raise ProtocolError.of(ErrorCode.FORBIDDEN, f"viewer may not send {msg.type}")

    def _chat(self, viewer: ViewerSlot | None, text: str, now_ms: int) -> None:
        if viewer is None:
            sender, actor = m.ChatFrom(kind="agent", name=self._ctx.info.client_name), CLIENT
            detail: dict[str, Any] = {"from": "client", "text": text}
        else:
            sender = m.ChatFrom(kind="viewer", name=viewer.user.name, viewer_id=viewer.viewer_id)
            actor = self._ctx.actor(viewer.user)
            detail = {"from": viewer.viewer_id, "text": text}
        self._ctx.append("chat.sent", actor, detail, now_ms)
        out = m.Chat(text=text, from_=sender, at_ms=now_ms)
        if viewer is not None:
            self._ctx.send(AGENT, out)
        for vid in self._ctx.viewers:  # only to viewers the client consented to (G2)
            if (viewer is None or vid != viewer.viewer_id) and self._ctx.consent.holds_any(vid):
                self._ctx.send(vid, out)
