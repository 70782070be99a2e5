"""player.js reads the recording format exactly as audit/recording.py writes it (like
the e2e vectors, Python and the browser must agree), and the Player draws a recording
from memory through the live client and display."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from audit.recording import (
    DIR_AGENT,
    DIR_BROKER,
    FRAME_BINARY,
    FRAME_TEXT,
    INDEX_FILE,
    RECORDING_FILE,
    Recording,
    RecordingWriter,
    read_audit_keys,
    seek_index,
)
from audit.testing import synthetic_recording

T0 = 1_700_000_000_000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_js_parser_agrees_with_python_including_a_torn_tail(
    module_page: Any, tmp_path: Path
) -> None:
    with RecordingWriter(tmp_path, "sess:1", T0) as w:
        for i in range(1, 31):
            flags = 1 if i % 10 == 1 else 0
            payload = (
                bytes([1, flags]) + (1).to_bytes(4, "big") + i.to_bytes(8, "big") + bytes(20 + i)
            )
            w.append(DIR_AGENT, FRAME_BINARY, payload, T0 + i * 170)
            if i % 7 == 0:
                w.append(
                    DIR_BROKER,
                    FRAME_TEXT,
                    json.dumps({"type": "pause", "n": i}).encode(),
                    T0 + i * 170,
                )
    data = (tmp_path / RECORDING_FILE).read_bytes() + b"\x00\x00\x00\x40torn"
    index = (tmp_path / INDEX_FILE).read_bytes()
    (tmp_path / RECORDING_FILE).write_bytes(data)
    rec = Recording(tmp_path)
    js = await module_page.evaluate(
        """async ([data, index, targets]) => {
            const p = await import('/js/player.js');
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const idx = p.parseIndex(Uint8Array.from(atob(index), (c) => c.charCodeAt(0)));
            const { header, length } = p.parseHeader(bytes);
            const frames = p.parseRecords(bytes.subarray(length), length);
            const last = frames[frames.length - 1];
            const end = last.offset + 8 + 14 + last.payload.length;
            return {
                header, length,
                frames: frames.map((f) => [f.seq, f.tMs, f.direction, f.type, f.offset, f.payload.length]),
                index: idx.map((e) => [e.kind, e.seq, e.tMs, e.offset]),
                seeks: targets.map((t) => { const r = p.seekRange(idx, t, end, length); return [r.start, r.end]; }),
                crc: p.crc32(new TextEncoder().encode('123456789')),
            };
        }""",
        [_b64(data), _b64(index), [0, 1000, 2555, 4000, 9999]],
    )
    assert js["header"] == {"version": 1, "session_id": "sess:1", "started_ms": T0}
    assert js["length"] == rec.header_length
    assert js["frames"] == [
        [f.seq, f.t_ms, f.direction, f.frame_type, f.offset, len(f.payload)] for f in rec.frames
    ]
    assert js["index"] == [[e.kind, e.seq, e.t_ms, e.offset] for e in rec.index]
    for target, (start, end) in zip([0, 1000, 2555, 4000, 9999], js["seeks"], strict=True):
        want = seek_index(rec.index, target, rec.valid_length, rec.header_length)
        assert (start, end) == (want.start, want.end), target
    assert js["crc"] == 0xCBF43926  # the CRC-32 check value


async def test_player_draws_a_recording_from_memory(module_page: Any, tmp_path: Path) -> None:
    recipient = x25519.X25519PrivateKey.generate()
    public = recipient.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    raw_private = recipient.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    info = synthetic_recording(
        tmp_path, "s-mem", public, duration_s=9, fps=4, keyframe_every_s=3, width=320, height=200,
        epoch_every_s=6,
    )  # fmt: skip
    data = (tmp_path / RECORDING_FILE).read_bytes()
    index = (tmp_path / INDEX_FILE).read_bytes()
    keys = read_audit_keys(tmp_path)
    result = await module_page.evaluate(
        """async ([data, index, keys, key, targets]) => {
            const p = await import('/js/player.js');
            const { Display } = await import('/js/display.js');
            const dec = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
            const canvas = document.createElement('canvas');
            document.body.appendChild(canvas);
            const display = new Display(canvas, document.body);
            const player = new p.Player({
                source: new p.MemoryRecordingSource(dec(data), dec(index), keys),
                display, recipientKey: dec(key),
            });
            await player.load();
            const out = [];
            for (const t of targets) {
                const cost = await player.seek(t);
                out.push([t, Array.from(display.pixels(300, 195, 1, 1)).slice(0, 3), cost.frames]);
            }
            return { out, duration: player.durationMs, epochs: [...player.keys.keys()] };
        }""",
        [_b64(data), _b64(index), keys, _b64(raw_private), [0, 2900, 3100, 7000, 8999]],
    )
    colours = dict(info.colours)
    assert result["epochs"] == [1, 2]
    assert result["duration"] == info.duration_ms
    for t, rgb, fed in result["out"]:
        keyframe = t // 3000 * 3000
        want = colours[keyframe]
        assert all(abs(a - b) <= 12 for a, b in zip(rgb, want, strict=True)), (t, rgb, want)
        assert fed <= 3 * 4 + 2  # never more than one keyframe interval of frames
