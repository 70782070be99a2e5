"""Control messages (SPEC §3): validation, limits, error codes, properties."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import (
    MAX_CHAT_CHARS,
    MAX_COMMENT_CHARS,
    MAX_IDENTIFIER_CHARS,
    MAX_NOTE_CHARS,
    MAX_RESOLUTION_CHARS,
    MAX_SDP_CHARS,
    MAX_TEXT_MESSAGE,
    MAX_VIEWERS,
)
from protocol.messages import (
    MESSAGE_TYPES,
    Chat,
    ControlMessage,
    KeyCommit,
    b64u_encode,
    parse_control,
    serialize_control,
)
from tests.protocol.strategies import CONTROL_MESSAGES

DOCUMENTED = {"malformed_json", "invalid_field", "unknown_type", "too_large"}


def code_of(data: str | bytes) -> str:
    with pytest.raises(ProtocolError) as info:
        parse_control(data)
    return info.value.code


def msg(**fields: Any) -> str:
    return json.dumps(fields)


def test_every_type_has_a_literal_tag_matching_the_table() -> None:
    for tag, cls in MESSAGE_TYPES.items():
        assert cls.__dataclass_fields__["type"].default == tag
        assert cls.__dataclass_params__.frozen
        assert hasattr(cls, "__slots__")
    assert (
        len(MESSAGE_TYPES) == 41
    )  # + recording.state (issue 13), desktop.info, monitor.select, queue.position


def test_malformed_json_codes_and_close_code() -> None:
    for bad in ("", "{", "null", "[1]", '"hello"', "{}", '{"type": null}', b"\xff\xfe"):
        with pytest.raises(ProtocolError) as info:
            parse_control(bad)
        assert info.value.code == ErrorCode.MALFORMED_JSON
        assert info.value.close_code == 4400


def test_unknown_type_is_not_fatal() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_control(msg(type="clipboard.set", text="x"))
    assert info.value.code == "unknown_type"
    assert info.value.close_code is None


def test_too_large_message_is_fatal_1009() -> None:
    text = msg(type="chat", text="x", pad="y" * MAX_TEXT_MESSAGE)
    with pytest.raises(ProtocolError) as info:
        parse_control(text)
    assert info.value.code == "too_large"
    assert info.value.close_code == 1009
    # Multi-byte characters count as bytes, not characters.
    assert code_of(msg(type="chat", text="é" * (MAX_TEXT_MESSAGE // 2))) == "too_large"


def test_unknown_fields_are_ignored() -> None:
    assert parse_control(msg(type="chat", text="hi", extra={"a": 1})) == Chat("hi")


@pytest.mark.parametrize(
    ("fields", "limit"),
    [
        ({"type": "chat", "text": "x" * MAX_CHAT_CHARS}, "text"),
        (
            {"type": "permission.request", "permissions": ["view"], "note": "n" * MAX_NOTE_CHARS},
            "note",
        ),
        ({"type": "rating", "score": 1, "comment": "c" * MAX_COMMENT_CHARS}, "comment"),
        ({"type": "end", "resolution": "r" * MAX_RESOLUTION_CHARS}, "resolution"),
        ({"type": "rtc.offer", "sdp": "s" * MAX_SDP_CHARS}, "sdp"),
        (
            {"type": "viewer.left", "viewer_id": "v" * MAX_IDENTIFIER_CHARS, "reason": "x"},
            "viewer_id",
        ),
    ],
)
def test_length_limits_at_and_over(fields: dict[str, Any], limit: str) -> None:
    parse_control(json.dumps(fields))  # at the limit: fine
    over = dict(fields)
    over[limit] = fields[limit] + "z"
    with pytest.raises(ProtocolError) as info:
        parse_control(json.dumps(over))
    assert info.value.code == "invalid_field"
    assert limit in info.value.message


def test_count_limit_is_too_large() -> None:
    viewer = {"viewer_id": "v1", "name": "n", "role": "engineer", "permissions": []}
    ok = {"type": "session.state", "state": "live", "viewers": [viewer] * MAX_VIEWERS}
    parse_control(json.dumps(ok))
    ok["viewers"] = [viewer] * (MAX_VIEWERS + 1)
    assert code_of(json.dumps(ok)) == "too_large"


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "hello", "token": "", "client": "x"},
        {"type": "hello", "token": 5, "client": "x"},
        {
            "type": "welcome",
            "session_id": "s",
            "ticket": {"id": "t"},
            "role": "agent",
            "state": "live",
            "server_time_ms": 0,
        },
        {
            "type": "welcome",
            "session_id": "s",
            "ticket": {"id": "t", "title": "x"},
            "role": "admin",
            "state": "live",
            "server_time_ms": 0,
        },
        {
            "type": "welcome",
            "session_id": "s",
            "ticket": {"id": "t", "title": "x"},
            "role": "agent",
            "state": "sleeping",
            "server_time_ms": 0,
        },
        {
            "type": "welcome",
            "session_id": "s",
            "ticket": {"id": "t", "title": "x"},
            "role": "agent",
            "state": "live",
            "server_time_ms": -1,
        },
        {"type": "session.ended", "reason": "bored", "by": "x"},
        {"type": "consent.grant", "request_id": "r", "viewer_id": "v1", "permissions": []},
        {"type": "consent.grant", "request_id": "r", "viewer_id": "v1", "permissions": "view"},
        {"type": "key.wrap", "viewer_id": "v1", "epoch": 1, "wrapped_key": b64u_encode(bytes(32))},
        {
            "type": "key.audit",
            "epoch": 1,
            "ephemeral_public": b64u_encode(bytes(32)),
            "wrapped_key": b64u_encode(bytes(48)),
            "recipient_fingerprint": "AB" * 32,
        },
        {"type": "key.commit", "commitment": b64u_encode(bytes(32))[:-1] + "+"},
        {"type": "mask.update", "regions": 65, "windows": 0},
        {"type": "mask.update", "regions": 1.0, "windows": 0},
        {"type": "rtc.mute", "audio": 1, "video": False},
        {"type": "rtc.candidate", "candidate": "c", "sdp_mid": None},
        {"type": "rtc.candidate", "candidate": "c", "sdp_mid": None, "sdp_mline_index": -1},
        {"type": "log.local", "event": "Input Applied", "detail": {}},
        {"type": "log.local", "event": "input.applied", "detail": {"k": [1, 2]}},
        {"type": "log.local", "event": "input.applied", "detail": {"k": "x" * 65}},
        {"type": "log.event", "record": {"seq": 1}},
        {"type": "checkpoint", "checkpoint": []},
        {"type": "chat", "text": ""},
        {"type": "chat", "text": "x", "from": {"kind": "broker", "name": "x"}},
    ],
)
def test_invalid_fields(fields: dict[str, Any]) -> None:
    assert code_of(json.dumps(fields)) == "invalid_field"


def test_base64url_fields_decode_to_bytes() -> None:
    raw = bytes(range(200, 232))
    parsed = parse_control(msg(type="key.commit", commitment=b64u_encode(raw)))
    assert parsed == KeyCommit(raw)
    assert "=" not in serialize_control(parsed)
    # Non-canonical trailing bits are rejected (one encoding per value).
    text = b64u_encode(raw)
    sloppy = text[:-1] + chr(ord(text[-1]) + 1)
    assert code_of(msg(type="key.commit", commitment=sloppy)) == "invalid_field"


def test_broker_added_fields_are_optional_and_round_trip() -> None:
    plain = parse_control(msg(type="chat", text="hi"))
    assert plain == Chat("hi")
    assert serialize_control(plain) == '{"type":"chat","text":"hi"}'
    full = parse_control(
        msg(
            type="chat",
            text="hi",
            at_ms=5,
            **{"from": {"kind": "viewer", "name": "A", "viewer_id": "v2"}},
        )
    )
    assert isinstance(full, Chat) and full.from_ is not None and full.from_.viewer_id == "v2"
    assert parse_control(serialize_control(full)) == full


@settings(max_examples=300, deadline=None)
@given(CONTROL_MESSAGES)
def test_round_trip_of_valid_messages(message: ControlMessage) -> None:
    text = serialize_control(message)
    assert parse_control(text) == message
    assert parse_control(text.encode("utf-8")) == message


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_arbitrary_input_parses_or_raises_protocol_error(data: str | bytes) -> None:
    try:
        parse_control(data)
    except ProtocolError as exc:
        assert exc.code in DOCUMENTED


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(MESSAGE_TYPES)), st.data())
def test_known_type_with_arbitrary_fields_parses_or_raises(tag: str, data: st.DataObject) -> None:
    cls = MESSAGE_TYPES[tag]
    keys = [k for k in cls.__dataclass_fields__ if k != "type"] + ["from", "extra"]
    fields = data.draw(st.dictionaries(st.sampled_from(keys), JSON_VALUES, max_size=len(keys)))
    try:
        parse_control(json.dumps({"type": tag, **fields}))
    except ProtocolError as exc:
        assert exc.code in {"invalid_field", "too_large"}


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    assert code_of("[" * 50_000 + "]" * 50_000) in {"malformed_json", "too_large"}
    assert code_of('{"type":"chat","text":' + "[" * 20_000 + "]" * 20_000 + "}") in DOCUMENTED


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"chat","text":"\\ud800x"}',
        '{"type":"rtc.offer","sdp":"v=0 \\udfff"}',
        '{"type":"rtc.candidate","candidate":"\\udc00","sdp_mid":null,"sdp_mline_index":null}',
        '{"type":"log.event","record":{"seq":1,"at_ms":1,"event":"a.b","actor":"x",'
        '"detail":{"\\ud800":1},"prev":"p","hash":"h"}}',
    ],
)
def test_lone_surrogates_are_not_unicode(raw: str) -> None:
    # SPEC §3: strings are UTF-8. A lone surrogate parsed into a message could not
    # be encoded for the next hop (the broker would crash forwarding it).
    with pytest.raises(ProtocolError) as err:
        parse_control(raw)
    assert err.value.code == "invalid_field"
    with pytest.raises(ProtocolError):
        parse_control(raw.encode())


def test_escaped_surrogate_pairs_are_fine() -> None:
    msg = parse_control('{"type":"chat","text":"\\ud83d\\ude00 ok"}')
    assert isinstance(msg, Chat) and msg.text == "\U0001f600 ok"
    assert serialize_control(msg).encode("utf-8")
