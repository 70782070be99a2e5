"""Control message dataclasses (SPEC §3), one per ``type``.

Every class is frozen and slotted, with a ``Literal`` ``type`` tag so that
``if msg.type == "chat":`` narrows a :data:`ControlMessage`. Field metadata
holds the codec that validates the JSON value (see ``_codec``). Binary values
(keys, wrapped keys) are ``bytes`` here and base64url without padding on the wire.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

from protocol.limits import (
    MAX_CANDIDATE_CHARS,
    MAX_CHAT_CHARS,
    MAX_COMMENT_CHARS,
    MAX_MASK_REGIONS,
    MAX_NOTE_CHARS,
    MAX_PEM_CHARS,
    MAX_RESOLUTION_CHARS,
    MAX_SDP_CHARS,
    MAX_SHORT_TEXT_CHARS,
    MAX_TOKEN_CHARS,
    MAX_U32,
    MAX_U64,
    MAX_VIEWERS,
)
from protocol.messages._codec import (
    EVENT_NAME_RE,
    HEX_SHA256_RE,
    IDENTIFIER_RE,
    B64u,
    Bool,
    Int,
    JsonObj,
    ListOf,
    Nested,
    OneOf,
    Pattern,
    Perms,
    Text,
    meta,
)
from protocol.state import END_REASONS, PERMISSIONS, STATES

MAX_ERROR_MESSAGE_CHARS = 1_000
MAX_VIDEO_CODECS = 8

Permission = Literal["view", "control", "video"]
Role = Literal["agent", "engineer", "observer"]

_ID = Pattern(IDENTIFIER_RE, "an identifier ([A-Za-z0-9_.:-], ≤ 64 chars)")
_SHORT = Text(MAX_SHORT_TEXT_CHARS)
_TIME = Int(0, MAX_U64)
_EPOCH = Int(1, MAX_U32)
_STATE = OneOf(STATES)
_END_REASON = OneOf(END_REASONS)
_PERMS = Perms(PERMISSIONS, allow_empty=False)
_PERMS_OR_EMPTY = Perms(PERMISSIONS, allow_empty=True)
_KEY32 = B64u(32)
_WRAPPED = B64u(48)  # AES-256-GCM of a 32-byte key: 32 + 16-byte tag (SPEC §8.2)


# --- nested objects -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ticket:
    """``{"id", "title"}`` of the session's ticket."""

    id: str = field(metadata=meta(_ID))
    title: str = field(metadata=meta(_SHORT))


@dataclass(frozen=True, slots=True)
class User:
    """``{"id", "name", "role"}`` of a staff user, verified by the broker."""

    id: str = field(metadata=meta(_ID))
    name: str = field(metadata=meta(_SHORT))
    role: str = field(metadata=meta(_ID))


@dataclass(frozen=True, slots=True)
class ViewerInfo:
    """One viewer of ``session.state``."""

    viewer_id: str = field(metadata=meta(_ID))
    name: str = field(metadata=meta(_SHORT))
    role: str = field(metadata=meta(OneOf(frozenset({"engineer", "observer"}))))
    permissions: tuple[str, ...] = field(metadata=meta(_PERMS_OR_EMPTY))


@dataclass(frozen=True, slots=True)
class ChatFrom:
    """``chat.from``, added by the broker: who wrote the message."""

    kind: str = field(metadata=meta(OneOf(frozenset({"agent", "viewer"}))))
    name: str = field(metadata=meta(_SHORT))
    viewer_id: str | None = field(default=None, metadata=meta(_ID))


# --- 3.1 connection -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """SPEC §3.1: first message on either endpoint, A→B / V→B."""

    token: str = field(metadata=meta(Text(MAX_TOKEN_CHARS, min_chars=1, kind="token")))
    client: str = field(metadata=meta(_SHORT))
    # agents only (SPEC §3.1, issue 13): the last session-log seq the agent holds; the
    # broker re-sends every later record right after the welcome, before anything new.
    log_seq: int | None = field(default=None, metadata=meta(_TIME, omit_none=True))
    type: Literal["hello"] = field(default="hello", init=False)


@dataclass(frozen=True, slots=True)
class Welcome:
    """SPEC §3.1: B→A / B→V answer to ``hello``."""

    session_id: str = field(metadata=meta(_ID))
    ticket: Ticket = field(metadata=meta(Nested(Ticket)))
    role: str = field(metadata=meta(OneOf(frozenset({"agent", "engineer", "observer"}))))
    state: str = field(metadata=meta(_STATE))
    server_time_ms: int = field(metadata=meta(_TIME))
    viewer_id: str | None = field(default=None, metadata=meta(_ID, omit_none=True))
    resume_token: str | None = field(
        default=None, metadata=meta(Text(MAX_TOKEN_CHARS, kind="token"), omit_none=True)
    )
    type: Literal["welcome"] = field(default="welcome", init=False)


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """SPEC §3.1 ``error``: a stable code (§7) and a message for people."""

    code: str = field(metadata=meta(_ID))
    message: str = field(metadata=meta(Text(MAX_ERROR_MESSAGE_CHARS)))
    type: Literal["error"] = field(default="error", init=False)


# --- 3.2 session state --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionStateMessage:
    """SPEC §3.2 ``session.state``, B→A / B→V."""

    state: str = field(metadata=meta(_STATE))
    viewers: tuple[ViewerInfo, ...] = field(
        default=(), metadata=meta(ListOf(Nested(ViewerInfo), MAX_VIEWERS))
    )
    reason: str | None = field(default=None, metadata=meta(_END_REASON, omit_none=True))
    type: Literal["session.state"] = field(default="session.state", init=False)


@dataclass(frozen=True, slots=True)
class ViewerJoined:
    """SPEC §3.2, B→A: a viewer joined (user verified by the broker)."""

    viewer_id: str = field(metadata=meta(_ID))
    user: User = field(metadata=meta(Nested(User)))
    type: Literal["viewer.joined"] = field(default="viewer.joined", init=False)


@dataclass(frozen=True, slots=True)
class ViewerLeft:
    """SPEC §3.2, B→A / B→V."""

    viewer_id: str = field(metadata=meta(_ID))
    reason: str = field(metadata=meta(_ID))
    type: Literal["viewer.left"] = field(default="viewer.left", init=False)


# --- 3.3 consent --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PermissionRequest:
    """SPEC §3.3, V→B: the viewer asks for permissions."""

    permissions: tuple[str, ...] = field(metadata=meta(_PERMS))
    note: str | None = field(
        default=None, metadata=meta(Text(MAX_NOTE_CHARS, kind="note"), omit_none=True)
    )
    type: Literal["permission.request"] = field(default="permission.request", init=False)


@dataclass(frozen=True, slots=True)
class PermissionRelease:
    """SPEC §3.3, V→B→A: the viewer gives permissions back."""

    permissions: tuple[str, ...] = field(metadata=meta(_PERMS))
    viewer_id: str | None = field(default=None, metadata=meta(_ID, omit_none=True))
    type: Literal["permission.release"] = field(default="permission.release", init=False)


@dataclass(frozen=True, slots=True)
class Handover:
    """SPEC §3.3: why a second engineer is asking — ``kind`` ``transfer`` (``by`` hands
    the session over: on a grant ``by`` leaves) or ``invite`` (``by`` asks a colleague in)."""

    kind: str = field(metadata=meta(OneOf(frozenset({"transfer", "invite"}))))
    by: User = field(metadata=meta(Nested(User)))


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """SPEC §3.3, B→A: prompt the client."""

    request_id: str = field(metadata=meta(_ID))
    viewer_id: str = field(metadata=meta(_ID))
    user: User = field(metadata=meta(Nested(User)))
    ticket: Ticket = field(metadata=meta(Nested(Ticket)))
    permissions: tuple[str, ...] = field(metadata=meta(_PERMS))
    expires_ms: int = field(metadata=meta(_TIME))
    handover: Handover | None = field(default=None, metadata=meta(Nested(Handover), omit_none=True))
    type: Literal["consent.request"] = field(default="consent.request", init=False)


@dataclass(frozen=True, slots=True)
class ConsentGrant:
    """SPEC §3.3, A→B→V: the granted subset."""

    request_id: str = field(metadata=meta(_ID))
    viewer_id: str = field(metadata=meta(_ID))
    permissions: tuple[str, ...] = field(metadata=meta(_PERMS))
    type: Literal["consent.grant"] = field(default="consent.grant", init=False)


@dataclass(frozen=True, slots=True)
class ConsentDeny:
    """SPEC §3.3, A→B→V (also the answer to a timed-out prompt)."""

    request_id: str = field(metadata=meta(_ID))
    viewer_id: str = field(metadata=meta(_ID))
    permissions: tuple[str, ...] = field(metadata=meta(_PERMS))
    type: Literal["consent.deny"] = field(default="consent.deny", init=False)


@dataclass(frozen=True, slots=True)
class ConsentRevoke:
    """SPEC §3.3, A→B→V."""

    viewer_id: str = field(metadata=meta(_ID))
    permissions: tuple[str, ...] = field(metadata=meta(_PERMS))
    type: Literal["consent.revoke"] = field(default="consent.revoke", init=False)


# --- 3.4 keys -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyCommit:
    """SPEC §3.4 / §8.1 step 1, V→B→A; ``viewer_id`` added by the broker."""

    commitment: bytes = field(metadata=meta(_KEY32))
    viewer_id: str | None = field(default=None, metadata=meta(_ID, omit_none=True))
    video_codecs: tuple[str, ...] | None = field(
        default=None, metadata=meta(ListOf(_ID, MAX_VIDEO_CODECS), omit_none=True)
    )
    """Video codecs the viewer decodes (SPEC §3.4, §4.4), e.g. ``("vp9", "h264")``;
    absent = the tile path only. Unknown names are ignored by the agent."""
    type: Literal["key.commit"] = field(default="key.commit", init=False)


@dataclass(frozen=True, slots=True)
class KeyAgent:
    """SPEC §3.4 / §8.1 step 2, A→B→V."""

    viewer_id: str = field(metadata=meta(_ID))
    agent_public: bytes = field(metadata=meta(_KEY32))
    type: Literal["key.agent"] = field(default="key.agent", init=False)


@dataclass(frozen=True, slots=True)
class KeyReveal:
    """SPEC §3.4 / §8.1 step 3, V→B→A; ``viewer_id`` added by the broker."""

    viewer_public: bytes = field(metadata=meta(_KEY32))
    viewer_id: str | None = field(default=None, metadata=meta(_ID, omit_none=True))
    type: Literal["key.reveal"] = field(default="key.reveal", init=False)


@dataclass(frozen=True, slots=True)
class KeyWrap:
    """SPEC §3.4 / §8.2, A→B→V: the epoch's content key wrapped for one viewer."""

    viewer_id: str = field(metadata=meta(_ID))
    epoch: int = field(metadata=meta(_EPOCH))
    wrapped_key: bytes = field(metadata=meta(_WRAPPED))
    type: Literal["key.wrap"] = field(default="key.wrap", init=False)


@dataclass(frozen=True, slots=True)
class KeyAudit:
    """SPEC §3.4 / §8.2, A→B: the content key wrapped for the audit recipient."""

    epoch: int = field(metadata=meta(_EPOCH))
    ephemeral_public: bytes = field(metadata=meta(_KEY32))
    wrapped_key: bytes = field(metadata=meta(_WRAPPED))
    recipient_fingerprint: str = field(metadata=meta(Pattern(HEX_SHA256_RE, "lowercase hex")))
    type: Literal["key.audit"] = field(default="key.audit", init=False)


@dataclass(frozen=True, slots=True)
class AuditRecipient:
    """SPEC §3.4, B→A: PEM of the audit-recipient certificate."""

    certificate: str = field(metadata=meta(Text(MAX_PEM_CHARS, min_chars=1, kind="pem")))
    type: Literal["audit.recipient"] = field(default="audit.recipient", init=False)


# --- 3.5 live session ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pause:
    """SPEC §3.5, A→B→V."""

    type: Literal["pause"] = field(default="pause", init=False)


@dataclass(frozen=True, slots=True)
class Resume:
    """SPEC §3.5, A→B→V."""

    type: Literal["resume"] = field(default="resume", init=False)


RECORDING_STATES = ("on", "paused", "off")


@dataclass(frozen=True, slots=True)
class RecordingState:
    """SPEC §3.5, B→A / B→V: the recording stopped or works again (G10, fail closed).

    ``paused``: the recording cannot be written, so no screen update is relayed until
    it can; ``on``: it works again (``since_ms`` = when it stopped; a FULL update
    follows); ``off``: it cannot be written and the organisation allows unrecorded
    sessions, so updates go on, unrecorded."""

    state: str = field(metadata=meta(OneOf(frozenset(RECORDING_STATES))))
    reason: str | None = field(default=None, metadata=meta(_ID, omit_none=True))
    since_ms: int | None = field(default=None, metadata=meta(_TIME, omit_none=True))
    type: Literal["recording.state"] = field(default="recording.state", init=False)


@dataclass(frozen=True, slots=True)
class QueuePosition:
    """SPEC §3.2, B→A: the waiting client's place in line, pushed whenever it changes
    (a request ahead was answered or withdrawn, a new one with an earlier deadline
    came in): ``position`` (1 = next), ``expected_wait_s`` (the broker's estimate from
    the recent answer rate; absent when it has none) and ``answer_by_ms`` (the SLA
    deadline: an engineer answers by then at the latest)."""

    position: int = field(metadata=meta(Int(1, MAX_U32)))
    expected_wait_s: int | None = field(
        default=None, metadata=meta(Int(0, MAX_U32), omit_none=True)
    )
    answer_by_ms: int | None = field(default=None, metadata=meta(_TIME, omit_none=True))
    type: Literal["queue.position"] = field(default="queue.position", init=False)


@dataclass(frozen=True, slots=True)
class MaskUpdate:
    """SPEC §3.5, A→B→V: counts only, never window titles."""

    regions: int = field(metadata=meta(Int(0, MAX_MASK_REGIONS)))
    windows: int = field(metadata=meta(Int(0, MAX_MASK_REGIONS)))
    type: Literal["mask.update"] = field(default="mask.update", init=False)


@dataclass(frozen=True, slots=True)
class Refresh:
    """SPEC §3.5, V→B→A: ask for a FULL update."""

    type: Literal["refresh"] = field(default="refresh", init=False)


@dataclass(frozen=True, slots=True)
class Chat:
    """SPEC §3.5; ``from`` and ``at_ms`` are added by the broker."""

    text: str = field(metadata=meta(Text(MAX_CHAT_CHARS, min_chars=1, kind="chat")))
    from_: ChatFrom | None = field(
        default=None, metadata=meta(Nested(ChatFrom), key="from", omit_none=True)
    )
    at_ms: int | None = field(default=None, metadata=meta(_TIME, omit_none=True))
    type: Literal["chat"] = field(default="chat", init=False)


_RECORD_KEYS = ("seq", "at_ms", "event", "actor", "detail", "prev", "hash")
_CHECKPOINT_KEYS = ("session_id", "seq", "hash", "at_ms", "key_id", "signature")


@dataclass(frozen=True, slots=True)
class LogEvent:
    """SPEC §3.5, B→A / B→V: one audit record (§9) as JSON."""

    record: dict[str, Any] = field(metadata=meta(JsonObj(_RECORD_KEYS)))
    type: Literal["log.event"] = field(default="log.event", init=False)


@dataclass(frozen=True, slots=True)
class LogLocal:
    """SPEC §3.5, A→B: an agent-side action; ``detail`` is a flat object of short scalars."""

    event: str = field(metadata=meta(Pattern(EVENT_NAME_RE, "a dotted event name")))
    detail: dict[str, Any] = field(metadata=meta(JsonObj(flat=True, max_keys=16, max_str=64)))
    type: Literal["log.local"] = field(default="log.local", init=False)


@dataclass(frozen=True, slots=True)
class CheckpointMessage:
    """SPEC §3.5, B→A: a signed checkpoint (§9) as JSON."""

    checkpoint: dict[str, Any] = field(metadata=meta(JsonObj(_CHECKPOINT_KEYS)))
    type: Literal["checkpoint"] = field(default="checkpoint", init=False)


@dataclass(frozen=True, slots=True)
class Rating:
    """SPEC §3.5, A→B: the client's rating of the help."""

    score: int = field(metadata=meta(Int(1, 5)))
    comment: str = field(default="", metadata=meta(Text(MAX_COMMENT_CHARS, kind="comment")))
    type: Literal["rating"] = field(default="rating", init=False)


# --- 3.6 video call signalling -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallRequest:
    """SPEC §3.6, V→B→A: ask the client to start a call."""

    type: Literal["call.request"] = field(default="call.request", init=False)


@dataclass(frozen=True, slots=True)
class CallStart:
    """SPEC §3.6, A→B→V: the client started the call."""

    type: Literal["call.start"] = field(default="call.start", init=False)


_SDP = Text(MAX_SDP_CHARS, min_chars=1, kind="sdp")


@dataclass(frozen=True, slots=True)
class RtcOffer:
    """SPEC §3.6, A↔V via B."""

    sdp: str = field(metadata=meta(_SDP))
    type: Literal["rtc.offer"] = field(default="rtc.offer", init=False)


@dataclass(frozen=True, slots=True)
class RtcAnswer:
    """SPEC §3.6, A↔V via B."""

    sdp: str = field(metadata=meta(_SDP))
    type: Literal["rtc.answer"] = field(default="rtc.answer", init=False)


@dataclass(frozen=True, slots=True)
class RtcCandidate:
    """SPEC §3.6, A↔V via B; ``candidate`` may be "" (end of candidates)."""

    candidate: str = field(metadata=meta(Text(MAX_CANDIDATE_CHARS, kind="sdp")))
    sdp_mid: str | None = field(metadata=meta(Text(64), nullable=True))
    sdp_mline_index: int | None = field(metadata=meta(Int(0, 0xFFFF), nullable=True))
    type: Literal["rtc.candidate"] = field(default="rtc.candidate", init=False)


@dataclass(frozen=True, slots=True)
class RtcMute:
    """SPEC §3.6, A↔V via B."""

    audio: bool = field(metadata=meta(Bool()))
    video: bool = field(metadata=meta(Bool()))
    type: Literal["rtc.mute"] = field(default="rtc.mute", init=False)


@dataclass(frozen=True, slots=True)
class RtcHangup:
    """SPEC §3.6, A↔V via B; ``reason`` is an identifier."""

    reason: str = field(metadata=meta(_ID))
    type: Literal["rtc.hangup"] = field(default="rtc.hangup", init=False)


# --- 3.7 ending ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kill:
    """SPEC §3.7, A→B: the client pressed the kill switch."""

    type: Literal["kill"] = field(default="kill", init=False)


@dataclass(frozen=True, slots=True)
class End:
    """SPEC §3.7, V→B: the engineer ends the session with a resolution note."""

    resolution: str = field(
        default="", metadata=meta(Text(MAX_RESOLUTION_CHARS, kind="resolution"))
    )
    type: Literal["end"] = field(default="end", init=False)


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """SPEC §3.7, B→A / B→V."""

    reason: str = field(metadata=meta(_END_REASON))
    by: str = field(metadata=meta(_SHORT))
    type: Literal["session.ended"] = field(default="session.ended", init=False)
