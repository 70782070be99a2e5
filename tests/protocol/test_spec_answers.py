"""SPEC §11 answers, byte by byte: each test recomputes a vector of
``tests/protocol/vectors/e2e.json`` from the SPEC text alone with ``cryptography``'s
primitives (none of ``protocol.e2e``), the way an independent implementer would, and
shows that the plausible misreading does not match."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

V: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "e2e.json").read_text(encoding="utf-8")
)
SID: str = V["session_id"]
VID: str = V["viewer_id"]
AG: dict[str, str] = V["agreement"]


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


def _lp(s: str) -> bytes:
    raw = s.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


def _content_key(epoch: int) -> bytes:
    return _h(next(w["content_key"] for w in V["content_wraps"] if w["epoch"] == epoch))


def test_screen_aad_is_the_header_then_the_raw_session_id() -> None:
    """§11.3: AAD = the 14 clear header bytes ‖ UTF-8 session id, no length prefix;
    nonce = u32 purpose 1 ‖ u64 seq, big-endian."""
    for f in V["screen_frames"]:
        frame = _h(f["frame"])
        header, ciphertext = frame[:14], frame[14:]
        assert header == _h(f["header"])
        nonce = struct.pack(">IQ", 1, f["seq"])
        aead = AESGCM(_content_key(f["epoch"]))
        assert aead.decrypt(nonce, ciphertext, header + SID.encode()) == _h(f["plaintext"])
        with pytest.raises(InvalidTag):  # the length-prefixed reading is wrong
            aead.decrypt(nonce, ciphertext, header + _lp(SID))


def test_input_aad_is_the_header_then_the_raw_session_id() -> None:
    """§11.3: input frames: 13 header bytes ‖ UTF-8 session id; key K_input, purpose 2."""
    aead = AESGCM(_h(AG["input_key"]))
    for f in V["input_frames"]:
        frame = _h(f["frame"])
        header, ciphertext = frame[:13], frame[13:]
        nonce = struct.pack(">IQ", 2, f["seq"])
        assert aead.decrypt(nonce, ciphertext, header + SID.encode()) == _h(f["plaintext"])
        with pytest.raises(InvalidTag):
            aead.decrypt(nonce, ciphertext, header + _lp(SID))


def test_transcript_label_is_plain_ascii_and_ids_are_u16_big_endian_prefixed() -> None:
    """§11.4: the label is its ASCII bytes (no length, no terminator); lp() is a u16
    big-endian length then UTF-8."""
    parts = [_h(AG["commitment"]), _h(AG["agent_public"]), _h(AG["viewer_public"])]
    t = hashlib.sha256(b"clearpane.v1 transcript" + _lp(SID) + _lp(VID) + b"".join(parts))
    assert t.hexdigest() == AG["transcript"]
    prefixed = hashlib.sha256(b"\x00\x17clearpane.v1 transcript" + _lp(SID) + _lp(VID))
    assert prefixed.hexdigest() != AG["transcript"]


def test_verification_code_reads_s_as_a_big_endian_u32() -> None:
    """§11.4: code = int.from_bytes(S, "big") mod 1,000,000, six digits "ddd ddd"."""
    sas = _h(AG["sas"])
    value = int.from_bytes(sas, "big") % 1_000_000
    assert f"{value:06d}"[:3] + " " + f"{value:06d}"[3:] == AG["verification_code"]
    little = int.from_bytes(sas, "little") % 1_000_000
    assert f"{little:06d}"[:3] + " " + f"{little:06d}"[3:] != AG["verification_code"]
