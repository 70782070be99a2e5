"""Control messages (SPEC §3): typed dataclasses and the JSON codec.

:func:`parse_control` turns one text frame into a :data:`ControlMessage`,
validating every field, or raises :class:`protocol.errors.ProtocolError` with
``malformed_json``, ``too_large``, ``unknown_type`` or ``invalid_field``.
:func:`serialize_control` is its inverse (compact JSON).
"""

import json
import re
import typing
from typing import Any, Final, Union

from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import MAX_TEXT_MESSAGE
from protocol.messages._codec import b64u_encode, decode_object, encode_object
from protocol.messages.desktop import (
    DesktopCapabilities,
    DesktopInfo,
    MonitorSelect,
    ScreenMonitor,
)
from protocol.messages.types import (
    AuditRecipient,
    CallRequest,
    CallStart,
    Chat,
    ChatFrom,
    CheckpointMessage,
    ConsentDeny,
    ConsentGrant,
    ConsentRequest,
    ConsentRevoke,
    End,
    ErrorMessage,
    Handover,
    Hello,
    KeyAgent,
    KeyAudit,
    KeyCommit,
    KeyReveal,
    KeyWrap,
    Kill,
    LogEvent,
    LogLocal,
    MaskUpdate,
    Pause,
    Permission,
    PermissionRelease,
    PermissionRequest,
    QueuePosition,
    Rating,
    RecordingState,
    Refresh,
    Resume,
    Role,
    RtcAnswer,
    RtcCandidate,
    RtcHangup,
    RtcMute,
    RtcOffer,
    SessionEnded,
    SessionStateMessage,
    Ticket,
    User,
    ViewerInfo,
    ViewerJoined,
    ViewerLeft,
    Welcome,
)

ControlMessage = Union[  # noqa: UP007 - a runtime alias that get_args() can walk
    Hello,
    Welcome,
    ErrorMessage,
    SessionStateMessage,
    ViewerJoined,
    ViewerLeft,
    QueuePosition,
    PermissionRequest,
    PermissionRelease,
    ConsentRequest,
    ConsentGrant,
    ConsentDeny,
    ConsentRevoke,
    KeyCommit,
    KeyAgent,
    KeyReveal,
    KeyWrap,
    KeyAudit,
    AuditRecipient,
    Pause,
    Resume,
    MaskUpdate,
    RecordingState,
    Refresh,
    DesktopInfo,
    MonitorSelect,
    Chat,
    LogEvent,
    LogLocal,
    CheckpointMessage,
    Rating,
    CallRequest,
    CallStart,
    RtcOffer,
    RtcAnswer,
    RtcCandidate,
    RtcMute,
    RtcHangup,
    Kill,
    End,
    SessionEnded,
]
"""Any control message; narrow it with ``msg.type == "..."``."""

MESSAGE_TYPES: Final[dict[str, type[Any]]] = {
    cls.__dataclass_fields__["type"].default: cls for cls in typing.get_args(ControlMessage)
}
"""``type`` tag → dataclass, for every control message of SPEC §3."""


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _lone_surrogate(value: Any, path: str) -> str | None:
    """The path of the first string holding a lone surrogate (``"\\ud800"``), if any.

    ``json`` joins escaped surrogate *pairs*, so any surrogate left is lone: not a
    Unicode scalar value, not encodable as UTF-8 (SPEC §3: strings are UTF-8).
    """
    if isinstance(value, str):
        return None if value.isascii() or not _SURROGATE.search(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            where = _lone_surrogate(key, f"{path}.<key>") or _lone_surrogate(item, f"{path}.{key}")
            if where is not None:
                return where
    elif isinstance(value, list):
        for i, item in enumerate(value):
            where = _lone_surrogate(item, f"{path}[{i}]")
            if where is not None:
                return where
    return None


def parse_control(data: str | bytes) -> ControlMessage:
    """Parse and validate one control message (SPEC §3).

    Raises :class:`ProtocolError`: ``too_large`` over ``MAX_TEXT_MESSAGE``,
    ``malformed_json`` if not a JSON object with a string ``type``,
    ``unknown_type``, or ``invalid_field`` naming the first bad field.
    Unknown fields are ignored.
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_TEXT_MESSAGE:
        raise ProtocolError.of(ErrorCode.TOO_LARGE, f"control message of {size} bytes")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        obj = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError.of(ErrorCode.MALFORMED_JSON, "not valid JSON") from exc
    if not isinstance(obj, dict):
        raise ProtocolError.of(ErrorCode.MALFORMED_JSON, "not a JSON object")
    if "\\u" in text or not isinstance(data, bytes):
        where = _lone_surrogate(obj, "$")
        if where is not None:  # would crash whoever encodes it for the wire later
            raise ProtocolError.of(ErrorCode.INVALID_FIELD, f"{where[:80]}: not valid Unicode")
    tag = obj.get("type")
    if not isinstance(tag, str):
        raise ProtocolError.of(ErrorCode.MALFORMED_JSON, "no string type")
    cls = MESSAGE_TYPES.get(tag)
    if cls is None:
        raise ProtocolError.of(ErrorCode.UNKNOWN_TYPE, f"unknown type {tag[:64]!r}")
    msg: ControlMessage = decode_object(cls, obj, tag)
    return msg


def serialize_control(msg: ControlMessage) -> str:
    """Compact JSON of ``msg`` (``type`` first, optional ``None`` fields left out)."""
    obj = encode_object(msg)
    obj = {"type": obj.pop("type"), **obj}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def to_json_object(msg: ControlMessage) -> dict[str, Any]:
    """The JSON object of ``msg`` (what :func:`serialize_control` dumps)."""
    obj = encode_object(msg)
    return {"type": obj.pop("type"), **obj}


__all__ = [
    "MESSAGE_TYPES",
    "AuditRecipient",
    "CallRequest",
    "CallStart",
    "Chat",
    "ChatFrom",
    "CheckpointMessage",
    "ConsentDeny",
    "ConsentGrant",
    "ConsentRequest",
    "ConsentRevoke",
    "ControlMessage",
    "DesktopCapabilities",
    "DesktopInfo",
    "End",
    "ErrorMessage",
    "Handover",
    "Hello",
    "KeyAgent",
    "KeyAudit",
    "KeyCommit",
    "KeyReveal",
    "KeyWrap",
    "Kill",
    "LogEvent",
    "LogLocal",
    "MaskUpdate",
    "MonitorSelect",
    "Pause",
    "Permission",
    "PermissionRelease",
    "PermissionRequest",
    "QueuePosition",
    "Rating",
    "RecordingState",
    "Refresh",
    "Resume",
    "Role",
    "RtcAnswer",
    "RtcCandidate",
    "RtcHangup",
    "RtcMute",
    "RtcOffer",
    "ScreenMonitor",
    "SessionEnded",
    "SessionStateMessage",
    "Ticket",
    "User",
    "ViewerInfo",
    "ViewerJoined",
    "ViewerLeft",
    "Welcome",
    "b64u_encode",
    "parse_control",
    "serialize_control",
    "to_json_object",
]
