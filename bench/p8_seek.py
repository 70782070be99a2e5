"""P8: seek in a one-hour recording in the replay page (target ≤ 1 s).

Writes a synthetic one-hour recording (audit.testing.synthetic_recording: 1920×1080,
10 end-to-end encrypted updates per second, text-like JPEG tiles, a FULL update every
30 s — the broker asks the agent for one that often, broker.recording.KEYFRAME_INTERVAL_MS),
starts the real broker (TLS, SQLite), signs in as a reviewer in real Chromium, opens the
replay page, loads the audit key, and seeks to random positions. Each seek is timed in
the page from the click to the picture drawn: fetch the byte range from the broker,
decrypt, decode and draw every update from the keyframe to the target.

    .venv/bin/python -m bench.p8_seek      # BENCH_P8_SEEKS=30 BENCH_P8_MINUTES=60
    BENCH_P8_VIDEO=vp9 .venv/bin/python -m bench.p8_seek   # the same with a video recording
    BENCH_P8_VIDEO=tiles,vp9 .venv/bin/python -m bench.p8_seek   # both, one after the other
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CHROMIUM,
    CHROMIUM_ARGS,
    env_int,
    percentile,
    print_table,
    write_result,
)

STAGES_INIT_JS = """(() => {
  window.__p8 = { decrypt: 0, decrypts: 0, decodes: 0, lastDecode: 0, lastOutput: 0 };
  const subtle = crypto.subtle;
  const decrypt = subtle.decrypt.bind(subtle);
  subtle.decrypt = async (...args) => {
    const t = performance.now();
    try { return await decrypt(...args); } finally { window.__p8.decrypt += performance.now() - t; window.__p8.decrypts += 1; }
  };
  if (typeof VideoDecoder !== 'undefined') {
    const VD = window.VideoDecoder;
    window.VideoDecoder = class extends VD {
      constructor(init) {
        const out = init.output;
        super({ ...init, output: (f) => { window.__p8.lastOutput = performance.now(); out(f); } });
      }
      decode(chunk) { window.__p8.decodes += 1; window.__p8.lastDecode = performance.now(); return super.decode(chunk); }
    };
  }
})();"""
"""Stamps in the page: the seek's decrypt calls and decoder work (where the time goes)."""


async def run(
    minutes: int, seeks: int, video: str = "", skip_unchanged: bool = True
) -> dict[str, Any]:
    """Run the benchmark; returns the result dictionary."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519
    from playwright.async_api import async_playwright

    from audit.recording import Recording
    from audit.testing import synthetic_recording, write_session_log
    from broker.pki import PKI
    from broker.store import queries
    from broker.store.db import DB
    from broker.testing import running_broker
    from certs.keys import load_certificate
    from cli.audit import main as audit_main

    with tempfile.TemporaryDirectory(prefix="p8-") as tmp:
        tmp_path = Path(tmp)
        async with running_broker(tmp_path) as broker:
            db = broker.app[DB]
            await broker.create_user("erin", "engineer")
            user, password = await broker.create_user("rita", "reviewer")
            eng = await queries.get_user_by_username(db, "erin")
            assert eng is not None
            start = int(time.time() * 1000) - minutes * 60_000 - 60_000
            _, s = await queries.create_request(
                db, description="P8", client_name="C", organisation="O", tier="standard", at=start
            )
            await queries.mark_answered(db, s.id, eng.id, start)
            await queries.mark_ended(db, s.id, "ended_by_engineer", start + minutes * 60_000)
            pki = broker.app[PKI]
            public = load_certificate(pki.audit_cert_path).public_key()
            assert isinstance(public, x25519.X25519PublicKey)
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            t0 = time.perf_counter()
            folder = broker.data_dir / "sessions" / s.id
            if video:  # the screen as video (SPEC §4.4): real GOPs of 30 s
                from bench.video_recording import video_recording

                info = await asyncio.to_thread(
                    video_recording, folder, s.id, raw, duration_s=minutes * 60, fps=10,
                    keyframe_every_s=30, started_ms=start, epoch_every_s=600, codec=video,
                    skip_unchanged=skip_unchanged,
                )  # fmt: skip
            else:
                info = await asyncio.to_thread(
                    synthetic_recording,
                    folder,
                    s.id,
                    raw,
                    duration_s=minutes * 60,
                    fps=10,
                    keyframe_every_s=30,
                    width=1920,
                    height=1080,
                    tile=128,
                    started_ms=start,
                    epoch_every_s=600,
                    office=True,
                )
            write_session_log(broker.data_dir, s.id, pki.signing_key, start_ms=start)
            generated_s = time.perf_counter() - t0
            size = (folder / "recording.cprec").stat().st_size
            t0 = time.perf_counter()
            rec = Recording(folder)
            server_open_ms = (time.perf_counter() - t0) * 1000
            del rec
            key_file = tmp_path / "audit-key.json"
            audit_main(["reviewer-key", "--data-dir", str(broker.data_dir), "-o", str(key_file)])

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                context = await browser.new_context(
                    ignore_https_errors=True, viewport={"width": 1600, "height": 1000}
                )
                await context.add_init_script(STAGES_INIT_JS)
                page = await context.new_page()
                await page.goto(f"{broker.base_url}/#/login")
                await page.fill("#login-username", user)
                await page.fill("#login-password", password)
                await page.click("#login-submit")
                await page.wait_for_selector("#whoami", state="visible")
                t0 = time.perf_counter()
                await page.goto(f"{broker.base_url}/#/replay/{s.id}")
                await page.wait_for_selector("#replay-key-box", state="visible")
                await page.set_input_files("#replay-key", str(key_file))
                await page.wait_for_selector("#app[data-ready='1']", timeout=60_000)
                open_ms = (time.perf_counter() - t0) * 1000
                rng = random.Random(8)
                in_page: list[float] = []
                wall: list[float] = []
                stages: list[dict[str, float]] = []
                for _ in range(seeks):
                    target = rng.randrange(0, minutes * 600) * 100  # the slider's step is 100 ms
                    t0 = time.perf_counter()
                    cost = await page.evaluate(
                        """async (ms) => {
                            window.__p8 = { decrypt: 0, decrypts: 0, decodes: 0, lastDecode: 0, lastOutput: 0 };
                            const r = document.getElementById('replay-seek');
                            r.value = String(ms);
                            const t = performance.now();
                            r.dispatchEvent(new Event('change'));
                            while (!/^Seeked to/.test(document.getElementById('replay-status').textContent)
                                   || document.getElementById('replay-status').dataset.target !== String(ms)) {
                              if (performance.now() - t > 20000) throw new Error('seek did not finish');
                              await new Promise((res) => setTimeout(res, 5));
                            }
                            return performance.now() - t;
                        }""",
                        target,
                    )
                    wall.append((time.perf_counter() - t0) * 1000)
                    in_page.append(float(cost))
                    stages.append(await page.evaluate("() => window.__p8"))
                await browser.close()
    return {
        "target_ms": 1000,
        "recording": {
            "minutes": minutes,
            "updates": info.frames,
            "bytes": size,
            "keyframe_every_s": 30,
            "resolution": "1920x1080",
            "stream": video or "tiles",
            "generated_s": round(generated_s, 1),
        },
        "open_page_ms": round(open_ms),
        "server_full_parse_ms": round(server_open_ms),
        "seeks": seeks,
        "seek_ms_p50": round(percentile(in_page, 0.50)),
        "seek_ms_p95": round(percentile(in_page, 0.95)),
        "seek_ms_max": round(max(in_page)),
        "seek_wall_ms_p95": round(percentile(wall, 0.95)),
        "seek_ms_all": [round(x) for x in in_page],
        # Per seek: chunks decrypted and the summed time of their decrypt() calls
        # (they run one after another), decode() calls, and how long after the last
        # decode() call the decoder's last output came (the decoder catching up).
        "decrypts_p50": percentile([st["decrypts"] for st in stages], 0.5),
        "decrypt_ms_p50": round(percentile([st["decrypt"] for st in stages], 0.5)),
        "decodes_p50": percentile([st["decodes"] for st in stages], 0.5),
        "decoder_tail_ms_p50": round(
            percentile([st["lastOutput"] - st["lastDecode"] for st in stages], 0.5)
        ),
        "stages": stages,
    }


def main() -> None:
    """Run P8 (tiles and/or video recordings, one after the other) and write the results."""
    minutes = env_int("BENCH_P8_MINUTES", 60)
    seeks = env_int("BENCH_P8_SEEKS", 30)
    # BENCH_P8_VIDEO: "" (tiles), vp9, h264, av1, or a list ("tiles,vp9") run in turn.
    streams = [v.strip() for v in os.environ.get("BENCH_P8_VIDEO", "").split(",")] or [""]
    skip = os.environ.get("BENCH_P8_SKIP_UNCHANGED", "1") != "0"
    results = []
    for stream in streams:
        video = "" if stream in ("", "tiles") else stream
        result = asyncio.run(run(minutes, seeks, video, skip))
        result["recording"]["skip_unchanged"] = skip if video else None
        results.append(result)
        path = write_result(f"P8_{video}" if video else "P8", result)
        print(f"wrote {path}")
    print_table(
        "P8 seek in a one-hour recording (replay page, Chromium)",
        [{"stream": r["recording"]["stream"], "updates": r["recording"]["updates"], **r}
         for r in results],
        ["stream", "updates", "seeks", "seek_ms_p50", "seek_ms_p95", "seek_ms_max",
         "open_page_ms", "decrypts_p50", "decrypt_ms_p50", "decodes_p50", "decoder_tail_ms_p50"],
    )  # fmt: skip


if __name__ == "__main__":
    main()
