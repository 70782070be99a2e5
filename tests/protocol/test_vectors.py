"""Golden vectors (tests/protocol/vectors/*.json) checked in both directions.

The JSON is committed; the tests never regenerate it, so a layout change fails here.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from protocol import media
from protocol.errors import ProtocolError
from protocol.messages import MESSAGE_TYPES, parse_control, serialize_control, to_json_object

VECTORS = Path(__file__).parent / "vectors"
BINARY = json.loads((VECTORS / "binary.json").read_text(encoding="utf-8"))
CONTROL = json.loads((VECTORS / "control.json").read_text(encoding="utf-8"))

EVENTS: dict[str, Any] = {
    "pointer_move": media.PointerMove,
    "button_down": media.ButtonDown,
    "button_up": media.ButtonUp,
    "wheel": media.Wheel,
    "key_down": media.KeyDown,
    "key_up": media.KeyUp,
}


def frame_from_fields(kind: str, f: dict[str, Any]) -> media.BinaryMessage:
    if kind == "screen_update_frame":
        ct = bytes.fromhex(f["ciphertext_hex"])
        return media.ScreenUpdateFrame(f["flags"], f["epoch"], f["seq"], ct)
    if kind == "input_frame":
        return media.InputFrame(f["sender"], f["seq"], bytes.fromhex(f["ciphertext_hex"]))
    if kind == "ack_frame":
        return media.AckFrame(f["seq"])
    assert kind == "unknown_binary"
    return media.UnknownBinary(f["kind"], bytes.fromhex(f["data_hex"]))


def payload_from_fields(kind: str, f: dict[str, Any]) -> media.ScreenUpdate | media.InputBatch:
    if kind == "screen_update":
        images = tuple(
            media.EncodedImage(i["codec"], bytes.fromhex(i["data_hex"])) for i in f["images"]
        )
        rects = tuple(
            media.Rect(r["image"], r["sx"], r["sy"], r["dx"], r["dy"], r["w"], r["h"])
            for r in f["rects"]
        )
        return media.ScreenUpdate(f["width"], f["height"], images, rects)
    assert kind == "input_batch"
    events = []
    for e in f["events"]:
        fields = {k: v for k, v in e.items() if k not in ("type", "event_type")}
        cls = EVENTS[e["type"]]
        assert cls.event_type == e["event_type"]
        events.append(cls(**fields))
    return media.InputBatch(tuple(events))


@pytest.mark.parametrize("vector", BINARY["frames"], ids=lambda v: v["name"])
def test_binary_frames_both_directions(vector: dict[str, Any]) -> None:
    expected = frame_from_fields(vector["type"], vector["fields"])
    wire = bytes.fromhex(vector["hex"])
    assert bytes(expected) == wire
    parsed = media.parse_binary(wire)
    assert type(parsed) is type(expected)
    assert parsed == expected
    assert bytes(parsed) == wire
    assert wire.startswith(parsed.header())


@pytest.mark.parametrize("vector", BINARY["payloads"], ids=lambda v: v["name"])
def test_payloads_both_directions(vector: dict[str, Any]) -> None:
    expected = payload_from_fields(vector["type"], vector["fields"])
    wire = bytes.fromhex(vector["hex"])
    assert bytes(expected) == wire
    parser = media.ScreenUpdate if vector["type"] == "screen_update" else media.InputBatch
    assert parser.parse(wire) == expected


def test_vectors_cover_the_required_cases() -> None:
    kinds = {v["type"] for v in BINARY["frames"]}
    assert kinds == {"screen_update_frame", "input_frame", "ack_frame", "unknown_binary"}
    screens = [v["fields"] for v in BINARY["payloads"] if v["type"] == "screen_update"]
    assert any(len(s["images"]) == 2 and len(s["rects"]) == 3 for s in screens)
    batches = [v["fields"] for v in BINARY["payloads"] if v["type"] == "input_batch"]
    assert any({e["type"] for e in b["events"]} == set(EVENTS) for b in batches)
    assert {v["type"] for v in CONTROL["messages"]} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("vector", BINARY["invalid"], ids=lambda v: v["name"])
def test_invalid_binary_vectors(vector: dict[str, Any]) -> None:
    parser = {
        "binary": media.parse_binary,
        "screen_update": media.ScreenUpdate.parse,
        "input_batch": media.InputBatch.parse,
    }[vector["parser"]]
    with pytest.raises(ProtocolError) as info:
        parser(bytes.fromhex(vector["hex"]))
    assert info.value.code == vector["error"]


@pytest.mark.parametrize("vector", CONTROL["messages"], ids=lambda v: v["type"])
def test_control_both_directions(vector: dict[str, Any]) -> None:
    msg = parse_control(vector["text"])
    assert msg.type == vector["type"]
    assert serialize_control(msg) == vector["text"]
    assert to_json_object(msg) == vector["json"]
    # The JSON object (any key order, any spacing) parses to the same message.
    assert parse_control(json.dumps(vector["json"], indent=2)) == msg
    assert parse_control(vector["text"].encode("utf-8")) == msg


@pytest.mark.parametrize("vector", CONTROL["invalid"], ids=lambda v: v["name"])
def test_invalid_control_vectors(vector: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_control(vector["text"])
    assert info.value.code == vector["error"]
