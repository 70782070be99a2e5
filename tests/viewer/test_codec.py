"""viewer/js/codec.js against the protocol's golden binary vectors (SPEC §4), in Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "protocol" / "vectors" / "binary.json").read_text()
)

# Runs in the page: decode every vector, re-encode it, and report what happened.
RUN_VECTORS = """
async (v) => {
  const c = await import('/js/codec.js');
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  const unhex = (s) => new Uint8Array((s.match(/../g) || []).map((x) => parseInt(x, 16)));
  const out = { frames: [], payloads: [], invalid: [] };
  for (const f of v.frames) {
    const p = c.parseBinary(unhex(f.hex));
    let fields, rebuilt = null;
    if (p.kind === 'screen') {
      fields = { flags: p.flags, epoch: p.epoch, seq: p.seq.toString(), ciphertext_hex: hex(p.ciphertext), full: p.full };
      rebuilt = hex(c.buildScreenUpdateFrame(p.flags, p.epoch, p.seq, p.ciphertext));
    } else if (p.kind === 'input') {
      fields = { sender: p.sender, seq: p.seq.toString(), ciphertext_hex: hex(p.ciphertext) };
      rebuilt = hex(c.buildInputFrame(p.sender, p.seq, p.ciphertext));
    } else if (p.kind === 'ack') {
      fields = { seq: p.seq.toString() };
      rebuilt = hex(c.buildAck(p.seq));
    } else {
      fields = { kind: p.code, data_hex: hex(p.data.subarray(1)) };
    }
    out.frames.push({ name: f.name, kind: p.kind, fields, rebuilt });
  }
  for (const f of v.payloads) {
    const bytes = unhex(f.hex);
    if (f.type === 'screen_update') {
      const u = c.parseScreenUpdate(bytes);
      const fields = { width: u.width, height: u.height,
        images: u.images.map((i) => ({ codec: i.codec, data_hex: hex(i.data) })), rects: u.rects };
      out.payloads.push({ name: f.name, fields, rebuilt: hex(c.buildScreenUpdate(u)) });
    } else {
      const events = c.parseInputBatch(bytes);
      out.payloads.push({ name: f.name, fields: { events }, rebuilt: hex(c.buildInputBatch(events)) });
    }
  }
  for (const f of v.invalid) {
    const parse = { binary: c.parseBinary, screen_update: c.parseScreenUpdate, input_batch: c.parseInputBatch }[f.parser];
    try {
      parse(unhex(f.hex));
      out.invalid.push({ name: f.name, error: null });
    } catch (e) {
      out.invalid.push({ name: f.name, error: e.code || e.name, isCodecError: e instanceof c.CodecError });
    }
  }
  return out;
}
"""

KIND_NAMES = {
    "screen_update_frame": "screen",
    "input_frame": "input",
    "ack_frame": "ack",
    "unknown_binary": "unknown",
}


async def test_codec_passes_golden_frames(module_page: Any) -> None:
    result = await module_page.evaluate(RUN_VECTORS, VECTORS)
    assert len(result["frames"]) == len(VECTORS["frames"]) > 0
    for vec, got in zip(VECTORS["frames"], result["frames"], strict=True):
        assert got["kind"] == KIND_NAMES[vec["type"]], vec["name"]
        want = {k: (str(v) if k == "seq" else v) for k, v in vec["fields"].items()}
        assert {k: got["fields"][k] for k in want} == want, vec["name"]
        if vec["type"] == "screen_update_frame":
            assert got["fields"]["full"] == bool(vec["fields"]["flags"] & 1)
        if got["rebuilt"] is not None:
            assert got["rebuilt"] == vec["hex"], vec["name"]


async def test_codec_passes_golden_payloads(module_page: Any) -> None:
    result = await module_page.evaluate(RUN_VECTORS, VECTORS)
    assert len(result["payloads"]) == len(VECTORS["payloads"]) > 0
    for vec, got in zip(VECTORS["payloads"], result["payloads"], strict=True):
        if vec["type"] == "input_batch":
            want = [
                {k: v for k, v in e.items() if k != "event_type"} for e in vec["fields"]["events"]
            ]
            assert got["fields"]["events"] == want, vec["name"]
        else:
            assert got["fields"] == vec["fields"], vec["name"]
        assert got["rebuilt"] == vec["hex"], vec["name"]


async def test_codec_rejects_invalid_vectors_with_spec_codes(module_page: Any) -> None:
    result = await module_page.evaluate(RUN_VECTORS, VECTORS)
    assert len(result["invalid"]) == len(VECTORS["invalid"]) > 0
    for vec, got in zip(VECTORS["invalid"], result["invalid"], strict=True):
        assert got["error"] == vec["error"], vec["name"]
        assert got["isCodecError"], vec["name"]


async def test_builders_refuse_out_of_range_fields(module_page: Any) -> None:
    errors = await module_page.evaluate(
        """async () => {
        const c = await import('/js/codec.js');
        const attempt = (fn) => { try { fn(); return null; } catch (e) { return e.code; } };
        return [
          attempt(() => c.buildAck(0)),
          attempt(() => c.buildInputBatch([{ type: 'button_down', x: 1, y: 1, button: 4 }])),
          attempt(() => c.buildInputBatch([{ type: 'pointer_move', x: 70000, y: 1 }])),
          attempt(() => c.buildInputBatch(Array(257).fill({ type: 'pointer_move', x: 1, y: 1 }))),
          attempt(() => c.screenUpdateHeader(2, 1, 1)),
          attempt(() => c.viewerNumber('x3')),
          attempt(() => c.parseControl('[1]')),
          attempt(() => c.parseControl('x'.repeat(70000))),
          c.viewerNumber('v42'),
          c.b64uEncode(c.b64uDecode('AQID_-8')),
        ];
      }"""
    )
    assert errors == [
        "invalid_field",
        "invalid_field",
        "invalid_field",
        "too_large",
        "invalid_field",
        "invalid_field",
        "malformed_json",
        "too_large",
        42,
        "AQID_-8",
    ]


async def test_control_vectors_parse_in_the_browser(module_page: Any) -> None:
    path = Path(__file__).resolve().parents[1] / "protocol" / "vectors" / "control.json"
    data = json.loads(path.read_text())
    messages = data["messages"]
    framing = [m for m in data["invalid"] if m["error"] in ("malformed_json", "too_large")]
    assert messages and framing
    got = await module_page.evaluate(
        """async ([messages, framing]) => {
        const c = await import('/js/codec.js');
        const errorOf = (t) => { try { c.parseControl(t); return null; } catch (e) { return e.code; } };
        return {
          parsed: messages.map((m) => c.parseControl(m.text)),
          roundtrip: messages.map((m) => c.parseControl(c.serializeControl(m.json))),
          errors: framing.map((m) => errorOf(m.text)),
        };
      }""",
        [messages, framing],
    )
    assert got["parsed"] == [m["json"] for m in messages]
    assert got["roundtrip"] == [m["json"] for m in messages]
    assert got["errors"] == [m["error"] for m in framing]
