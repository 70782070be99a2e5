"""Binary frames and payloads (SPEC §4): limits, zero-copy headers, properties."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import media
from protocol.errors import ProtocolError
from protocol.limits import (
    MAX_BINARY_MESSAGE,
    MAX_FRAME_AREA,
    MAX_IMAGES,
    MAX_INPUT_EVENTS,
    MAX_RECTS,
    MAX_SCREEN_DIM,
)
from tests.protocol.strategies import FRAMES, INPUT_BATCHES, screen_updates

DOCUMENTED = {"malformed_binary", "invalid_field", "too_large"}
JPEG = media.EncodedImage(media.CODEC_JPEG, b"\xff\xd8\xff\xd9")


def code_of(parser: object, data: bytes) -> str:
    with pytest.raises(ProtocolError) as info:
        parser(data)  # type: ignore[operator]
    return info.value.code


def test_header_parsing_does_not_copy_the_ciphertext() -> None:
    wire = bytes(media.ScreenUpdateFrame(media.FLAG_FULL, 2, 9, b"c" * 1000))
    frame = media.parse_binary(wire)
    assert isinstance(frame, media.ScreenUpdateFrame)
    assert isinstance(frame.ciphertext, memoryview)
    assert frame.ciphertext.obj is wire  # a view into the received bytes
    assert frame.full and frame.epoch == 2 and frame.seq == 9
    assert frame.header() == wire[:14]
    assert bytes(frame) == wire


def test_input_frame_header_is_the_aad_prefix() -> None:
    frame = media.InputFrame(7, 3, b"t" * 16)
    assert frame.header() == bytes.fromhex("02" + "00000007" + "0000000000000003")
    parsed = media.parse_binary(bytearray(bytes(frame)))
    assert parsed == frame


def test_unknown_kind_is_skipped_not_fatal() -> None:
    parsed = media.parse_binary(b"\x99abc")
    assert parsed == media.UnknownBinary(0x99, b"abc")
    assert bytes(parsed) == b"\x99abc"


def test_binary_message_size_limit() -> None:
    assert code_of(media.parse_binary, b"\x01" + bytes(MAX_BINARY_MESSAGE)) == "too_large"
    ok = media.parse_binary(b"\x01\x00" + bytes([0, 0, 0, 1]) + bytes(7) + b"\x01" + bytes(16))
    assert isinstance(ok, media.ScreenUpdateFrame)
    big = bytes(MAX_BINARY_MESSAGE + 1)
    assert code_of(media.ScreenUpdate.parse, big) == "too_large"
    assert code_of(media.InputBatch.parse, big) == "too_large"


def test_too_large_close_code() -> None:
    with pytest.raises(ProtocolError) as info:
        media.parse_binary(bytes(MAX_BINARY_MESSAGE + 1))
    assert info.value.close_code == 1009


def test_malformed_binary_close_code() -> None:
    with pytest.raises(ProtocolError) as info:
        media.parse_binary(b"\x03\x00")
    assert info.value.code == "malformed_binary"
    assert info.value.close_code == 4400


def test_max_images() -> None:
    images = (JPEG,) * MAX_IMAGES
    wire = bytes(media.ScreenUpdate(16, 16, images, ()))
    assert len(media.ScreenUpdate.parse(wire).images) == MAX_IMAGES
    with pytest.raises(ProtocolError) as info:
        media.ScreenUpdate(16, 16, (*images, JPEG), ())
    assert info.value.code == "too_large"
    over = bytearray(wire)
    over[4] = MAX_IMAGES + 1
    assert code_of(media.ScreenUpdate.parse, bytes(over)) == "too_large"


def test_max_rects() -> None:
    rects = (media.Rect(0, 0, 0, 0, 0, 1, 1),) * MAX_RECTS
    wire = bytes(media.ScreenUpdate(16, 16, (JPEG,), rects))
    assert len(media.ScreenUpdate.parse(wire).rects) == MAX_RECTS
    with pytest.raises(ProtocolError) as info:
        media.ScreenUpdate(16, 16, (JPEG,), (*rects, rects[0]))
    assert info.value.code == "too_large"
    # A rect count over the limit is rejected before the rects are read.
    head = bytes(media.ScreenUpdate(16, 16, (JPEG,), ()))[:-2]
    assert (
        code_of(media.ScreenUpdate.parse, head + (MAX_RECTS + 1).to_bytes(2, "big")) == "too_large"
    )


def test_max_screen_dim() -> None:
    media.ScreenUpdate(MAX_SCREEN_DIM, MAX_SCREEN_DIM, (), ())
    wire = bytes(media.ScreenUpdate(MAX_SCREEN_DIM, 1, (), ()))
    over = (MAX_SCREEN_DIM + 1).to_bytes(2, "big") + wire[2:]
    assert code_of(media.ScreenUpdate.parse, over) == "invalid_field"


def test_max_frame_area() -> None:
    side = MAX_SCREEN_DIM
    whole = media.Rect(0, 0, 0, 0, 0, side, side)
    assert side * side == MAX_FRAME_AREA
    media.ScreenUpdate(side, side, (JPEG,), (whole,))
    wire = bytes(media.ScreenUpdate(side, side, (JPEG,), (whole,)))
    doubled = wire[:-15] + (2).to_bytes(2, "big") + wire[-13:] + wire[-13:]
    assert code_of(media.ScreenUpdate.parse, doubled) == "too_large"


@pytest.mark.parametrize(
    "rect",
    [
        media.Rect(0, 0, 0, 90, 0, 11, 10),  # right edge past the screen
        media.Rect(0, 0, 0, 0, 95, 10, 6),  # bottom edge past the screen
        media.Rect(0, 0, 0, 100, 0, 1, 1),  # starts outside
    ],
)
def test_destination_rect_must_lie_inside_the_screen(rect: media.Rect) -> None:
    with pytest.raises(ProtocolError) as info:
        media.ScreenUpdate(100, 100, (JPEG,), (rect,))
    assert info.value.code == "invalid_field"
    media.ScreenUpdate(100, 100, (JPEG,), (media.Rect(0, 0, 0, 90, 90, 10, 10),))


def test_max_input_events() -> None:
    events = (media.PointerMove(1, 2),) * MAX_INPUT_EVENTS
    wire = bytes(media.InputBatch(events))
    assert len(media.InputBatch.parse(wire).events) == MAX_INPUT_EVENTS
    with pytest.raises(ProtocolError) as info:
        media.InputBatch((*events, events[0]))
    assert info.value.code == "too_large"


@pytest.mark.parametrize(
    ("frame", "wire_hex"),
    [
        (media.AckFrame(1), "030000000000000001"),
        (media.InputFrame(1, 1, bytes(16)), "02000000010000000000000001" + "00" * 16),
    ],
)
def test_layout_examples(frame: media.BinaryMessage, wire_hex: str) -> None:
    assert bytes(frame).hex() == wire_hex


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_raise_protocol_error(data: bytes) -> None:
    for parser in (media.parse_binary, media.ScreenUpdate.parse, media.InputBatch.parse):
        try:
            parser(data)
        except ProtocolError as exc:
            assert exc.code in DOCUMENTED


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0x01, 0x02, 0x03, 0x04]), st.binary(max_size=40))
def test_known_kinds_with_arbitrary_bodies(kind: int, body: bytes) -> None:
    try:
        frame = media.parse_binary(bytes([kind]) + body)
    except ProtocolError as exc:
        assert exc.code in DOCUMENTED
    else:
        assert bytes(frame) == bytes([kind]) + body


@settings(max_examples=200, deadline=None)
@given(FRAMES)
def test_frame_round_trip(frame: media.BinaryMessage) -> None:
    assert media.parse_binary(bytes(frame)) == frame


@settings(max_examples=200, deadline=None)
@given(screen_updates())
def test_screen_update_round_trip(update: media.ScreenUpdate) -> None:
    assert media.ScreenUpdate.parse(bytes(update)) == update


@settings(max_examples=200, deadline=None)
@given(INPUT_BATCHES)
def test_input_batch_round_trip(batch: media.InputBatch) -> None:
    assert media.InputBatch.parse(bytes(batch)) == batch
