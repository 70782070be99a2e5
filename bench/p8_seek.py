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


async def run(minutes: int, seeks: int, video: str = "") -> dict[str, Any]:
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
                page = await (
                    await browser.new_context(
                        ignore_https_errors=True, viewport={"width": 1600, "height": 1000}
                    )
                ).new_page()
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
                for _ in range(seeks):
                    target = rng.randrange(0, minutes * 600) * 100  # the slider's step is 100 ms
                    t0 = time.perf_counter()
                    cost = await page.evaluate(
                        """async (ms) => {
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
    }


def main() -> None:
    """Run P8 and write bench/results/p8.json."""
    minutes = env_int("BENCH_P8_MINUTES", 60)
    seeks = env_int("BENCH_P8_SEEKS", 30)
    video = os.environ.get("BENCH_P8_VIDEO", "")  # vp9, h264, av1: a video recording
    result = asyncio.run(run(minutes, seeks, video))
    print_table(
        "P8 seek in a one-hour recording (replay page, Chromium)",
        [result],
        ["seeks", "seek_ms_p50", "seek_ms_p95", "seek_ms_max", "open_page_ms"],
    )
    path = write_result(f"P8_{video}" if video else "P8", result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
