"""A Sans-I/O connection helper for one WebSocket (SPEC §1, §2, §7).

The one place for the connection rules of both ends: the broker's WebSocket loop
(``broker.ws``) and the agent's reader (``agent.session``) drive it. ``hello`` first
(and only once, SPEC §1), the handshake timeout, the message limits (the parsers of
:mod:`protocol.messages` / :mod:`protocol.media`), the rate limits (one
:class:`TokenBucket` per direction and kind) and the mapping of an error to a close
code and reason (SPEC §7, §10.5).

Feed it frames with the current time; read events and text frames to send.
It never raises for a peer's mistake: a fatal violation becomes a
:class:`ConnectionClosed` event (close code and reason, SPEC §7) and a final
``error`` message; a non-fatal one (``unknown_type``, ``invalid_field``)
becomes an :class:`ErrorToSend` event and an ``error`` message while the
connection stays open. Time is passed in; it never reads a clock::

    conn = Connection(now_ms=now, require_hello=True)
    conn.receive_text(frame, now_ms=now)
    for event in conn.events_received(): ...
    for text in conn.data_to_send(): await ws.send_str(text)
"""

from dataclasses import dataclass, field
from typing import Union

from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import (
    CONTROL_BURST,
    HANDSHAKE_TIMEOUT_S,
    MAX_CONTROL_RATE,
    MAX_HELLO_MESSAGE,
)
from protocol.media import BinaryMessage, parse_binary
from protocol.messages import ControlMessage, ErrorMessage, parse_control, serialize_control
from protocol.pacing import TokenBucket


@dataclass(frozen=True, slots=True)
class ControlReceived:
    """A valid control message arrived."""

    message: ControlMessage


@dataclass(frozen=True, slots=True)
class BinaryReceived:
    """A binary frame arrived (an ``UnknownBinary`` should be skipped)."""

    message: BinaryMessage


@dataclass(frozen=True, slots=True)
class ErrorToSend:
    """A non-fatal violation; an ``error`` message is queued, the connection stays open."""

    error: ProtocolError


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """A fatal violation: close the WebSocket with ``code`` and ``reason``."""

    code: int
    reason: str
    error: ProtocolError


Event = Union[ControlReceived, BinaryReceived, ErrorToSend, ConnectionClosed]  # noqa: UP007


@dataclass(slots=True)
class Connection:
    """Protocol state of one WebSocket connection (either side).

    With ``require_hello`` (the broker's side) the first frame must be a
    ``hello`` text frame, within ``HANDSHAKE_TIMEOUT_S`` (see :meth:`check_timeouts`),
    and a second ``hello`` is fatal (``unauthorized``, 4401; SPEC §1).
    ``rate``/``burst`` bound text frames (``None``: no limit, the agent's side reading
    its broker); ``binary_rate`` bounds binary frames the same way (the broker's
    ``/ws/viewer``: input batches and acks), burst ``2 × binary_rate``.
    """

    now_ms: int
    require_hello: bool = False
    rate: float | None = MAX_CONTROL_RATE
    burst: float = CONTROL_BURST
    binary_rate: float | None = None
    handshake_timeout_ms: int = HANDSHAKE_TIMEOUT_S * 1000
    hello_received: bool = False
    close_code: int | None = None
    close_reason: str | None = None
    _bucket: TokenBucket | None = field(init=False)
    _binary_bucket: TokenBucket | None = field(init=False)
    _events: list[Event] = field(default_factory=list, init=False)
    _outgoing: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._bucket = (
            None if self.rate is None else TokenBucket.full(self.rate, self.burst, self.now_ms)
        )
        self._binary_bucket = (
            None
            if self.binary_rate is None
            else TokenBucket.full(self.binary_rate, 2 * self.binary_rate, self.now_ms)
        )

    def handshake_time_left(self, now_ms: int) -> float | None:
        """Seconds until the ``hello`` is late (for the caller's read timeout);
        ``None`` once it has arrived or when none is required."""
        if not self.require_hello or self.hello_received or self.closed:
            return None
        return max(0.0, (self.now_ms + self.handshake_timeout_ms - now_ms) / 1000)

    @property
    def closed(self) -> bool:
        """Whether a fatal violation closed the connection (further input is ignored)."""
        return self.close_code is not None

    def receive_text(self, data: str | bytes, now_ms: int) -> None:
        """Feed one text frame (a control message, SPEC §3)."""
        if self.closed:
            return
        try:
            if self._bucket is not None and not self._bucket.take(now_ms):
                raise ProtocolError.of(ErrorCode.RATE_LIMITED, "over MAX_CONTROL_RATE")
            if self.require_hello and not self.hello_received and _size(data) > MAX_HELLO_MESSAGE:
                raise ProtocolError.of(
                    ErrorCode.TOO_LARGE, "frame before hello over MAX_HELLO_MESSAGE"
                )
            try:
                message = parse_control(data)
            except ProtocolError as exc:
                if self.require_hello and not self.hello_received:
                    raise ProtocolError.of(
                        ErrorCode.UNAUTHORIZED, f"hello must come first ({exc.code})"
                    ) from exc
                raise
            if self.require_hello and not self.hello_received:
                if message.type != "hello":
                    raise ProtocolError.of(ErrorCode.UNAUTHORIZED, "hello must come first")
                self.hello_received = True
            elif message.type == "hello" and self.require_hello:
                raise ProtocolError.of(ErrorCode.UNAUTHORIZED, "second hello (SPEC §1)")
        except ProtocolError as exc:
            self._fail(exc)
            return
        self._events.append(ControlReceived(message))

    def receive_binary(self, data: bytes | bytearray | memoryview, now_ms: int) -> None:
        """Feed one binary frame (SPEC §4); the payload is not copied."""
        if self.closed:
            return
        try:
            if self.require_hello and not self.hello_received:
                raise ProtocolError.of(ErrorCode.UNAUTHORIZED, "hello must come first")
            if self._binary_bucket is not None and not self._binary_bucket.take(now_ms):
                raise ProtocolError.of(ErrorCode.RATE_LIMITED, "too many binary frames")
            message = parse_binary(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        self._events.append(BinaryReceived(message))

    def check_timeouts(self, now_ms: int) -> None:
        """Close with ``unauthorized`` if ``hello`` is late (SPEC §1)."""
        if self.closed or not self.require_hello or self.hello_received:
            return
        if now_ms - self.now_ms >= self.handshake_timeout_ms:
            self._fail(ProtocolError.of(ErrorCode.UNAUTHORIZED, "no hello in time"))

    def fail(self, error: ProtocolError) -> None:
        """Report a violation found by the caller (e.g. ``wrong_state`` from the machine)."""
        if not self.closed:
            self._fail(error)

    def events_received(self) -> list[Event]:
        """Return and clear the events produced since the last call."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[str]:
        """Return and clear the text frames (``error`` messages) to send."""
        out, self._outgoing = self._outgoing, []
        return out

    def _fail(self, error: ProtocolError) -> None:
        self._outgoing.append(
            serialize_control(ErrorMessage(code=error.code, message=error.message[:1000]))
        )
        if error.close_code is None:
            self._events.append(ErrorToSend(error))
            return
        self.close_code = error.close_code
        self.close_reason = error.code
        self._events.append(ConnectionClosed(error.close_code, error.code, error))


def _size(data: str | bytes) -> int:
    """Bytes of a text frame (UTF-8 for a ``str``)."""
    return len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
