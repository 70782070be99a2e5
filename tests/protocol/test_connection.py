"""Sans-I/O connection helper: events, non-fatal errors, close reasons, rate limit."""

import json

from protocol.connection import (
    BinaryReceived,
    Connection,
    ConnectionClosed,
    ControlReceived,
    ErrorToSend,
)
from protocol.limits import CONTROL_BURST, HANDSHAKE_TIMEOUT_S, MAX_CONTROL_RATE
from protocol.media import AckFrame, UnknownBinary
from protocol.messages import Chat, Hello, parse_control, serialize_control
from protocol.pacing import TokenBucket

HELLO = serialize_control(Hello("tok", "clearpane-agent/0.1"))
CHAT = serialize_control(Chat("hi"))


def test_control_and_binary_events() -> None:
    conn = Connection(now_ms=0)
    conn.receive_text(CHAT, now_ms=1)
    conn.receive_binary(bytes(AckFrame(5)), now_ms=2)
    conn.receive_binary(b"\x42zz", now_ms=3)
    assert conn.events_received() == [
        ControlReceived(Chat("hi")),
        BinaryReceived(AckFrame(5)),
        BinaryReceived(UnknownBinary(0x42, b"zz")),
    ]
    assert conn.events_received() == []
    assert conn.data_to_send() == []


def test_non_fatal_error_keeps_the_connection_open() -> None:
    conn = Connection(now_ms=0)
    conn.receive_text('{"type":"teleport"}', now_ms=1)
    conn.receive_text(CHAT, now_ms=2)
    events = conn.events_received()
    assert isinstance(events[0], ErrorToSend) and events[0].error.code == "unknown_type"
    assert events[1] == ControlReceived(Chat("hi"))
    (sent,) = conn.data_to_send()
    error = parse_control(sent)
    assert error.type == "error" and error.code == "unknown_type"
    assert not conn.closed


def test_fatal_error_closes_with_the_spec_code() -> None:
    conn = Connection(now_ms=0)
    conn.receive_text("not json", now_ms=1)
    (event,) = conn.events_received()
    assert isinstance(event, ConnectionClosed)
    assert (event.code, event.reason) == (4400, "malformed_json")
    assert conn.closed and conn.close_code == 4400
    conn.receive_text(CHAT, now_ms=2)  # ignored once closed
    assert conn.events_received() == []
    conn.receive_binary(b"\x01", now_ms=3)
    assert conn.events_received() == []


def test_binary_violation_closes() -> None:
    conn = Connection(now_ms=0)
    conn.receive_binary(b"\x03\x00", now_ms=1)
    (event,) = conn.events_received()
    assert isinstance(event, ConnectionClosed) and event.reason == "malformed_binary"


def test_hello_must_come_first() -> None:
    conn = Connection(now_ms=0, require_hello=True)
    conn.receive_text(CHAT, now_ms=1)
    (event,) = conn.events_received()
    assert isinstance(event, ConnectionClosed) and event.code == 4401
    conn = Connection(now_ms=0, require_hello=True)
    conn.receive_binary(bytes(AckFrame(1)), now_ms=1)
    assert conn.close_code == 4401
    conn = Connection(now_ms=0, require_hello=True)
    conn.receive_text(HELLO, now_ms=1)
    conn.receive_text(CHAT, now_ms=2)
    assert [type(e) for e in conn.events_received()] == [ControlReceived, ControlReceived]
    conn.receive_text(HELLO, now_ms=3)
    assert conn.close_code == 4401


def test_handshake_timeout() -> None:
    conn = Connection(now_ms=1_000, require_hello=True)
    conn.check_timeouts(1_000 + HANDSHAKE_TIMEOUT_S * 1000 - 1)
    assert not conn.closed
    conn.check_timeouts(1_000 + HANDSHAKE_TIMEOUT_S * 1000)
    assert conn.close_code == 4401
    late = Connection(now_ms=0, require_hello=True)
    late.receive_text(HELLO, now_ms=5)
    late.check_timeouts(10**9)
    assert not late.closed


def test_rate_limit_burst_then_rate() -> None:
    conn = Connection(now_ms=0)
    for _ in range(CONTROL_BURST):
        conn.receive_text(CHAT, now_ms=0)
    assert not conn.closed
    conn.receive_text(CHAT, now_ms=0)
    events = conn.events_received()
    assert len(events) == CONTROL_BURST + 1
    last = events[-1]
    assert isinstance(last, ConnectionClosed) and (last.code, last.reason) == (4429, "rate_limited")
    assert json.loads(conn.data_to_send()[-1])["code"] == "rate_limited"


def test_sustained_rate_is_allowed() -> None:
    conn = Connection(now_ms=0)
    interval = 1000 // MAX_CONTROL_RATE
    for i in range(CONTROL_BURST * 5):
        conn.receive_text(CHAT, now_ms=i * interval)
    assert not conn.closed


def test_token_bucket_refills_with_passed_time_only() -> None:
    bucket = TokenBucket.full(rate=10, burst=2, now_ms=0)
    assert bucket.take(0) and bucket.take(0) and not bucket.take(0)
    assert not bucket.take(50)  # half a token
    assert bucket.take(100)
    assert not bucket.take(90)  # time going backwards adds nothing
    assert bucket.take(10_000) and bucket.take(10_000) and not bucket.take(10_000)


def test_caller_reported_error() -> None:
    from protocol.errors import ErrorCode, ProtocolError

    conn = Connection(now_ms=0)
    conn.fail(ProtocolError.of(ErrorCode.WRONG_STATE, "pause while paused"))
    assert not conn.closed
    conn.fail(ProtocolError.of(ErrorCode.SESSION_ENDED, "killed"))
    assert conn.close_code == 4000
    assert [json.loads(t)["code"] for t in conn.data_to_send()] == ["wrong_state", "session_ended"]


def test_binary_rate_limit_is_its_own_bucket() -> None:
    conn = Connection(now_ms=0, binary_rate=5)  # burst 10
    for _ in range(10):
        conn.receive_binary(bytes(AckFrame(1)), now_ms=0)
    conn.receive_text(CHAT, now_ms=0)  # text has its own bucket
    assert not conn.closed
    conn.receive_binary(bytes(AckFrame(1)), now_ms=0)
    assert (conn.close_code, conn.close_reason) == (4429, "rate_limited")


def test_no_rate_limit_when_rate_is_none() -> None:
    conn = Connection(now_ms=0, rate=None)
    for _ in range(CONTROL_BURST * 3):
        conn.receive_text(CHAT, now_ms=0)
    assert not conn.closed


def test_second_hello_is_fatal_spec_1() -> None:
    """SPEC §1: ``hello`` comes once; a second one closes with 4401 (either endpoint)."""
    conn = Connection(now_ms=0, require_hello=True)
    conn.receive_text(HELLO, now_ms=1)
    conn.receive_text(HELLO, now_ms=2)
    events = conn.events_received()
    assert isinstance(events[-1], ConnectionClosed)
    assert (events[-1].code, events[-1].reason) == (4401, "unauthorized")


def test_handshake_time_left() -> None:
    conn = Connection(now_ms=1_000, require_hello=True)
    assert conn.handshake_time_left(1_000) == HANDSHAKE_TIMEOUT_S
    assert conn.handshake_time_left(10**9) == 0
    conn.receive_text(HELLO, now_ms=2_000)
    assert conn.handshake_time_left(2_000) is None
    assert Connection(now_ms=0).handshake_time_left(0) is None
