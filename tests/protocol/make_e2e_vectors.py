"""Generate ``tests/protocol/vectors/e2e.json`` (SPEC §8 test vectors).

Run ``.venv/bin/python -m tests.protocol.make_e2e_vectors`` after a deliberate
change of the construction, review the diff, commit. Tests read the committed
JSON (they never regenerate it), so an accidental change in ``protocol/e2e.py``
or ``viewer/js/e2e.js`` fails them.

Every secret here is derived from a fixed label (``_fixed``), so the file is
reproducible byte for byte. All binary values are lowercase hex.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from protocol import e2e
from protocol.e2e import base

OUT = Path(__file__).resolve().parent / "vectors" / "e2e.json"

SESSION_ID = "s-9f2c41"
VIEWER_ID = "v3"


def _fixed(label: str) -> bytes:
    """A fixed 32-byte value for the vectors (never use this outside tests)."""
    return hashlib.sha256(b"clearpane.v1 test vector " + label.encode()).digest()


def screen_plaintext(width: int, height: int, image: bytes) -> bytes:
    """A ScreenUpdate payload of SPEC §4.1: one JPEG image, one rect covering it."""
    out = struct.pack(">HHB", width, height, 1)
    out += struct.pack(">BI", 1, len(image)) + image
    out += struct.pack(">H", 1) + struct.pack(">BHHHHHH", 0, 0, 0, 16, 32, 64, 64)
    return out


def input_plaintext() -> bytes:
    """An InputBatch payload of SPEC §4.2: a pointer move, a left click, Enter."""
    events = [
        struct.pack(">BHH", 1, 100, 200),
        struct.pack(">BHHB", 2, 100, 200, 1),
        struct.pack(">BHHB", 3, 100, 200, 1),
        struct.pack(">BIB", 5, 0xFF0D, 0),
    ]
    return struct.pack(">H", len(events)) + b"".join(events)


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


def build() -> dict[str, Any]:
    """Compute every vector with ``protocol.e2e`` and fixed secrets."""
    agent_priv, viewer_priv = _fixed("agent"), _fixed("viewer")
    viewer = e2e.ViewerKeyAgreement(SESSION_ID, VIEWER_ID, private_key=viewer_priv)
    agent = e2e.AgentKeyAgreement(SESSION_ID, VIEWER_ID, private_key=agent_priv)
    a_pub = agent.on_commit(viewer.commitment)
    v_pub, viewer_keys = viewer.reveal(a_pub)
    keys = agent.on_reveal(v_pub)
    assert keys == viewer_keys
    transcript = e2e.transcript_hash(SESSION_ID, VIEWER_ID, viewer.commitment, a_pub, v_pub)
    z = base.exchange(base.private_from(agent_priv), v_pub)
    sas = base.hkdf(z, transcript, base.SAS_LABEL, 4)

    content = {1: _fixed("content key 1"), 2: _fixed("content key 2")}
    wraps = [
        {
            "epoch": epoch,
            "content_key": key.hex(),
            "wrapped": e2e.wrap_content_key(keys.wrap_key, SESSION_ID, VIEWER_ID, epoch, key).hex(),
        }
        for epoch, key in content.items()
    ]

    recipient_priv, ephemeral_priv = _fixed("audit recipient"), _fixed("audit ephemeral 1")
    recipient_pub = base.raw_public(base.private_from(recipient_priv))
    audit = e2e.wrap_for_audit(
        recipient_pub, SESSION_ID, 1, content[1], ephemeral_private=ephemeral_priv
    )

    jpeg = bytes.fromhex("ffd8ffe000104a46494600") + b"clearpane" + bytes.fromhex("ffd9")
    plain = [
        screen_plaintext(1920, 1080, jpeg),
        screen_plaintext(1920, 1080, jpeg[::-1]),
        screen_plaintext(1280, 720, b""),
    ]
    sealer = e2e.FrameSealer(SESSION_ID, 1, content[1])
    frames = [sealer.seal(1, plain[0]), sealer.seal(0, plain[1])]
    sealer.rekey(2, content[2])
    frames.append(sealer.seal(1, plain[2]))
    screen = [
        {
            "flags": f.flags,
            "epoch": f.epoch,
            "seq": f.seq,
            "plaintext": p.hex(),
            "header": f.header().hex(),
            "frame": bytes(f).hex(),
        }
        for f, p in zip(frames, plain, strict=True)
    ]

    in_plain = [input_plaintext(), struct.pack(">H", 1) + struct.pack(">BHHhh", 4, 5, 6, 0, -3)]
    in_sealer = e2e.InputSealer(SESSION_ID, e2e.viewer_number(VIEWER_ID), keys.input_key)
    in_frames = [in_sealer.seal(p) for p in in_plain]
    inputs = [
        {
            "sender": f.sender,
            "seq": f.seq,
            "plaintext": p.hex(),
            "header": f.header().hex(),
            "frame": bytes(f).hex(),
        }
        for f, p in zip(in_frames, in_plain, strict=True)
    ]

    f1, f2, f3 = (bytes(f) for f in frames)
    i1, i2 = (bytes(f) for f in in_frames)
    negative = [
        # Screen: all frames before the last open; the last raises `expect`.
        {"name": "screen tampered tag", "kind": "screen", "epochs": [1],
         "frames": [_flip(f1, len(f1) - 1).hex()], "expect": "decrypt_failed"},
        {"name": "screen tampered ciphertext", "kind": "screen", "epochs": [1],
         "frames": [_flip(f1, 20).hex()], "expect": "decrypt_failed"},
        {"name": "screen tampered flags", "kind": "screen", "epochs": [1],
         "frames": [_flip(f1, 1).hex()], "expect": "decrypt_failed"},
        {"name": "screen tampered seq", "kind": "screen", "epochs": [1],
         "frames": [_flip(f1, 13, 0x10).hex()], "expect": "decrypt_failed"},
        {"name": "screen truncated", "kind": "screen", "epochs": [1],
         "frames": [f1[: e2e.SCREEN_HEADER_LEN + 20].hex()], "expect": "decrypt_failed"},
        {"name": "screen replayed seq", "kind": "screen", "epochs": [1],
         "frames": [f1.hex(), f2.hex(), f2.hex()], "expect": "replayed"},
        {"name": "screen reordered", "kind": "screen", "epochs": [1],
         "frames": [f2.hex(), f1.hex()], "expect": "replayed"},
        {"name": "screen older epoch after newer", "kind": "screen", "epochs": [1, 2],
         "frames": [f3.hex(), f2.hex()], "expect": "replayed"},
        {"name": "screen epoch without key", "kind": "screen", "epochs": [1],
         "frames": [f3.hex()], "expect": "unknown_epoch"},
        {"name": "screen other session", "kind": "screen", "epochs": [1],
         "session_id": "s-other", "frames": [f1.hex()], "expect": "decrypt_failed"},
        {"name": "input tampered tag", "kind": "input",
         "frames": [_flip(i1, len(i1) - 1).hex()], "expect": "decrypt_failed"},
        {"name": "input replayed seq", "kind": "input",
         "frames": [i1.hex(), i2.hex(), i1.hex()], "expect": "replayed"},
        {"name": "input other sender", "kind": "input",
         "frames": [_flip(i1, 4).hex()], "expect": "wrong_sender"},
        {"name": "wrap tampered", "kind": "wrap", "epoch": 1,
         "wrapped": _flip(bytes.fromhex(wraps[0]["wrapped"]), 0).hex(), "expect": "decrypt_failed"},
        {"name": "wrap wrong epoch", "kind": "wrap", "epoch": 2,
         "wrapped": wraps[0]["wrapped"], "expect": "decrypt_failed"},
        {"name": "wrong commitment", "kind": "commitment",
         "commitment": viewer.commitment.hex(),
         "viewer_public": base.raw_public(base.private_from(_fixed("mallory"))).hex(),
         "expect": "bad_commitment"},
    ]  # fmt: skip

    return {
        "description": "Clearpane SPEC §8 end-to-end vectors (hex). Generated by "
        "tests/protocol/make_e2e_vectors.py; read by tests/protocol/test_e2e.py and "
        "tests/viewer/test_e2e_vectors.py.",
        "session_id": SESSION_ID,
        "viewer_id": VIEWER_ID,
        "viewer_number": e2e.viewer_number(VIEWER_ID),
        "agreement": {
            "agent_private": agent_priv.hex(),
            "viewer_private": viewer_priv.hex(),
            "agent_public": a_pub.hex(),
            "viewer_public": v_pub.hex(),
            "commitment": viewer.commitment.hex(),
            "transcript": transcript.hex(),
            "shared_secret": z.hex(),
            "wrap_key": keys.wrap_key.hex(),
            "input_key": keys.input_key.hex(),
            "sas": sas.hex(),
            "verification_code": keys.verification_code,
        },
        "content_wraps": wraps,
        "audit": {
            "recipient_private": recipient_priv.hex(),
            "recipient_public": recipient_pub.hex(),
            "ephemeral_private": ephemeral_priv.hex(),
            "ephemeral_public": audit.ephemeral_public.hex(),
            "epoch": audit.epoch,
            "content_key": content[1].hex(),
            "wrapped": audit.wrapped_key.hex(),
        },
        "screen_frames": screen,
        "input_frames": inputs,
        "negative": negative,
    }


def main() -> None:
    """Write the vectors file."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
