"""Video chunks (SPEC §4.4): golden vectors, decode property, sealing and the AAD."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import media
from protocol.e2e import E2EError, FrameOpener, FrameSealer
from protocol.errors import ProtocolError
from protocol.messages import KeyCommit, parse_control, serialize_control
from tests.protocol.strategies import VIDEO_CHUNKS

VECTORS = json.loads((Path(__file__).parent / "vectors" / "video.json").read_text("utf-8"))
DOCUMENTED = {"malformed_binary", "invalid_field", "too_large"}
SID = "s-video"


@pytest.mark.parametrize("vector", VECTORS["frames"], ids=lambda v: v["name"])
def test_frame_vectors_both_directions(vector: dict[str, Any]) -> None:
    f = vector["fields"]
    expected = media.VideoChunkFrame(
        f["flags"], f["epoch"], f["seq"], bytes.fromhex(f["ciphertext_hex"])
    )
    wire = bytes.fromhex(vector["hex"])
    assert bytes(expected) == wire
    parsed = media.parse_binary(wire)
    assert isinstance(parsed, media.VideoChunkFrame)
    assert parsed == expected and parsed.key is f["key"] and parsed.full is f["key"]
    assert wire.startswith(parsed.header()) and len(parsed.header()) == 14


@pytest.mark.parametrize("vector", VECTORS["payloads"], ids=lambda v: v["name"])
def test_payload_vectors_both_directions(vector: dict[str, Any]) -> None:
    f = vector["fields"]
    expected = media.VideoChunk(
        f["codec"], f["width"], f["height"], f["timestamp_us"], bytes.fromhex(f["data_hex"])
    )
    assert bytes(expected) == bytes.fromhex(vector["hex"])
    assert media.VideoChunk.parse(bytes.fromhex(vector["hex"])) == expected
    assert expected.codec_name == f["codec_name"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors(vector: dict[str, Any]) -> None:
    parser = {"binary": media.parse_binary, "video_chunk": media.VideoChunk.parse}
    with pytest.raises(ProtocolError) as info:
        parser[vector["parser"]](bytes.fromhex(vector["hex"]))
    assert info.value.code == vector["error"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_documented_error(data: bytes) -> None:
    for parser in (media.VideoChunk.parse, media.parse_binary):
        try:
            parser(data)
            parser(b"\x04" + data)
        except ProtocolError as exc:
            assert exc.code in DOCUMENTED


@settings(max_examples=200, deadline=None)
@given(VIDEO_CHUNKS)
def test_chunk_round_trip(chunk: media.VideoChunk) -> None:
    assert media.VideoChunk.parse(bytes(chunk)) == chunk


def test_sealed_chunks_share_the_seq_with_updates_and_open() -> None:
    key = os.urandom(32)
    sealer, opener = FrameSealer(SID, 1, key), FrameOpener(SID)
    opener.add_key(1, key)
    chunk = bytes(media.VideoChunk(media.VIDEO_VP9, 64, 32, 0, b"vp9"))
    first = sealer.seal_video(True, chunk)
    update = sealer.seal(media.FLAG_FULL, b"tiles")
    second = sealer.seal_video(False, chunk)
    assert (first.seq, update.seq, second.seq) == (1, 2, 3)
    assert first.key and not second.key
    for frame in (first, update, second):
        parsed = media.parse_binary(bytes(frame))
        assert isinstance(parsed, media.ScreenUpdateFrame | media.VideoChunkFrame)
        opener.open(parsed)
    assert media.VideoChunk.parse(_open_alone(key, first)).data == b"vp9"


def _open_alone(key: bytes, frame: media.VideoChunkFrame) -> bytes:
    opener = FrameOpener(SID)
    opener.add_key(1, key)
    return opener.open(frame)


def test_the_kind_and_key_flag_are_authenticated() -> None:
    """A chunk cannot be passed off as a screen update, nor a delta as a keyframe."""
    key = os.urandom(32)
    frame = FrameSealer(SID, 1, key).seal_video(False, b"x" * 20)
    as_update = media.ScreenUpdateFrame(frame.flags, frame.epoch, frame.seq, frame.ciphertext)
    as_key = media.VideoChunkFrame(media.FLAG_KEY, frame.epoch, frame.seq, frame.ciphertext)
    for forged in (as_update, as_key):
        opener = FrameOpener(SID)
        opener.add_key(1, key)
        with pytest.raises(E2EError) as info:
            opener.open(forged)
        assert info.value.code == "decrypt_failed"


def test_key_commit_carries_video_codecs_and_stays_optional() -> None:
    msg = KeyCommit(commitment=bytes(32), video_codecs=("vp9", "h264"))
    assert parse_control(serialize_control(msg)) == msg
    old = KeyCommit(commitment=bytes(32))
    assert "video_codecs" not in serialize_control(old)
    assert parse_control(serialize_control(old)) == old
