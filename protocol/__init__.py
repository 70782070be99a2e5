"""Clearpane wire protocol core (Sans-I/O).

Owns the message types, their text and binary codecs, the limits, the session
state machine and the end-to-end crypto (``protocol.e2e``). It imports no
asyncio, no sockets, no ssl: callers feed it bytes and time and get events and
bytes back. The contract is ``protocol/SPEC.md``; modules cite its sections.

- :mod:`protocol.limits` — SPEC §2 constants.
- :mod:`protocol.errors` — :class:`ProtocolError` and the SPEC §7 codes.
- :mod:`protocol.messages` — control messages (§3): dataclasses,
  :func:`parse_control`, :func:`serialize_control`.
- :mod:`protocol.media` — binary frames (§4) and screen/input payloads.
- :mod:`protocol.state` — :class:`SessionMachine` (§5) and :func:`allowed`.
- :mod:`protocol.connection` — :class:`Connection`: frames + time in, events out,
  the connection rules of both ends (hello, limits, rate limits, close reasons).
- :mod:`protocol.pacing` — the one :class:`TokenBucket` and the one :func:`backoff_s`.
"""

from protocol.connection import (
    BinaryReceived,
    Connection,
    ConnectionClosed,
    ControlReceived,
    ErrorToSend,
    Event,
)
from protocol.errors import ErrorCode, ProtocolError
from protocol.media import (
    AckFrame,
    BinaryMessage,
    ButtonDown,
    ButtonUp,
    EncodedImage,
    InputBatch,
    InputEvent,
    InputFrame,
    KeyDown,
    KeyUp,
    PointerMove,
    Rect,
    ScreenUpdate,
    ScreenUpdateFrame,
    UnknownBinary,
    Wheel,
    parse_binary,
)
from protocol.messages import ControlMessage, parse_control, serialize_control
from protocol.pacing import TokenBucket, backoff_s
from protocol.state import (
    EndReason,
    SessionEvent,
    SessionMachine,
    SessionState,
    Transition,
    allowed,
    check_allowed,
)

SUBPROTOCOL = "clearpane.v1"
"""The WebSocket subprotocol (SPEC §1)."""

__all__ = [
    "SUBPROTOCOL",
    "AckFrame",
    "BinaryMessage",
    "BinaryReceived",
    "ButtonDown",
    "ButtonUp",
    "Connection",
    "ConnectionClosed",
    "ControlMessage",
    "ControlReceived",
    "EncodedImage",
    "EndReason",
    "ErrorCode",
    "ErrorToSend",
    "Event",
    "InputBatch",
    "InputEvent",
    "InputFrame",
    "KeyDown",
    "KeyUp",
    "PointerMove",
    "ProtocolError",
    "Rect",
    "ScreenUpdate",
    "ScreenUpdateFrame",
    "SessionEvent",
    "SessionMachine",
    "SessionState",
    "TokenBucket",
    "Transition",
    "UnknownBinary",
    "Wheel",
    "allowed",
    "backoff_s",
    "check_allowed",
    "parse_binary",
    "parse_control",
    "serialize_control",
]
