"""The call's state machine, pure (G2, G3, G5, G7; SPEC §3.6).

No I/O, no clock, no asyncio: every method returns the *effects* the runner must
carry out, in order. The rules it enforces:

- Only a client action opens the camera and microphone: :class:`OpenMedia` is
  returned by :meth:`CallController.client_start` and :meth:`client_accept` and by
  nothing else. A ``call.request`` from the network only rings (the client is asked);
  an ``rtc.offer`` from the network is ignored, because the agent is always the side
  that offers (so an engineer can never cause a capture by sending SDP).
- Either side hangs up; :meth:`kill` ends the call too and is final. Media stop
  *first* (:class:`CloseMedia` comes before any message), as with the kill switch.
- Start, end and mute changes produce :class:`Log` effects for the client's log.

States: ``idle`` → ``ringing`` (engineer asked) → ``starting`` (client started or
accepted; offer on its way) → ``active`` (answer applied) → ``ended`` (then a new call
may start, unless the session was killed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from protocol.messages import (
    CallRequest,
    CallStart,
    ControlMessage,
    RtcAnswer,
    RtcCandidate,
    RtcHangup,
    RtcMute,
    RtcOffer,
)

CallState = Literal["idle", "ringing", "starting", "active", "ended"]

#: Messages the controller consumes; the runner hands it nothing else.
CALL_MESSAGE_TYPES: frozenset[str] = frozenset(
    {"call.request", "rtc.offer", "rtc.answer", "rtc.candidate", "rtc.mute", "rtc.hangup"}
)


class CallError(Exception):
    """A client action that the call's state does not allow (e.g. start after kill)."""


# -- effects ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenMedia:
    """Open the camera and microphone and make the offer. Only client actions emit it."""


@dataclass(frozen=True, slots=True)
class CloseMedia:
    """Stop local tracks now, then close the peer connection."""

    reason: str


@dataclass(frozen=True, slots=True)
class Send:
    """Send a control message to the broker."""

    message: ControlMessage


@dataclass(frozen=True, slots=True)
class Log:
    """Record an event in the client's log (G7)."""

    event: str
    detail: dict[str, str | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ring:
    """Show (``on``) or withdraw the "the engineer asks for a call" prompt."""

    on: bool


@dataclass(frozen=True, slots=True)
class ApplyAnswer:
    """Set the engineer's answer as the remote description."""

    sdp: str


@dataclass(frozen=True, slots=True)
class AddCandidate:
    """Add one of the engineer's ICE candidates."""

    candidate: str
    sdp_mid: str | None
    sdp_mline_index: int | None


@dataclass(frozen=True, slots=True)
class ApplyMute:
    """Mute (True) or unmute the client's own audio / video tracks."""

    audio: bool
    video: bool


@dataclass(frozen=True, slots=True)
class RemoteMute:
    """The engineer muted or unmuted (to show in the call panel)."""

    audio: bool
    video: bool


Effect: TypeAlias = (
    OpenMedia | CloseMedia | Send | Log | Ring | ApplyAnswer | AddCandidate | ApplyMute | RemoteMute
)


class CallController:
    """One session's video call (at most one at a time)."""

    def __init__(self) -> None:
        self._state: CallState = "idle"
        self._killed = False
        self.audio_muted = False
        self.video_muted = False
        self.remote_audio_muted = False
        self.remote_video_muted = False

    @property
    def state(self) -> CallState:
        """The current state."""
        return self._state

    @property
    def killed(self) -> bool:
        """True after :meth:`kill`: no call can start again in this session."""
        return self._killed

    @property
    def media_allowed(self) -> bool:
        """Whether local media may be open: only between a client start and the end."""
        return self._state in ("starting", "active")

    # -- client actions (the only way to open media) ------------------------------------

    def client_start(self) -> list[Effect]:
        """The client pressed "Start video call" (with or without a request)."""
        if self._killed:
            raise CallError("the session was killed; no call can start")
        if self._state in ("starting", "active"):
            raise CallError("a call is already running")
        ringing = self._state == "ringing"
        self._state = "starting"
        self.audio_muted = self.video_muted = False
        self.remote_audio_muted = self.remote_video_muted = False
        effects: list[Effect] = [Ring(False)] if ringing else []
        # Announce first, then open: if the device fails, the end follows the start.
        effects += [
            Send(CallStart()),
            Log("call.started", {"by": "client", "answering": ringing}),
            OpenMedia(),
        ]
        return effects

    def client_accept(self) -> list[Effect]:
        """The client accepted the engineer's request (the prompt is ringing)."""
        if self._state != "ringing":
            raise CallError("no call request to accept")
        return self.client_start()

    def client_decline(self) -> list[Effect]:
        """The client declined the engineer's request."""
        if self._state != "ringing":
            raise CallError("no call request to decline")
        self._state = "idle"
        return [Ring(False), Send(RtcHangup(reason="declined")), Log("call.declined")]

    def client_mute(self, *, audio: bool, video: bool) -> list[Effect]:
        """Mute or unmute the client's microphone (``audio``) and camera (``video``)."""
        if not self.media_allowed:
            raise CallError("no call is running")
        if (audio, video) == (self.audio_muted, self.video_muted):
            return []
        self.audio_muted, self.video_muted = audio, video
        return [
            ApplyMute(audio, video),
            Send(RtcMute(audio=audio, video=video)),
            Log("call.muted", {"by": "client", "audio": audio, "video": video}),
        ]

    def client_hangup(self, reason: str = "hangup") -> list[Effect]:
        """The client hung up (or the agent ends the call for ``reason``)."""
        if not self.media_allowed:
            return []
        return self._end(reason, by="client", tell_peer=True)

    def kill(self) -> list[Effect]:
        """The kill switch: media stop first, the engineer is told, and no call can
        start again in this session. Safe to call in any state, more than once."""
        already = self._killed
        self._killed = True
        if self.media_allowed:
            return self._end("killed", by="client", tell_peer=True)
        if self._state == "ringing":
            self._state = "ended"
            return [Ring(False)]
        if not already and self._state == "idle":
            self._state = "ended"
        return []

    # -- the runner's reports ---------------------------------------------------------

    def offer_ready(self, sdp: str) -> list[Effect]:
        """The local offer is made; [] if the call ended meanwhile (drop the offer)."""
        if self._state != "starting":
            return []
        return [Send(RtcOffer(sdp=sdp))]

    def peer_failed(self, why: str = "failed") -> list[Effect]:
        """The connection failed (ICE, DTLS, media device)."""
        if not self.media_allowed:
            return []
        return self._end(why, by="client", tell_peer=True)

    # -- the network ---------------------------------------------------------------

    def on_message(self, msg: ControlMessage) -> list[Effect]:
        """A call or rtc message from the broker. Never opens media."""
        if isinstance(msg, CallRequest):
            if self._killed or self._state not in ("idle", "ended"):
                return []
            self._state = "ringing"
            return [Ring(True), Log("call.requested", {"by": "engineer"})]
        if isinstance(msg, RtcOffer):
            # The agent always offers; an offer from the network is never answered.
            return []
        if isinstance(msg, RtcAnswer):
            if self._state != "starting":
                return []
            self._state = "active"
            return [ApplyAnswer(msg.sdp)]
        if isinstance(msg, RtcCandidate):
            if not self.media_allowed:
                return []
            return [AddCandidate(msg.candidate, msg.sdp_mid, msg.sdp_mline_index)]
        if isinstance(msg, RtcMute):
            if not self.media_allowed:
                return []
            self.remote_audio_muted, self.remote_video_muted = msg.audio, msg.video
            detail: dict[str, str | bool] = {
                "by": "engineer",
                "audio": msg.audio,
                "video": msg.video,
            }
            return [RemoteMute(msg.audio, msg.video), Log("call.muted", detail)]
        if isinstance(msg, RtcHangup):
            if self._state == "ringing":
                self._state = "idle"
                return [Ring(False), Log("call.cancelled", {"by": "engineer"})]
            if not self.media_allowed:
                return []
            return self._end(msg.reason, by="engineer", tell_peer=False)
        return []

    def _end(self, reason: str, *, by: str, tell_peer: bool) -> list[Effect]:
        self._state = "ended"
        effects: list[Effect] = [CloseMedia(reason)]
        if tell_peer:
            effects.append(Send(RtcHangup(reason=reason)))
        effects.append(Log("call.ended", {"by": by, "reason": reason}))
        return effects
