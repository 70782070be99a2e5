"""The replay page in real Chromium against the real broker: the reviewer loads the
audit key, the recording decrypts and draws through the live viewer's client and
display, seek lands on the right picture, markers come from the session log, speed
and play work, and the replay is in the audit log."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from audit.testing import DEFAULT_EVENTS, synthetic_recording, write_session_log
from broker.pki import PKI
from broker.recording import RECORDER
from broker.store import queries
from broker.store.db import DB
from certs.keys import load_certificate
from cli.audit import main as audit_main
from tests.viewer.conftest import login, watch_console

WIDTH, HEIGHT = 640, 360
PROBE = (600, 345)  # below the tile rows: only FULL updates paint here


async def recorded_session(broker: Any, engineer: str) -> tuple[str, Any]:
    """An ended session with a sealed log and a 2-minute recording for the audit key."""
    db = broker.app[DB]
    eng = await queries.get_user_by_username(db, engineer)
    assert eng is not None
    # 150 s ago: the signed checkpoints fall within the signer certificate's validity
    start = int(time.time() * 1000) - 150_000
    _, s = await queries.create_request(
        db, description="VPN", client_name="Cli", organisation="Org", tier="standard", at=start
    )
    await queries.mark_answered(db, s.id, eng.id, start + 5000)
    await queries.mark_ended(db, s.id, "killed_by_client", start + 125_000)
    pki = broker.app[PKI]
    cert = load_certificate(pki.audit_cert_path)
    public = cert.public_key()
    assert isinstance(public, x25519.X25519PublicKey)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    info = synthetic_recording(
        broker.data_dir / "sessions" / s.id,
        s.id,
        raw,
        duration_s=120,
        fps=5,
        keyframe_every_s=30,
        width=WIDTH,
        height=HEIGHT,
        started_ms=start,
        epoch_every_s=60,
    )
    # the log's events land at start + n*10 s (write_session_log spaces them 1 s apart)
    events = list(DEFAULT_EVENTS)
    write_session_log(broker.data_dir, s.id, pki.signing_key, events, start_ms=start)
    return s.id, info


async def probe(page: Any) -> list[int]:
    rgba: list[int] = await page.evaluate(
        """([x, y]) => {
            const c = document.getElementById('replay-canvas');
            return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data);
        }""",
        list(PROBE),
    )
    return rgba


def close(rgba: list[int], rgb: tuple[int, int, int], tol: int = 12) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgba[:3], rgb, strict=True))


async def seek(page: Any, ms: int) -> None:
    await page.evaluate(
        """(ms) => {
            const r = document.getElementById('replay-seek');
            r.value = String(ms);
            r.dispatchEvent(new Event('change'));
        }""",
        ms,
    )
    await page.wait_for_function(
        "(ms) => document.getElementById('replay-status').textContent.startsWith('Seeked to')"
        " && Math.abs(Number(document.getElementById('replay-seek').value) - ms) < 200",
        arg=ms,
    )


async def test_reviewer_replays_with_key_seek_markers_and_speed(
    broker: Any, page: Any, tmp_path: Path, artifacts_dir: Path
) -> None:
    problems = watch_console(page)
    await broker.create_user("erin", "engineer", name="Erin Engineer")
    user, password = await broker.create_user("rita", "reviewer", name="Rita Reviewer")
    sid, info = await recorded_session(broker, "erin")
    key_file = tmp_path / "audit-key.json"
    assert (
        audit_main(["reviewer-key", "--data-dir", str(broker.data_dir), "-o", str(key_file)]) == 0
    )

    await login(page, broker.base_url, user, password)
    await page.goto(f"{broker.base_url}/#/review")
    row = page.locator(f"tr[data-session='{sid}']")
    await row.wait_for()
    await row.locator("a.replay-link").click()
    await page.wait_for_selector("#replay-key-box", state="visible")
    await page.set_input_files("#replay-key", str(key_file))
    await page.wait_for_selector("#app[data-ready='1']", timeout=15000)

    colours = dict(info.colours)
    assert close(await probe(page), colours[0])
    for target, keyframe in ((75_000, 60_000), (119_000, 90_000), (31_000, 30_000)):
        await seek(page, target)
        assert close(await probe(page), colours[keyframe]), (target, await probe(page))
        seek_ms = int(await page.get_attribute("#app", "data-seek-ms") or "0")
        assert seek_ms < 1000
    await page.screenshot(path=str(artifacts_dir / "replay.png"))

    kinds = await page.eval_on_selector_all(
        "#replay-markers .marker", "els => els.map(e => e.dataset.kind)"
    )
    assert {"consent", "chat", "pause", "kill", "end"} <= set(kinds)
    assert await page.locator("#replay-markers .marker-control").count() == 1
    assert await page.locator("#replay-log li").count() == len(DEFAULT_EVENTS)

    # Play at 16x from 31 s: within a couple of seconds real time we pass the 60 s keyframe.
    await page.select_option("#replay-speed", "16")
    await page.click("#replay-play")
    await page.wait_for_function(
        "() => Number(document.getElementById('replay-seek').value) > 62000", timeout=8000
    )
    await page.click("#replay-play")  # pause
    await page.wait_for_selector("#app[data-state='paused']")
    assert close(await probe(page), colours[60_000])

    events = [r["event"] for r in broker.app[RECORDER].review_records(sid)]
    assert events == ["replay.viewed"]

    # The reviewer verifies the session's evidence from the page.
    await page.click("#replay-verify-btn")
    out = page.locator("#replay-verify[data-ok='1']")
    await out.wait_for()
    assert (await out.text_content() or "").startswith(f"VALID: session {sid}: 11 records")
    assert problems == []


async def test_an_engineer_cannot_replay_someone_elses_session(
    broker: Any, page: Any, tmp_path: Path
) -> None:
    await broker.create_user("erin", "engineer", name="Erin Engineer")
    user, password = await broker.create_user("ed", "engineer", name="Ed Other")
    sid, _ = await recorded_session(broker, "erin")
    await login(page, broker.base_url, user, password)
    await page.goto(f"{broker.base_url}/#/replay/{sid}")
    await page.wait_for_function(
        "() => /not yours/.test(document.getElementById('replay-status').textContent)"
    )
    assert await page.is_hidden("#replay-key-box")
    assert broker.app[RECORDER].review_records(sid) == []
    data = json.dumps(await page.evaluate("() => document.body.dataset.page"))
    assert "replay" in data
