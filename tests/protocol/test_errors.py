"""Errors (SPEC §7): structured fields, text, close codes."""

from protocol import limits
from protocol.errors import CLOSE_CODES, ErrorCode, ProtocolError, close_code_for

SPEC_7 = {
    "malformed_json": 4400,
    "malformed_binary": 4400,
    "invalid_field": None,
    "unknown_type": None,
    "too_large": 1009,
    "rate_limited": 4429,
    "unauthorized": 4401,
    "forbidden": 4403,
    "wrong_state": None,
    "not_granted": None,
    "session_ended": 4000,
    "shutting_down": 1001,
}


def test_codes_and_close_codes_match_spec() -> None:
    assert {c.value: CLOSE_CODES[c] for c in ErrorCode} == SPEC_7
    assert close_code_for("too_large") == 1009
    assert close_code_for("nonsense") is None


def test_structured_fields_and_text() -> None:
    err = ProtocolError.of(ErrorCode.RATE_LIMITED, "over 50/s")
    assert (err.code, err.message, err.close_code) == ("rate_limited", "over 50/s", 4429)
    assert err.fatal
    assert str(err) == "rate_limited: over 50/s (close 4429)"
    soft = ProtocolError("wrong_state", "pause while paused", None)
    assert str(soft) == "wrong_state: pause while paused" and not soft.fatal


def test_spec_2_limits() -> None:
    assert limits.MAX_TEXT_MESSAGE == 65_536
    assert limits.MAX_BINARY_MESSAGE == 8 * 1024 * 1024
    assert limits.MAX_CHAT_CHARS == 4_000
    assert limits.MAX_TILES == limits.MAX_RECTS == 4_096
    assert limits.MAX_IMAGES == 64
    assert limits.MAX_SCREEN_DIM == 8_192
    assert limits.MAX_FRAME_AREA == 8_192 * 8_192
    assert limits.MAX_INPUT_EVENTS == 256
    assert limits.MAX_MASK_REGIONS == 64
    assert limits.MAX_SDP_CHARS == 32_000
    assert limits.HANDSHAKE_TIMEOUT_S == 10
    assert limits.HEARTBEAT_INTERVAL_S == 4 and limits.HEARTBEAT_TIMEOUT_S == 5
    assert limits.DEAD_LINK_S == 10
    assert limits.CONSENT_TIMEOUT_S == 60
    assert (limits.MAX_CONTROL_RATE, limits.CONTROL_BURST) == (50, 100)
    assert limits.MAX_INFLIGHT_UPDATES == 2


def test_close_code_defaults_to_the_spec_table() -> None:
    assert ProtocolError("too_large", "big").close_code == 1009
    assert ProtocolError("unknown_type", "x").close_code is None
    assert ProtocolError("too_large", "big", None).close_code is None  # explicit wins
    assert ProtocolError("custom", "x").close_code is None
