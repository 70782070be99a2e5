"""viewer/js/video.js + client.js in Chromium: WebCodecs decodes the agent's real chunks.

codec.js against the SPEC §4.4 golden vectors; the client offers its codecs in
``key.commit``; VP9, H.264 and AV1 chunks from agent.video (PyAV) are decrypted,
decoded and drawn, the canvas compared with the source frame within a tolerance;
after a gap, delta chunks are skipped until the keyframe the ``refresh`` brings.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from agent.capture import PatternSource
from agent.video import create_encoder
from protocol.media import VideoChunk
from tests.viewer.testing import joined, sent, wait_sent

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "protocol" / "vectors" / "video.json").read_text()
)
W, H = 320, 240
#: Mean absolute error (0–255) between canvas and source: 4:2:0 at crf 26–35 blurs
#: coloured text edges (≈ 2–4); a wrong or stale picture is ≥ 15.
TOLERANCE = 6.0

RUN_VECTORS = """
async (v) => {
  const c = await import('/js/codec.js');
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  const unhex = (s) => new Uint8Array((s.match(/../g) || []).map((x) => parseInt(x, 16)));
  const out = { frames: [], payloads: [], invalid: [] };
  for (const f of v.frames) {
    const p = c.parseBinary(unhex(f.hex));
    out.frames.push({ kind: p.kind, key: p.key, full: p.full, flags: p.flags, epoch: p.epoch,
      seq: p.seq.toString(), ct: hex(p.ciphertext), header: hex(p.header),
      rebuilt: hex(c.buildVideoChunkFrame(p.flags, p.epoch, p.seq, p.ciphertext)) });
  }
  for (const f of v.payloads) {
    const u = c.parseVideoChunk(unhex(f.hex));
    out.payloads.push({ codec: u.codec, codecName: u.codecName, width: u.width, height: u.height,
      ts: u.timestampUs.toString(), data: hex(u.data), rebuilt: hex(c.buildVideoChunk(u)) });
  }
  for (const f of v.invalid) {
    const parse = { binary: c.parseBinary, video_chunk: c.parseVideoChunk }[f.parser];
    try { parse(unhex(f.hex)); out.invalid.push(null); } catch (e) { out.invalid.push(e.code); }
  }
  return out;
}
"""


async def test_codec_js_passes_the_video_vectors(module_page: Any) -> None:
    got = await module_page.evaluate(RUN_VECTORS, VECTORS)
    for vec, g in zip(VECTORS["frames"], got["frames"], strict=True):
        f = vec["fields"]
        assert g["kind"] == "video" and g["key"] is f["key"] and g["full"] is f["key"]
        assert (g["flags"], g["epoch"], g["seq"]) == (f["flags"], f["epoch"], str(f["seq"]))
        assert g["ct"] == f["ciphertext_hex"] and g["rebuilt"] == vec["hex"]
        assert vec["hex"].startswith(g["header"]) and len(g["header"]) == 28
    for vec, g in zip(VECTORS["payloads"], got["payloads"], strict=True):
        f = vec["fields"]
        assert (g["codec"], g["codecName"], g["width"], g["height"]) == (
            f["codec"], f["codec_name"], f["width"], f["height"],
        )  # fmt: skip
        assert g["ts"] == str(f["timestamp_us"]) and g["data"] == f["data_hex"]
        assert g["rebuilt"] == vec["hex"]
    assert got["invalid"] == [v["error"] for v in VECTORS["invalid"]]


def scene() -> list[np.ndarray]:
    src = PatternSource(W, H, motion=False)
    frames = [src.grab()]
    for text in ("Hello", " there", " customer"):
        src.type_text(text)
        frames.append(src.grab())
    src.scroll(2)
    frames.append(src.grab())
    return frames


async def canvas(page: Any) -> np.ndarray:
    """The canvas as RGBA (a lossless PNG from the page: fast to hand over)."""
    url = await page.evaluate("() => T.canvas.toDataURL('image/png')")
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.int16)


def mae(rgba: np.ndarray, bgra: np.ndarray) -> float:
    return float(np.abs(rgba[..., :3] - bgra[..., 2::-1].astype(np.int16)).mean())


@pytest.mark.parametrize("name", ["vp9", "h264", "av1"])
async def test_offered_codec_chunks_are_decoded_onto_the_canvas(
    module_page: Any, name: str
) -> None:
    agent = await joined(module_page)
    commit = next(
        m["text"] for m in await sent(module_page) if m.get("text", {}).get("type") == "key.commit"
    )
    assert set(commit["video_codecs"]) >= {"vp9", "h264", "av1"}  # Debian's Chromium 156
    enc = create_encoder(name, W, H)
    for i, frame in enumerate(scene()):
        out = enc.encode(frame.copy(), i == 0, i * 33_333)
        chunk = bytes(VideoChunk(enc.codec_id, W, H, i * 33_333, out.data))
        wire = bytes(agent.sealer.seal_video(out.key, chunk)).hex()
        await module_page.evaluate("(h) => T.binary(h)", wire)
        seq = agent.sealer.last_seq
        # drawn, then acknowledged (SPEC §4.3)
        await wait_sent(module_page, f"m.hex === '03{seq:016x}'")
        assert mae(await canvas(module_page), frame) < TOLERANCE, (name, i)
    enc.close()
    assert await module_page.evaluate("() => T.client.video.decoded") == 5
    assert await module_page.evaluate("() => T.client.stats.dropped") == 0


async def test_after_a_gap_deltas_wait_for_the_keyframe_the_refresh_brings(
    module_page: Any,
) -> None:
    agent = await joined(module_page)
    enc = create_encoder("vp9", W, H)
    frames = scene()

    async def send(i: int, key: bool = False, lost: bool = False) -> None:
        out = enc.encode(frames[i].copy(), key, i * 33_333)
        chunk = bytes(VideoChunk(enc.codec_id, W, H, i * 33_333, out.data))
        wire = bytes(agent.sealer.seal_video(out.key, chunk)).hex()
        if not lost:  # a lost chunk: the broker's latest-wins slot replaced it
            await module_page.evaluate("(h) => T.binary(h)", wire)

    await send(0, key=True)
    await send(1)
    drawn = await module_page.evaluate("() => T.client.stats.drawn")
    await send(2, lost=True)
    await send(3)  # its reference (2) is gone: skipped, acked, refresh asked
    msgs = await sent(module_page)
    assert any(m.get("text", {}).get("type") == "refresh" for m in msgs)
    assert {"hex": f"03{agent.sealer.last_seq:016x}"} in msgs  # acked all the same
    assert await module_page.evaluate("() => T.client.stats.drawn") == drawn
    assert mae(await canvas(module_page), frames[1]) < TOLERANCE  # still the last good picture
    await send(4, key=True)  # the agent answers refresh with a keyframe
    await wait_sent(module_page, f"m.hex === '03{agent.sealer.last_seq:016x}'")
    assert await module_page.evaluate("() => T.client.stats.drawn") == drawn + 1
    assert mae(await canvas(module_page), frames[4]) < TOLERANCE
    enc.close()


async def test_a_viewer_told_to_use_tiles_offers_no_video(module_page: Any) -> None:
    await module_page.evaluate(
        """async () => {
      const { SessionClient } = await import('/js/client.js');
      const sent = [];
      const c = new SessionClient({ transport: { sendText: (t) => sent.push(JSON.parse(t)) },
        display: {}, videoCodecs: [] });
      c.sessionId = 's'; c.viewerId = 'v1';
      await c._startKeyAgreement();
      window.SENT = sent;
    }"""
    )
    commit = (await module_page.evaluate("() => SENT"))[0]
    assert commit["type"] == "key.commit" and "video_codecs" not in commit
