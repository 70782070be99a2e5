"""Regenerate the golden vectors in tests/protocol/vectors/ (binary.json, control.json).

Run ``.venv/bin/python -m tests.protocol.make_vectors``. The tests read the
committed JSON, never this script, so a layout change makes them fail until the
vectors are regenerated on purpose (and SPEC §4 says layouts never change).
The JSON is self-describing so that the viewer's JavaScript codec can be
tested against the same file: every vector has its hex bytes and its fields,
and ``layouts`` documents each structure.
"""

import json
from pathlib import Path
from typing import Any

from protocol import media
from protocol.messages import (
    MESSAGE_TYPES,
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
    ControlMessage,
    DesktopCapabilities,
    DesktopInfo,
    End,
    ErrorMessage,
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
    MonitorSelect,
    Pause,
    PermissionRelease,
    PermissionRequest,
    QueuePosition,
    Rating,
    RecordingState,
    Refresh,
    Resume,
    RtcAnswer,
    RtcCandidate,
    RtcHangup,
    RtcMute,
    RtcOffer,
    ScreenMonitor,
    SessionEnded,
    SessionStateMessage,
    Ticket,
    User,
    ViewerInfo,
    ViewerJoined,
    ViewerLeft,
    Welcome,
    serialize_control,
    to_json_object,
)

VECTORS = Path(__file__).parent / "vectors"

LAYOUTS = {
    "conventions": "All integers big-endian; unsigned unless the type says i16. Byte 0 of a "
    "frame is the kind. Hex is lowercase. Fields named *_hex are raw bytes in hex.",
    "screen_update_frame": [
        ["kind", "u8", "0x01"],
        ["flags", "u8", "bit 0 FULL; other bits must be 0"],
        ["epoch", "u32", ">= 1"],
        ["seq", "u64", ">= 1"],
        ["ciphertext", "rest", ">= 16 bytes (AES-GCM tag)"],
    ],
    "input_frame": [
        ["kind", "u8", "0x02"],
        ["sender", "u32", "viewer number of viewer_id v<number>"],
        ["seq", "u64", ">= 1"],
        ["ciphertext", "rest", ">= 16 bytes"],
    ],
    "ack_frame": [["kind", "u8", "0x03"], ["seq", "u64", ">= 1; frame is exactly 9 bytes"]],
    "unknown_binary": [["kind", "u8", "any other kind"], ["data", "rest", "skipped"]],
    "screen_update": [
        ["width", "u16", "1..8192"],
        ["height", "u16", "1..8192"],
        ["image_count", "u8", "<= 64"],
        ["images[]", "codec u8 (1 JPEG, 2 PNG), length u32, data", ""],
        ["rect_count", "u16", "<= 4096"],
        ["rects[]", "image u8, sx u16, sy u16, dx u16, dy u16, w u16, h u16", ""],
    ],
    "input_batch": [
        ["count", "u16", "<= 256"],
        ["events[]", "type u8 then fields", "see event_types"],
    ],
    "event_types": {
        "1": ["pointer_move", "x u16, y u16"],
        "2": ["button_down", "x u16, y u16, button u8"],
        "3": ["button_up", "x u16, y u16, button u8"],
        "4": ["wheel", "x u16, y u16, dx i16, dy i16"],
        "5": ["key_down", "keysym u32, modifiers u8"],
        "6": ["key_up", "keysym u32, modifiers u8"],
    },
}

EVENT_NAMES = {1: "pointer_move", 2: "button_down", 3: "button_up", 4: "wheel", 5: "key_down"}
EVENT_NAMES[6] = "key_up"

CT = bytes(range(0x10, 0x30))  # stand-in ciphertext (32 bytes)


def _frame(name: str, frame: media.BinaryMessage) -> dict[str, Any]:
    fields: dict[str, Any]
    if isinstance(frame, media.ScreenUpdateFrame):
        kind = "screen_update_frame"
        fields = {"flags": frame.flags, "epoch": frame.epoch, "seq": frame.seq}
        fields["ciphertext_hex"] = bytes(frame.ciphertext).hex()
    elif isinstance(frame, media.InputFrame):
        kind = "input_frame"
        fields = {"sender": frame.sender, "seq": frame.seq}
        fields["ciphertext_hex"] = bytes(frame.ciphertext).hex()
    elif isinstance(frame, media.AckFrame):
        kind, fields = "ack_frame", {"seq": frame.seq}
    else:
        kind, fields = "unknown_binary", {"kind": frame.kind, "data_hex": bytes(frame.data).hex()}
    return {"name": name, "type": kind, "hex": bytes(frame).hex(), "fields": fields}


def _screen(name: str, u: media.ScreenUpdate) -> dict[str, Any]:
    fields = {
        "width": u.width,
        "height": u.height,
        "images": [{"codec": i.codec, "data_hex": i.data.hex()} for i in u.images],
        "rects": [
            {"image": r.image, "sx": r.sx, "sy": r.sy, "dx": r.dx, "dy": r.dy, "w": r.w, "h": r.h}
            for r in u.rects
        ],
    }
    return {"name": name, "type": "screen_update", "hex": bytes(u).hex(), "fields": fields}


def _input(name: str, b: media.InputBatch) -> dict[str, Any]:
    events = []
    for e in b.events:
        d: dict[str, Any] = {"type": EVENT_NAMES[e.event_type], "event_type": e.event_type}
        d.update({k: getattr(e, k) for k in e.__dataclass_fields__})
        events.append(d)
    return {
        "name": name,
        "type": "input_batch",
        "hex": bytes(b).hex(),
        "fields": {"events": events},
    }


def binary_vectors() -> dict[str, Any]:
    """The binary golden vectors."""
    jpeg = bytes.fromhex("ffd8ffe000104a464946") + b"\x00" * 6 + bytes.fromhex("ffd9")
    png = bytes.fromhex("89504e470d0a1a0a") + b"IHDR"
    two = media.ScreenUpdate(
        1920,
        1080,
        (media.EncodedImage(media.CODEC_JPEG, jpeg), media.EncodedImage(media.CODEC_PNG, png)),
        (
            media.Rect(0, 0, 0, 0, 0, 64, 64),
            media.Rect(0, 64, 0, 1856, 1016, 64, 64),
            media.Rect(1, 0, 0, 640, 320, 128, 16),
        ),
    )
    batch = media.InputBatch(
        (
            media.PointerMove(100, 200),
            media.ButtonDown(100, 200, 1),
            media.ButtonUp(100, 200, 3),
            media.Wheel(5, 6, -120, 240),
            media.KeyDown(0xFF0D, media.MODIFIER_CTRL | media.MODIFIER_SHIFT),
            media.KeyUp(0x61, 0),
        )
    )
    frames = [
        _frame("screen update FULL", media.ScreenUpdateFrame(1, 1, 1, CT)),
        _frame("screen update delta", media.ScreenUpdateFrame(0, 7, 0x0102030405060708, CT)),
        _frame("input frame", media.InputFrame(3, 42, CT[:16])),
        _frame("ack", media.AckFrame(0xFFFFFFFFFFFFFFFF)),
        _frame("unknown kind 0x7f", media.UnknownBinary(0x7F, b"\x01\x02\x03")),
    ]
    payloads = [
        _screen("2 images 3 rects", two),
        _screen("no change", media.ScreenUpdate(800, 600, (), ())),
        _input("every event type", batch),
        _input("empty batch", media.InputBatch(())),
    ]
    invalid = [
        {"name": "empty frame", "parser": "binary", "hex": "", "error": "malformed_binary"},
        {
            "name": "screen header cut",
            "parser": "binary",
            "hex": "0101000000",
            "error": "malformed_binary",
        },
        {
            "name": "screen epoch 0",
            "parser": "binary",
            "hex": "0101" + "00000000" + "0000000000000001" + CT.hex(),
            "error": "invalid_field",
        },
        {
            "name": "screen seq 0",
            "parser": "binary",
            "hex": "0100" + "00000001" + "0000000000000000" + CT.hex(),
            "error": "invalid_field",
        },
        {
            "name": "screen unknown flag",
            "parser": "binary",
            "hex": "0102" + "00000001" + "0000000000000001" + CT.hex(),
            "error": "invalid_field",
        },
        {
            "name": "ack too long",
            "parser": "binary",
            "hex": "03000000000000000100",
            "error": "malformed_binary",
        },
        {
            "name": "input without tag",
            "parser": "binary",
            "hex": "02000000010000000000000001",
            "error": "malformed_binary",
        },
        {"name": "65 images", "parser": "screen_update", "hex": "0780043841", "error": "too_large"},
        {
            "name": "rect outside screen",
            "parser": "screen_update",
            "hex": "00100010"
            + "01"
            + "01"
            + "00000001"
            + "ff"
            + "0001"
            + "00"
            + "0000"
            + "0000"
            + "0008"
            + "0000"
            + "0010"
            + "0010",
            "error": "invalid_field",
        },
        {
            "name": "rect image index",
            "parser": "screen_update",
            "hex": "00100010" + "00" + "0001" + "01" + "0000" * 6,
            "error": "invalid_field",
        },
        {
            "name": "trailing byte",
            "parser": "screen_update",
            "hex": "0010001000000000",
            "error": "malformed_binary",
        },
        {
            "name": "image length past end",
            "parser": "screen_update",
            "hex": "00100010" + "01" + "01" + "00000010" + "ff",
            "error": "malformed_binary",
        },
        {
            "name": "codec 3",
            "parser": "screen_update",
            "hex": "00100010" + "01" + "03" + "00000001" + "ff" + "0000",
            "error": "invalid_field",
        },
        {
            "name": "width 0",
            "parser": "screen_update",
            "hex": "00000010" + "00" + "0000",
            "error": "invalid_field",
        },
        {"name": "257 events", "parser": "input_batch", "hex": "0101", "error": "too_large"},
        {
            "name": "unknown event type",
            "parser": "input_batch",
            "hex": "0001" + "07" + "00000000",
            "error": "malformed_binary",
        },
        {
            "name": "event cut",
            "parser": "input_batch",
            "hex": "0001" + "01" + "0001",
            "error": "malformed_binary",
        },
        {
            "name": "button 4",
            "parser": "input_batch",
            "hex": "0001" + "02" + "0001000104",
            "error": "invalid_field",
        },
        {
            "name": "modifier bit 4",
            "parser": "input_batch",
            "hex": "0001" + "05" + "0000ff0d10",
            "error": "invalid_field",
        },
        {
            "name": "count says 2, has 1",
            "parser": "input_batch",
            "hex": "0002" + "01" + "00010001",
            "error": "malformed_binary",
        },
    ]
    return {
        "description": "Clearpane SPEC §4 binary golden vectors: bytes (hex) <-> fields.",
        "layouts": LAYOUTS,
        "frames": frames,
        "payloads": payloads,
        "invalid": invalid,
    }


K32 = bytes(range(32))
K48 = bytes(range(48))
RECORD = {
    "seq": 1,
    "at_ms": 1_700_000_000_000,
    "event": "session.started",
    "actor": "broker",
    "detail": {},
    "prev": "0" * 64,
    "hash": "ab" * 32,
}
CHECKPOINT = {
    "session_id": "s-1",
    "seq": 9,
    "hash": "cd" * 32,
    "at_ms": 1_700_000_000_000,
    "key_id": "k1",
    "signature": "c2ln",
}
USER = User("u-7", "Ada Lovelace", "engineer")
TICKET = Ticket("T-1001", "Printer does not print")
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"

CONTROL: list[ControlMessage] = [
    Hello("eyJhbGciOiJFZERTQSJ9.e30.c2ln", "clearpane-agent/0.1"),
    Welcome("s-1", TICKET, "engineer", "waiting", 1_700_000_000_000, viewer_id="v3"),
    ErrorMessage("unknown_type", "unknown type 'x'"),
    SessionStateMessage("live", (ViewerInfo("v3", "Ada Lovelace", "engineer", ("view",)),)),
    ViewerJoined("v3", USER),
    ViewerLeft("v3", "disconnected"),
    QueuePosition(3, 420, 1_700_000_600_000),
    QueuePosition(1),
    PermissionRequest(("view", "control"), note="to fix the printer driver"),
    PermissionRelease(("control",)),
    ConsentRequest("r1", "v3", USER, TICKET, ("view", "control"), 1_700_000_060_000),
    ConsentGrant("r1", "v3", ("view",)),
    ConsentDeny("r1", "v3", ("control",)),
    ConsentRevoke("v3", ("control",)),
    KeyCommit(K32, viewer_id="v3"),
    KeyAgent("v3", K32),
    KeyReveal(K32),
    KeyWrap("v3", 1, K48),
    KeyAudit(2, K32, K48, "ef" * 32),
    AuditRecipient(PEM),
    Pause(),
    Resume(),
    MaskUpdate(2, 1),
    Refresh(),
    RecordingState("paused", "recording_unavailable", 1_700_000_000_400),
    DesktopInfo(
        DesktopCapabilities(capture=True, windows=True, input=True, secure_prompt=False),
        (
            ScreenMonitor("LEFT", 0, 0, 1200, 1080, True),
            ScreenMonitor("HDMI-1", 1200, 100, 720, 900, False),
        ),
        monitor=2,
        switchable=True,
    ),
    DesktopInfo(  # a client without a camera (docs/video-calls.md)
        DesktopCapabilities(True, True, True, False, camera=False, microphone=True),
        (ScreenMonitor("screen", 0, 0, 1920, 1080, True),),
        monitor=1,
        switchable=False,
    ),
    MonitorSelect(0, viewer_id="v3"),
    Chat("Hello, can you see my screen? ✓", ChatFrom("agent", "Client"), 1_700_000_000_500),
    LogEvent(RECORD),
    LogLocal("input.applied", {"clicks": 3, "keys": 12, "special": "Ctrl+C"}),
    CheckpointMessage(CHECKPOINT),
    Rating(5, "quick and friendly"),
    CallRequest(),
    CallStart(),
    RtcOffer(SDP),
    RtcAnswer(SDP),
    RtcCandidate("candidate:1 1 UDP 2122252543 127.0.0.1 50000 typ host", "0", 0),
    RtcMute(True, False),
    RtcHangup("user_hangup"),
    Kill(),
    End("Reinstalled the printer driver."),
    SessionEnded("killed_by_client", "client"),
]

INVALID_CONTROL = [
    ("not json", "{", "malformed_json"),
    ("array", "[]", "malformed_json"),
    ("no type", "{}", "malformed_json"),
    ("type not string", '{"type":1}', "malformed_json"),
    ("NaN", '{"type":"rating","score":NaN}', "malformed_json"),
    ("unknown type", '{"type":"file.send","name":"a"}', "unknown_type"),
    ("missing field", '{"type":"hello","client":"x"}', "invalid_field"),
    ("bool as int", '{"type":"rating","score":true}', "invalid_field"),
    ("score 6", '{"type":"rating","score":6}', "invalid_field"),
    ("bad permission", '{"type":"permission.request","permissions":["files"]}', "invalid_field"),
    (
        "duplicate permission",
        '{"type":"permission.request","permissions":["view","view"]}',
        "invalid_field",
    ),
    ("bad identifier", '{"type":"viewer.left","viewer_id":"v 3","reason":"x"}', "invalid_field"),
    (
        "key too short",
        '{"type":"key.agent","viewer_id":"v3","agent_public":"AAAA"}',
        "invalid_field",
    ),
    ("key padded", '{"type":"key.reveal","viewer_public":"' + "A" * 43 + '="}', "invalid_field"),
    (
        "epoch 0",
        '{"type":"key.wrap","viewer_id":"v3","epoch":0,"wrapped_key":"' + "A" * 64 + '"}',
        "invalid_field",
    ),
    ("chat too long", '{"type":"chat","text":"' + "x" * 4001 + '"}', "invalid_field"),
]


def control_vectors() -> dict[str, Any]:
    """The control-message golden vectors: one per type, plus invalid ones."""
    assert {m.type for m in CONTROL} == set(MESSAGE_TYPES), "one vector per type"
    return {
        "description": "Clearpane SPEC §3 control messages: text <-> JSON object; "
        "binary values are base64url without padding.",
        "messages": [
            {"type": m.type, "text": serialize_control(m), "json": to_json_object(m)}
            for m in CONTROL
        ],
        "invalid": [{"name": n, "text": t, "error": e} for n, t, e in INVALID_CONTROL],
    }


def main() -> None:
    """Write the vector files."""
    VECTORS.mkdir(exist_ok=True)
    for name, data in (("binary.json", binary_vectors()), ("control.json", control_vectors())):
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        (VECTORS / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
