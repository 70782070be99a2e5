"""G3: no message can carry a file, the clipboard or other bulk data from the client.

The test walks the ``ControlMessage`` and ``BinaryMessage`` unions (not a hand
list), so a message added later is checked too. Rules:

- no field is named like a file/clipboard/data carrier;
- every control field has a bounded codec: bytes only as fixed-size keys
  (≤ 48 bytes), text of bounded length, lists of bounded length;
- text longer than a short label exists only where SPEC allows free text:
  chat, note, comment, resolution, SDP/candidate (plus credentials, the audit
  certificate and error text, none of which the agent fills with client data);
- JSON objects the agent sends (``log.local.detail``) are flat, few and short;
- the only bulk bytes in binary frames are encrypted screen updates and input,
  and the plaintext bulk bytes are encoded screen images.
"""

import dataclasses
import re
import typing
from typing import Any

import pytest

from protocol import media
from protocol.limits import MAX_SHORT_TEXT_CHARS
from protocol.messages import ControlMessage
from protocol.messages import _codec as c
from protocol.state import ALLOWED

FORBIDDEN_NAME = re.compile(
    r"file|clip|paste|blob|attach|upload|download|path|^data$|payload|content|document|stream",
    re.IGNORECASE,
)
# Free text longer than a short label, by (type, field): why each one is acceptable.
LONG_TEXT_ALLOWED = {
    ("chat", "text"): "chat the client or engineer types (G3 allows it)",
    ("rating", "comment"): "the client's rating comment",
    ("end", "resolution"): "the engineer's resolution note (viewer → broker)",
    ("rtc.offer", "sdp"): "WebRTC signalling",
    ("rtc.answer", "sdp"): "WebRTC signalling",
    ("rtc.candidate", "candidate"): "WebRTC signalling",
    ("hello", "token"): "a broker-issued credential",
    ("welcome", "resume_token"): "a broker-issued credential (broker → agent)",
    ("audit.recipient", "certificate"): "broker → agent PEM certificate",
    ("error", "message"): "error text (the agent's are produced by protocol code)",
}
MAX_KEY_BYTES = 48
BULK_BINARY_FIELDS = {
    (media.ScreenUpdateFrame, "ciphertext"): "encrypted ScreenUpdate",
    (media.InputFrame, "ciphertext"): "encrypted InputBatch (viewer → agent)",
    (media.UnknownBinary, "data"): "skipped by receivers, never forwarded",
    (media.EncodedImage, "data"): "an encoded screen image",
    (media.VideoChunkFrame, "ciphertext"): "encrypted VideoChunk (the screen as video)",
    (media.VideoChunk, "data"): "one encoded video frame of the screen",
}


def control_types() -> list[type[Any]]:
    return list(typing.get_args(ControlMessage))


def agent_sendable(cls: type[Any]) -> bool:
    tag = cls.__dataclass_fields__["type"].default
    return "agent" in ALLOWED[tag][0]


def codec_violations(owner: str, f: "dataclasses.Field[Any]", agent_sends: bool) -> list[str]:
    """Why a control-message field could carry client data (empty: it cannot)."""
    where = f"{owner}.{f.name}"
    out = []
    if FORBIDDEN_NAME.search(f.name) or FORBIDDEN_NAME.search(str(f.metadata.get(c.KEY) or "")):
        out.append(f"{where}: name suggests file/clipboard/data")
    codec = f.metadata.get(c.CODEC)
    if not isinstance(codec, c.Codec):
        return [*out, f"{where}: no codec"]
    inner = codec.item if isinstance(codec, c.ListOf) else codec
    if isinstance(codec, c.ListOf) and codec.max_items > 64:
        out.append(f"{where}: list of up to {codec.max_items}")
    if isinstance(inner, c.B64u) and inner.size > MAX_KEY_BYTES:
        out.append(f"{where}: {inner.size} bytes is not a key")
    elif isinstance(inner, c.Text) and inner.max_chars > MAX_SHORT_TEXT_CHARS:
        if (owner, f.name) not in LONG_TEXT_ALLOWED:
            out.append(f"{where}: free text of {inner.max_chars} chars")
    elif isinstance(inner, c.JsonObj) and agent_sends:
        if not (inner.flat and inner.max_keys <= 16 and inner.max_str <= 64):
            out.append(f"{where}: an agent-sent object must be flat, few keys, short values")
    elif isinstance(inner, c.Nested):
        for sub in dataclasses.fields(inner.cls):
            out += codec_violations(owner, sub, agent_sends)
    elif not isinstance(
        inner, c.Int | c.Bool | c.Pattern | c.OneOf | c.Perms | c.Text | c.B64u | c.JsonObj
    ):
        out.append(f"{where}: unreviewed codec {type(inner).__name__}")
    if "bytes" in str(f.type) and not isinstance(inner, c.B64u):
        out.append(f"{where}: bytes-typed field")
    return out


def message_violations(cls: type[Any]) -> list[str]:
    tag = cls.__dataclass_fields__["type"].default
    out = []
    for f in dataclasses.fields(cls):
        if f.init:
            out += codec_violations(tag, f, agent_sendable(cls))
    return out


@pytest.mark.parametrize("cls", control_types(), ids=lambda c: c.__name__)
def test_control_message_cannot_carry_client_data(cls: type[Any]) -> None:
    assert message_violations(cls) == []


def test_the_union_is_walked() -> None:
    assert len(control_types()) >= 37


def test_checker_rejects_a_file_message() -> None:
    """The rules fail for a message someone might add (so the test above can fail)."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class FileSend:
        name: str = dataclasses.field(metadata=c.meta(c.Text(100)))
        data: bytes = dataclasses.field(metadata=c.meta(c.B64u(1_000_000)))
        type: typing.Literal["chat"] = dataclasses.field(default="chat", init=False)

    @dataclasses.dataclass(frozen=True, slots=True)
    class ClipboardSet:
        text: str = dataclasses.field(metadata=c.meta(c.Text(60_000)))
        type: typing.Literal["mask.update"] = dataclasses.field(default="mask.update", init=False)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Sneaky:
        detail: dict[str, Any] = dataclasses.field(metadata=c.meta(c.JsonObj()))
        type: typing.Literal["log.local"] = dataclasses.field(default="log.local", init=False)

    assert any("data" in v for v in message_violations(FileSend))
    assert any("free text" in v for v in message_violations(ClipboardSet))
    assert any("flat" in v for v in message_violations(Sneaky))


def binary_classes() -> list[type[Any]]:
    payloads: list[type[Any]] = [media.ScreenUpdate, media.EncodedImage, media.Rect]
    payloads.append(media.VideoChunk)
    payloads += [media.InputBatch, *typing.get_args(media.InputEvent)]
    return [*typing.get_args(media.BinaryMessage), *payloads]


@pytest.mark.parametrize("cls", binary_classes(), ids=lambda c: c.__name__)
def test_binary_bulk_bytes_are_screen_or_input_only(cls: type[Any]) -> None:
    hints = typing.get_type_hints(cls)
    small = {int, tuple[media.EncodedImage, ...], tuple[media.Rect, ...]}
    small.add(tuple[media.InputEvent, ...])  # type: ignore[arg-type]
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if hint in (bytes, bytes | memoryview):
            assert (cls, f.name) in BULK_BINARY_FIELDS, f"{cls.__name__}.{f.name}"
        else:
            assert hint in small, f"{cls.__name__}.{f.name}: {hint}"
        if (cls, f.name) not in BULK_BINARY_FIELDS:
            assert not FORBIDDEN_NAME.search(f.name)


def test_binary_kinds_are_the_reviewed_ones() -> None:
    kinds = {
        cls.kind for cls in typing.get_args(media.BinaryMessage) if cls is not media.UnknownBinary
    }
    # 0x04 reviewed 2026-12-03: the screen as video, same clear header as 0x01 (issue 17).
    reviewed = {media.KIND_SCREEN_UPDATE, media.KIND_INPUT, media.KIND_ACK, media.KIND_VIDEO_CHUNK}
    assert kinds == reviewed
    # Every event is a fixed-size record of small integers (no bulk bytes).
    for event_cls, layout in media.EVENT_LAYOUTS.values():
        assert layout.size <= 8
        hints = typing.get_type_hints(event_cls)
        assert all(hints[f.name] is int for f in dataclasses.fields(event_cls))
