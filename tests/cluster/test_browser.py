"""The real agent (``agent.session.AgentSession``: capture, encode, consent, input,
its own copy of the log) and the real web viewer in Chromium on **different broker
processes** of the cluster: the agent through node 1's address, the engineer's browser
on node 2's, viewer routing off (``ROUTE_VIEWERS``), so every frame, ack, input batch
and chat line crosses NATS. Consent, frames on the canvas, input under control, chat
both ways, the client's kill; then a reviewer replays the recording in Chromium
through the load balancer and the evidence verifies against the client's own copy.

(The agent runs in the test's event loop with the deterministic pattern source and a
recording injector, as tests/viewer/test_live_session.py does, so that what the
engineer's input did can be read back.)"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from agent.capture.pattern import PatternSource
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import RecordingInjector, RecordingObserver
from cli.audit import main as audit_main
from tests.cluster.testing import Api
from tests.helpers import eventually
from tests.viewer.conftest import login, ui_login, watch_console
from tests.viewer.testing import HEIGHT, WIDTH
from tools.cluster import LocalCluster

ROUTE_VIEWERS = False  # the cluster fixture: the viewer stays on the node it came to


async def staff(api: Api, cluster: LocalCluster, role: str) -> tuple[str, str]:
    """A user of ``role`` with a password of their own: (username, password)."""
    admin, _ = await api.engineer(cluster)
    name, first = f"{role[:3]}{time.monotonic_ns() % 10**8}", "first-" + role * 3
    await api.call("POST", "/users", admin, {"username": name, "name": f"Ann {role.title()}",
                                             "role": role, "password": first})  # fmt: skip
    token = await api.call("POST", "/auth/login", body={"username": name, "password": first})
    await api.replace_password(token["token"], first, first + "-own")
    return name, first + "-own"


async def test_real_agent_and_chromium_on_different_nodes(
    cluster: LocalCluster, page: Any, tmp_path: Path, artifacts_dir: Path
) -> None:
    problems = watch_console(page)
    api = Api(cluster)
    observer, injector = RecordingObserver(), RecordingInjector()
    config = AgentConfig(
        broker_url=cluster.pinned_url(0),  # node 1 holds the session
        ca_pem=cluster.ca_file.read_text(),
        client_name="Bob Client",
        describe="The printer prints blank pages",
        headless=True,
        source="pattern",
        log_dir=tmp_path / "agent-logs",
        injector="none",
        auto_consent_for_tests=("view", "control"),
    ).check()
    session = AgentSession(config, observer, injector=injector,
                           source_factory=lambda: PatternSource(WIDTH, HEIGHT, motion=False))  # fmt: skip
    task = asyncio.create_task(session.run())
    try:
        engineer, password = await staff(api, cluster, "engineer")
        sid = await eventually(lambda: session.session_id, what="the agent's request")
        node2 = cluster.pinned_url(1)
        await ui_login(page, node2, engineer, password)  # the browser on node 2
        item = page.locator(f'.queue-item[data-session="{sid}"]')
        await item.wait_for(timeout=15_000)
        await item.locator("button.join").click()
        # Consent (the agent's own consent flow grants view) and frames on the canvas.
        await page.wait_for_function(
            "() => Number(document.querySelector('#screen')?.dataset.frames || 0) >= 1",
            timeout=20_000,
        )
        await page.wait_for_selector("#overlay", state="hidden")
        assert cluster.nodes[1].saw(rf"session {sid}: v\d+ attached to its home node1")
        code = (await page.text_content("#verify-code") or "").strip()
        assert code and code in observer.codes.values()

        # Input under control, from node 2's page to node 1's agent.
        await page.click("#btn-control")
        await page.wait_for_function(
            "() => document.querySelector('#btn-control')?.dataset.mode === 'release'"
        )
        box = await page.evaluate(
            "() => { const r = document.querySelector('#screen').getBoundingClientRect();"
            " return [r.left, r.top, r.width, r.height]; }"
        )
        scale = box[2] / WIDTH
        await page.mouse.click(box[0] + 100 * scale + 1, box[1] + 50 * scale + 1)
        await page.keyboard.press("a")
        calls = injector.calls
        await eventually(lambda: ("key", 0x61, True) in calls, what="the key at the agent")
        clicks = [c for c in calls if c[0] == "button"]
        assert clicks and abs(clicks[0][1] - 100) <= 1 and abs(clicks[0][2] - 50) <= 1

        # Chat both ways.
        await page.fill("#chat-input", "Hi Bob, checking the printer queue")
        await page.press("#chat-input", "Enter")
        await eventually(lambda: any(t == "Hi Bob, checking the printer queue"
                                     for _, t in observer.chats), what="chat at the agent")  # fmt: skip
        session.send_chat("Thank you!")
        theirs = page.locator(".chat-msg.theirs .chat-text")
        await theirs.wait_for(timeout=10_000)
        assert await theirs.text_content() == "Thank you!"
        await page.screenshot(path=str(artifacts_dir / "live-across-nodes.png"))

        # The client's kill ends it on the engineer's page (on the other node) at once.
        session.kill("button")
        await page.wait_for_selector('#overlay[data-kind="killed"]', state="visible",
                                     timeout=10_000)  # fmt: skip
        assert await page.text_content("#overlay-title") == "Ended by the client"
        await asyncio.wait_for(task, 20)
    finally:
        if not task.done():
            session.kill("test teardown")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)

    # A reviewer replays the recording in Chromium, through the load balancer.
    reviewer, rpw = await staff(api, cluster, "reviewer")
    key_file = tmp_path / "audit-key.json"
    assert (
        audit_main(["reviewer-key", "--data-dir", str(cluster.data_dir), "-o", str(key_file)]) == 0
    )
    await page.context.clear_cookies()
    await login(page, cluster.url, reviewer, rpw)
    await page.goto(f"{cluster.url}/#/review")
    row = page.locator(f"tr[data-session='{sid}']")
    await row.wait_for(timeout=15_000)
    await row.locator("a.replay-link").click()
    await page.wait_for_selector("#replay-key-box", state="visible")
    await page.set_input_files("#replay-key", str(key_file))
    await page.wait_for_selector("#app[data-ready='1']", timeout=20_000)
    # Seek to just before the end: the screen as the engineer last saw it.
    end = int(await page.get_attribute("#replay-seek", "max") or "0") - 300
    await page.evaluate(
        """(ms) => { const r = document.getElementById('replay-seek');
                     r.value = String(ms); r.dispatchEvent(new Event('change')); }""",
        end,
    )
    await page.wait_for_function(
        "() => document.getElementById('replay-status').textContent.startsWith('Seeked to')"
    )
    drawn = await page.evaluate(
        "() => { const c = document.getElementById('replay-canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let lit = 0; for (let i = 0; i < d.length; i += 4) lit += d[i] + d[i+1] + d[i+2] > 0;"
        " return [c.width, c.height, lit]; }"
    )
    assert drawn[:2] == [WIDTH, HEIGHT] and drawn[2] > WIDTH * HEIGHT // 4, drawn
    kinds = await page.eval_on_selector_all(
        "#replay-markers .marker", "els => els.map(e => e.dataset.kind)"
    )
    assert {"consent", "chat", "kill", "end"} <= set(kinds), kinds
    await page.screenshot(path=str(artifacts_dir / "replay.png"))

    # The evidence: the company's log exported and verified against the client's copy.
    bundle = tmp_path / f"{sid}.zip"
    assert audit_main(["export", sid, "--data-dir", str(cluster.data_dir), "-o", str(bundle)]) == 0
    client_copy = config.log_dir / sid  # the agent's folder: its log copy and checkpoint
    assert audit_main(["verify", str(bundle), "--ca", str(cluster.ca_file),
                       "--client-copy", str(client_copy)]) == 0  # fmt: skip
    await api.http.close()
    assert problems == []
