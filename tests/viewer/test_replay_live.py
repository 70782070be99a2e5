"""Replay shows the same pixels the live session showed at the same moment.

A real agent (moving test pattern), the real broker recording, an engineer watching in
Chromium. At two moments the client pauses (the picture stands still): the engineer's
canvas is captured. Later a reviewer replays the recording in Chromium and seeks to
those two moments (the pause markers): the replay canvas equals the live canvas.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from agent.capture.pattern import PatternSource
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import RecordingInjector, RecordingObserver
from audit.recording import FRAME_BINARY, Recording
from broker.recording import RECORDER
from cli.audit import main as audit_main
from tests.helpers import eventually
from tests.viewer.conftest import login, ui_login, watch_console

WIDTH, HEIGHT = 480, 300
#: Mean absolute error (0–255 per channel) allowed between the live canvas and the
#: source picture: measured 2.0–2.8 for JPEG tiles and VP9 (crf 40; 4:2:0 blurs text
#: edges); the other moment's picture (another page and scroll position) is ≈ 11.5.
SOURCE_TOLERANCE = 5.0


async def canvas(page: Any, selector: str) -> np.ndarray:
    url = await page.evaluate("(s) => document.querySelector(s).toDataURL('image/png')", selector)
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


async def frames(page: Any) -> int:
    return int(
        await page.evaluate("() => Number(document.querySelector('#screen').dataset.frames || 0)")
    )


async def settle(page: Any, quiet_s: float = 0.5) -> None:
    """Wait until the live canvas has drawn nothing new for ``quiet_s``."""
    last = -1
    for _ in range(40):
        now = await frames(page)
        if now == last:
            return
        last = now
        await asyncio.sleep(quiet_s)
    raise AssertionError("the live picture never settled")


@pytest.mark.parametrize("video", ["off", "vp9", "h264"])  # tiles, and both codecs auto picks
async def test_replay_shows_the_live_pixels_at_the_same_moments(
    broker: Any, browser: Any, page: Any, tmp_path: Path, artifacts_dir: Path, video: str
) -> None:
    problems = watch_console(page)
    source = PatternSource(WIDTH, HEIGHT, motion=True)
    config = AgentConfig(
        broker_url=broker.base_url,
        ca_pem=broker.ca_cert_path.read_text(),
        client_name="Bob Client",
        describe="replay pixels",
        headless=True,
        source="pattern",
        log_dir=tmp_path / "agent-logs",
        injector="none",
        auto_consent_for_tests=("view",),
        video=video,
    ).check()
    session = AgentSession(
        config, RecordingObserver(), source_factory=lambda: source, injector=RecordingInjector()
    )
    task = asyncio.create_task(session.run())
    try:
        sid = await eventually(lambda: session.session_id, timeout=15, what="the request")
        user, password = await broker.create_user("erin", "engineer", [], name="Erin Engineer")
        await ui_login(page, broker.base_url, user, password)
        item = page.locator(f'.queue-item[data-session="{sid}"]')
        await item.wait_for(timeout=10_000)
        await item.locator("button.join").click()
        await page.wait_for_function(
            "() => Number(document.querySelector('#screen')?.dataset.frames || 0) >= 5",
            timeout=15_000,
        )
        live: list[np.ndarray] = []
        for moment in range(2):
            source.set_page(moment + 1)  # a window switch: the document changes
            source.scroll(3 * moment)
            source.type_text(f"moment {moment}")
            drawn = await frames(page)  # and the pattern moves: a few more frames drawn
            await page.wait_for_function(
                f"() => Number(document.querySelector('#screen')?.dataset.frames || 0) >= {drawn + 5}"
            )
            source.motion = False
            await settle(page)
            session.pause()
            await page.wait_for_selector("#overlay[data-kind]", state="visible")
            # The viewer acknowledges an update once drawn: all acknowledged, the canvas
            # shows the last picture sent before the pause.
            await eventually(
                lambda: session.unacknowledged == 0, what="every update before the pause drawn"
            )
            live.append(await canvas(page, "#screen"))
            # Live view shows the source: the still pattern, within SOURCE_TOLERANCE.
            want = source.grab()[..., 2::-1].astype(np.int16)  # BGRA → RGB
            error = float(np.abs(live[-1] - want).mean())
            assert error < SOURCE_TOLERANCE, (video, moment, error)
            session.resume()
            source.motion = True
            await page.wait_for_selector("#overlay", state="hidden")
        await page.screenshot(path=str(artifacts_dir / "live-before-kill.png"))
        session.kill("test: end of the live part")
        await asyncio.wait_for(task, 10)
    finally:
        if not task.done():
            session.kill("test teardown")
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 10)
    moved = (np.abs(live[0] - live[1]).max(axis=2) > 40).sum()
    assert moved > 50, f"the two moments must differ ({moved} pixels)"

    # The reviewer replays in a fresh browser context.
    folder = broker.data_dir / "sessions" / sid
    broker.app[RECORDER].flush_all()
    rec = Recording(folder)
    kinds = {f.payload[0] for f in rec.frames if f.frame_type == FRAME_BINARY}
    assert kinds == ({0x04} if video != "off" else {0x01}), kinds  # SPEC §4.4 / §4.1
    log = [json.loads(x) for x in (folder / "log.jsonl").read_text().splitlines()]
    pauses = [r["at_ms"] - rec.started_ms for r in log if r["event"] == "session.paused"]
    assert len(pauses) == 2
    key_file = tmp_path / "audit-key.json"
    assert (
        audit_main(["reviewer-key", "--data-dir", str(broker.data_dir), "-o", str(key_file)]) == 0
    )
    user, password = await broker.create_user("rita", "reviewer", name="Rita Reviewer")
    context = await browser.new_context(
        ignore_https_errors=True, viewport={"width": 1280, "height": 800}
    )
    try:
        reviewer = await context.new_page()
        problems += watch_console(reviewer)
        await login(reviewer, broker.base_url, user, password)
        await reviewer.goto(f"{broker.base_url}/#/replay/{sid}")
        await reviewer.wait_for_selector("#replay-key-box", state="visible")
        await reviewer.set_input_files("#replay-key", str(key_file))
        await reviewer.wait_for_selector("#app[data-ready='1']", timeout=15_000)
        for i, t in enumerate(pauses):
            # The pause marker seeks to exactly the moment the client paused.
            await reviewer.evaluate(
                "(i) => document.querySelectorAll('#replay-markers .marker[data-event=\"session.paused\"]')[i].click()",
                i,
            )
            await reviewer.wait_for_function(
                "(t) => document.getElementById('replay-status').dataset.target === String(t)",
                arg=t,
            )
            replayed = await canvas(reviewer, "#replay-canvas")
            assert replayed.shape == live[i].shape == (HEIGHT, WIDTH, 3)
            diff = np.abs(replayed - live[i])
            assert diff.mean() < 0.5, (i, diff.mean())
            assert (diff.max(axis=2) <= 2).mean() > 0.999, i
        await reviewer.screenshot(path=str(artifacts_dir / "replay-at-second-pause.png"))
    finally:
        await context.close()
    events = [r["event"] for r in broker.app[RECORDER].review_records(sid)]
    assert events == ["recording.sealed", "replay.viewed"]  # sealed at the end, then replayed
    assert problems == []
