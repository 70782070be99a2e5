"""viewer/js/e2e.js in real Chromium (WebCrypto) against the SPEC §8 vectors and live
against the Python agent side (protocol.e2e)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from protocol import e2e
from protocol.media import InputFrame, parse_binary

ROOT = Path(__file__).resolve().parents[2]
VIEWER = ROOT / "viewer"
VECTORS_PATH = ROOT / "tests" / "protocol" / "vectors" / "e2e.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))

pytestmark = pytest.mark.browser

TEST_PAGE = "<!doctype html><meta charset=utf-8><title>e2e vectors</title>"

# Runs every vector with e2e.js; returns [{name, ok, detail}]. Input-frame negatives
# are agent-side checks (the viewer only seals input), so the page skips them.
RUN_VECTORS_JS = """
async () => {
  const m = await import('/js/e2e.js');
  const codec = await import('/js/codec.js');  // the one wire codec: headers, viewer ids
  const V = await (await fetch('/vectors/e2e.json')).json();
  const H = m.hexToBytes, X = m.bytesToHex;
  const sid = V.session_id, vid = V.viewer_id, ag = V.agreement;
  const results = [];
  const check = async (name, fn) => {
    try { const d = await fn(); results.push({name, ok: d === true, detail: String(d)}); }
    catch (e) { results.push({name, ok: false, detail: `${e.name}: ${e.message}`}); }
  };
  const expectError = async (name, code, fn) => {
    try { await fn(); results.push({name, ok: false, detail: 'no error'}); }
    catch (e) {
      results.push({name, ok: e instanceof m.E2EError && e.code === code, detail: String(e.code)});
    }
  };
  const ka = await m.ViewerKeyAgreement.create(sid, vid, {privateKey: H(ag.viewer_private)});
  await check('viewer public', () => X(ka.publicKey) === ag.viewer_public);
  await check('commitment', () => X(ka.commitment) === ag.commitment);
  await check('transcript', async () => X(await m.transcriptHash(
    sid, vid, H(ag.commitment), H(ag.agent_public), H(ag.viewer_public))) === ag.transcript);
  const priv = await m.importX25519Private(H(ag.viewer_private));
  const z = await m.x25519(priv, H(ag.agent_public));
  await check('shared secret Z', () => X(z) === ag.shared_secret);
  const raw = await m.deriveKeyBytes(z, H(ag.transcript));
  await check('K_wrap', () => X(raw.wrapKey) === ag.wrap_key);
  await check('K_input', () => X(raw.inputKey) === ag.input_key);
  await check('S', () => X(raw.sas) === ag.sas);
  const {viewerPublic, keys} = await ka.reveal(H(ag.agent_public));
  await check('reveal V', () => X(viewerPublic) === ag.viewer_public);
  await check('verification code', () => keys.verificationCode === ag.verification_code);
  for (const w of V.content_wraps) {
    await check(`unwrap epoch ${w.epoch}`, async () => X(await m.unwrapContentKey(
      keys.wrapKey, sid, vid, w.epoch, H(w.wrapped))) === w.content_key);
  }
  const au = V.audit;
  await check('audit unwrap', async () => X(await m.unwrapForAudit(
    H(au.recipient_private), sid, au.epoch, H(au.ephemeral_public), H(au.wrapped))) === au.content_key);
  const opener = new m.FrameOpener(sid);
  for (const w of V.content_wraps) await opener.addKey(w.epoch, H(w.content_key));
  for (const f of V.screen_frames) {
    await check(`screen header seq ${f.seq}`, () =>
      X(codec.screenUpdateHeader(f.flags, f.epoch, BigInt(f.seq))) === f.header);
    await check(`open screen seq ${f.seq}`, async () => X(await opener.open(H(f.frame))) === f.plaintext);
  }
  await check('screen last seq', () => opener.lastSeq === BigInt(V.screen_frames.at(-1).seq));
  const sealer = await m.InputSealer.create(sid, codec.viewerNumber(vid), H(ag.input_key));
  for (const f of V.input_frames) {
    await check(`seal input seq ${f.seq}`, async () => X(await sealer.seal(H(f.plaintext))) === f.frame);
  }
  const lowOrder = await m.ViewerKeyAgreement.create(sid, vid);
  await expectError('low-order agent key', 'bad_key', () => lowOrder.reveal(new Uint8Array(32)));
  const codecError = async (name, fn) => {
    try { await fn(); results.push({name, ok: false, detail: 'no error'}); }
    catch (e) {
      results.push({name, ok: e instanceof codec.CodecError && e.code === 'invalid_field', detail: String(e.code)});
    }
  };
  // One viewer-id pattern, the same as protocol.e2e.viewer_number (SPEC §4.2).
  await codecError('viewer id not canonical', () => codec.viewerNumber('v03'));
  await codecError('viewer id with sign', () => codec.viewerNumber('v+3'));
  await codecError('viewer id over u32', () => codec.viewerNumber('v4294967296'));
  await check('viewer number', () => codec.viewerNumber('v4294967295') === 4294967295);
  await check('viewer number zero', () => codec.viewerNumber('v0') === 0);
  await check('e2e has no second wire codec', () =>
    !('viewerNumber' in m) && !('screenHeader' in m) && !('parseScreenHeader' in m));
  for (const n of V.negative) {
    if (n.kind === 'screen') {
      await expectError(n.name, n.expect, async () => {
        const op = new m.FrameOpener(n.session_id ?? sid);
        for (const w of V.content_wraps) if (n.epochs.includes(w.epoch)) await op.addKey(w.epoch, H(w.content_key));
        for (const f of n.frames.slice(0, -1)) await op.open(H(f));
        const before = op.lastSeq;
        try { await op.open(H(n.frames.at(-1))); }
        finally { if (op.lastSeq !== before) throw new Error('state changed on failure'); }
      });
    } else if (n.kind === 'wrap') {
      await expectError(n.name, n.expect, () => m.unwrapContentKey(keys.wrapKey, sid, vid, n.epoch, H(n.wrapped)));
    } else if (n.kind === 'commitment') {
      await expectError(n.name, n.expect, async () => {
        if (X(await m.commitmentOf(H(n.viewer_public))) !== n.commitment) {
          throw new m.E2EError('bad_commitment', 'mismatch');
        }
      });
    }
  }
  return results;
}
"""


async def _serve(aiohttp_server: Any) -> str:
    async def test_page(_: web.Request) -> web.Response:
        return web.Response(text=TEST_PAGE, content_type="text/html")

    async def vectors(_: web.Request) -> web.Response:
        return web.Response(body=VECTORS_PATH.read_bytes(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/", test_page)
    app.router.add_get("/vectors/e2e.json", vectors)
    app.router.add_static("/js", VIEWER / "js")
    server = await aiohttp_server(app, host="127.0.0.1")
    return f"http://127.0.0.1:{server.port}/"


async def test_e2e_js_passes_every_vector(page: Any, aiohttp_server: Any) -> None:
    await page.goto(await _serve(aiohttp_server))
    results = await page.evaluate(RUN_VECTORS_JS)
    failed = [r for r in results if not r["ok"]]
    assert not failed, failed
    names = {r["name"] for r in results}
    js_negatives = {n["name"] for n in VECTORS["negative"] if n["kind"] != "input"}
    assert js_negatives <= names
    assert len(js_negatives) >= 10
    assert {"verification code", "audit unwrap", "seal input seq 2", "low-order agent key"} <= names


async def test_python_agent_and_browser_viewer_interoperate(page: Any, aiohttp_server: Any) -> None:
    """A live key agreement: codes match, Python frames open in the browser, browser
    input opens in Python; tampering is caught across the boundary."""
    sid, vid = "s-live-1", "v7"
    await page.goto(await _serve(aiohttp_server))
    commit_hex = await page.evaluate(
        """async ([sid, vid]) => {
             window.m = await import('/js/e2e.js');
             window.ka = await m.ViewerKeyAgreement.create(sid, vid);
             return m.bytesToHex(ka.commitment);
           }""",
        [sid, vid],
    )
    agent = e2e.AgentKeyAgreement(sid, vid)
    a_pub = agent.on_commit(bytes.fromhex(commit_hex))
    reveal = await page.evaluate(
        """async (a) => {
             const {viewerPublic, keys} = await ka.reveal(m.hexToBytes(a));
             window.keys = keys;
             return {v: m.bytesToHex(viewerPublic), code: keys.verificationCode};
           }""",
        a_pub.hex(),
    )
    keys = agent.on_reveal(bytes.fromhex(reveal["v"]))
    assert keys.verification_code == reveal["code"]
    assert len(reveal["code"]) == 7

    ring = e2e.ContentKeyring()
    sealer = e2e.FrameSealer(sid, ring.epoch, ring.key)
    plaintexts = [b"full frame \x00\xff" * 50, b"delta"]
    frames = [bytes(sealer.seal(1, plaintexts[0])), bytes(sealer.seal(0, plaintexts[1]))]
    tampered = bytearray(frames[1])
    tampered[-3] ^= 0x04
    recipient = X25519PrivateKey.generate()
    audit = ring.wrap_for_audit(recipient.public_key().public_bytes_raw(), sid)
    opened = await page.evaluate(
        """async ([sid, vid, epoch, wrapped, frames, tampered, rec, eph, awrapped]) => {
             const H = m.hexToBytes;
             const k = await m.unwrapContentKey(keys.wrapKey, sid, vid, epoch, H(wrapped));
             const op = await m.FrameOpener.create(sid, epoch, k);
             let tamperedError = null;
             try { await op.open(H(tampered)); } catch (e) { tamperedError = e.code; }
             const out = [];
             // The client passes frames parsed by codec.js; raw bytes work too.
             const codec = await import('/js/codec.js');
             out.push(m.bytesToHex(await op.open(H(frames[0]))));
             out.push(m.bytesToHex(await op.open(codec.parseBinary(H(frames[1])))));
             let replayError = null;
             try { await op.open(H(frames[0])); } catch (e) { replayError = e.code; }
             const ak = await m.unwrapForAudit(H(rec), sid, epoch, H(eph), H(awrapped));
             return {out, tamperedError, replayError, auditKey: m.bytesToHex(ak)};
           }""",
        [
            sid,
            vid,
            ring.epoch,
            ring.wrap_for_viewer(keys, sid, vid).hex(),
            [f.hex() for f in frames],
            tampered.hex(),
            recipient.private_bytes_raw().hex(),
            audit.ephemeral_public.hex(),
            audit.wrapped_key.hex(),
        ],
    )
    assert opened["out"] == [p.hex() for p in plaintexts]
    assert opened["tamperedError"] == "decrypt_failed"
    assert opened["replayError"] == "replayed"
    assert opened["auditKey"] == ring.key.hex()

    batches = [bytes.fromhex("00010100640032"), bytes.fromhex("000105000000ff0d00")]
    sealed = await page.evaluate(
        """async ([sid, vid, batches]) => {
             const codec = await import('/js/codec.js');
             const s = await m.InputSealer.create(sid, codec.viewerNumber(vid), keys.inputKey);
             const out = [];
             for (const b of batches) out.push(m.bytesToHex(await s.seal(m.hexToBytes(b))));
             return out;
           }""",
        [sid, vid, [b.hex() for b in batches]],
    )
    opener = e2e.InputOpener(sid, e2e.viewer_number(vid), keys.input_key)
    for raw, plain in zip(sealed, batches, strict=True):
        frame = parse_binary(bytes.fromhex(raw))
        assert isinstance(frame, InputFrame)
        assert frame.sender == 7
        assert opener.open(frame) == plain
    with pytest.raises(e2e.E2EError):
        opener.open(parse_binary(bytes.fromhex(sealed[0])))  # type: ignore[arg-type]
