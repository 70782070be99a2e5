"""The big one: a real broker, a real agent (agent.session.AgentSession with the
deterministic pattern source and a recording input injector) and the real viewer in
Chromium. The engineer logs in, sees the request, joins; the agent consents; the canvas
shows the agent's screen; chat goes both ways; control is requested, granted, used and
revoked; pause and kill are unmistakable on the page. Screenshots are kept."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.capture.pattern import PatternSource
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import RecordingInjector, RecordingObserver
from tests.helpers import eventually
from tests.viewer.conftest import ui_login, watch_console
from tests.viewer.testing import HEIGHT, WIDTH, LiveAgent, canvas_rgb, join_live


@pytest.fixture
async def live(broker: Any, tmp_path: Path) -> AsyncIterator[LiveAgent]:
    """A real agent that asked for help and auto-consents to view and control."""
    config = AgentConfig(
        broker_url=broker.base_url,
        ca_pem=broker.ca_cert_path.read_text(),
        client_name="Bob Client",
        describe="My screen shows a strange pattern",
        headless=True,
        source="pattern",
        log_dir=tmp_path / "agent-logs",
        injector="none",
        auto_consent_for_tests=("view", "control"),
    ).check()
    observer = RecordingObserver()
    injector = RecordingInjector()
    session = AgentSession(
        config,
        observer,
        source_factory=lambda: PatternSource(WIDTH, HEIGHT, motion=False),
        injector=injector,
    )
    task = asyncio.create_task(session.run())
    await eventually(lambda: session.session_id, what="the agent's request")
    try:
        yield LiveAgent(session, observer, injector, task)
    finally:
        if not task.done():
            session.kill("test teardown")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)


async def test_engineer_sees_the_agents_screen_with_matching_code(
    broker: Any, live: LiveAgent, page: Any, artifacts_dir: Path
) -> None:
    problems = watch_console(page)
    await join_live(page, broker, live)
    await page.screenshot(path=str(artifacts_dir / "live.png"))

    # The verification code on the page is the one the client sees.
    code = (await page.text_content("#verify-code") or "").strip()
    assert len(code) == 7 and code[3] == " "
    assert code in live.observer.codes.values()

    # Pixels: the canvas shows the agent's source frame (JPEG tolerance).
    assert await page.evaluate(
        "() => [document.querySelector('#screen').width, document.querySelector('#screen').height]"
    ) == [WIDTH, HEIGHT]
    want = PatternSource(WIDTH, HEIGHT, motion=False).grab()[..., 2::-1].astype(np.int16)
    got = (await canvas_rgb(page)).astype(np.int16)
    diff = np.abs(got - want)
    assert diff.mean() < 6, diff.mean()
    assert (diff.max(axis=2) < 48).mean() > 0.99

    # The state chip says live and the log shows the consent the client gave.
    await page.wait_for_selector('#session-state .chip[data-state="live"]')
    await page.click("#tab-log")
    await page.wait_for_selector('#log-list .log-item[data-event="consent.granted"]')
    await page.screenshot(path=str(artifacts_dir / "live-log.png"))
    assert problems == []


async def test_chat_both_ways_shows_markup_as_text(
    broker: Any, live: LiveAgent, page: Any, artifacts_dir: Path
) -> None:
    await join_live(page, broker, live)
    await page.fill("#chat-input", "Hello Bob, can you open the printer settings?")
    await page.press("#chat-input", "Enter")
    await eventually(
        lambda: any("printer settings" in text for _, text in live.observer.chats),
        what="the engineer's chat at the agent",
    )
    evil = "<img src=x onerror=\"window.__xss='chat'\"><script>window.__xss='s'</script>"
    live.session.send_chat(evil)
    msg = page.locator(".chat-msg.theirs .chat-text")
    await msg.wait_for()
    assert await msg.text_content() == evil
    assert await page.locator("#chat-list img, #chat-list script").count() == 0
    assert await page.evaluate("() => window.__xss") is None
    assert await page.text_content(".chat-msg.mine .chat-text") == (
        "Hello Bob, can you open the printer settings?"
    )
    await page.screenshot(path=str(artifacts_dir / "chat.png"))


async def test_control_requested_granted_used_and_revoked(
    broker: Any, live: LiveAgent, page: Any, artifacts_dir: Path
) -> None:
    await join_live(page, broker, live)
    button = page.locator("#btn-control")
    assert await button.text_content() == "Request control"
    await button.click()
    await page.wait_for_function(
        "() => document.querySelector('#btn-control')?.dataset.mode === 'release'"
    )
    assert await page.is_visible("#control-banner")
    await page.screenshot(path=str(artifacts_dir / "control-granted.png"))

    box = await page.evaluate(
        "() => { const r = document.querySelector('#screen').getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; }"
    )
    scale = box[2] / WIDTH
    await page.mouse.click(box[0] + 100 * scale + 1, box[1] + 50 * scale + 1)
    await page.keyboard.press("a")
    await page.keyboard.press("Enter")
    calls = live.injector.calls
    await eventually(lambda: ("key", 0xFF0D, False) in calls, what="the agent applying the keys")
    buttons = [c for c in calls if c[0] == "button"]
    assert buttons and buttons[0][3] == 1 and buttons[0][4] is True
    assert abs(buttons[0][1] - 100) <= 1 and abs(buttons[0][2] - 50) <= 1
    assert ("key", 0x61, True) in calls
    await page.click("#btn-cad")
    await eventually(lambda: ("key", 0xFFFF, True) in calls, what="Ctrl+Alt+Del at the agent")
    cad = [c for c in calls if c[0] == "key"][-6:]
    assert cad == [
        ("key", 0xFFE3, True),
        ("key", 0xFFE9, True),
        ("key", 0xFFFF, True),
        ("key", 0xFFFF, False),
        ("key", 0xFFE9, False),
        ("key", 0xFFE3, False),
    ]

    # The client takes control back: the page stops capturing at once.
    viewer_id = next(iter(live.observer.codes))
    live.session.revoke(viewer_id, ["control"])
    await page.wait_for_function(
        "() => document.querySelector('#btn-control')?.dataset.mode === 'request'"
    )
    assert await page.is_hidden("#control-banner")
    assert await page.is_hidden("#btn-cad")
    applied = len(calls)
    await page.mouse.click(box[0] + 10, box[1] + 10)
    await page.keyboard.press("b")
    # a chat typed now travels the same socket after any input the page could have sent
    # (its input batches flush within 16 ms): once the agent shows it, nothing came
    await page.fill("#chat-input", "barrier")
    await page.press("#chat-input", "Enter")
    await eventually(
        lambda: any(text == "barrier" for _, text in live.observer.chats), what="the barrier"
    )
    assert len(calls) == applied
    await page.screenshot(path=str(artifacts_dir / "control-revoked.png"))


async def test_pause_then_kill_are_unmistakable(
    broker: Any, live: LiveAgent, page: Any, artifacts_dir: Path
) -> None:
    await join_live(page, broker, live)
    live.session.pause()
    overlay = page.locator('#overlay[data-kind="paused"]')
    await overlay.wait_for(state="visible", timeout=5000)
    assert await page.text_content("#overlay-title") == "Paused by the client"
    await page.screenshot(path=str(artifacts_dir / "paused.png"))
    live.session.resume()
    await page.wait_for_selector("#overlay", state="hidden", timeout=5000)

    started = time.monotonic()
    live.session.kill("button")
    await page.wait_for_selector('#overlay[data-kind="killed"]', state="visible", timeout=5000)
    elapsed = time.monotonic() - started
    assert await page.text_content("#overlay-title") == "Ended by the client"
    assert await page.is_disabled("#btn-control")
    await page.screenshot(path=str(artifacts_dir / "killed.png"))
    assert elapsed < 2.0, elapsed


async def test_engineer_ends_with_resolution_note_on_the_ticket(
    broker: Any, live: LiveAgent, page: Any, artifacts_dir: Path
) -> None:
    await join_live(page, broker, live)
    await page.click("#btn-end")
    await page.fill("#resolution", "Reset the <b>display</b> driver")
    await page.click("#end-confirm")
    await page.wait_for_selector('#overlay[data-kind="ended"]', state="visible", timeout=5000)
    assert await page.text_content("#overlay-title") == "Ended by the engineer"
    await eventually(lambda: live.task.done(), what="the agent to finish")
    await page.click("#overlay a[href^='#/ticket/']")
    await page.wait_for_selector("#ticket-sessions tr[data-session]")
    assert (
        await page.text_content("#ticket-sessions .resolution") == "Reset the <b>display</b> driver"
    )
    await page.screenshot(path=str(artifacts_dir / "ticket-after-end.png"))


async def test_supervisor_observes_a_live_session_with_consent(
    broker: Any, live: LiveAgent, page: Any, browser: Any, artifacts_dir: Path
) -> None:
    await join_live(page, broker, live)
    user, password = await broker.create_user("sue", "supervisor", [], name="Sue Supervisor")
    context = await browser.new_context(
        ignore_https_errors=True, viewport={"width": 1280, "height": 800}
    )
    try:
        sup = await context.new_page()
        await ui_login(sup, broker.base_url, user, password)
        row = sup.locator(f'#live-list .live-row[data-session="{live.session.session_id}"]')
        await row.wait_for(timeout=10_000)
        await sup.screenshot(path=str(artifacts_dir / "supervisor-live-list.png"))
        await row.locator("button.observe").click()
        await sup.wait_for_function(
            "() => Number(document.querySelector('#screen')?.dataset.frames || 0) >= 1",
            timeout=15_000,
        )
        assert await sup.text_content("#session-role") == "Observer"
        assert await sup.is_hidden("#btn-control")
        # The client consented to the observer separately (G2): two viewers, two codes.
        await eventually(lambda: len(live.observer.codes) == 2, what="a second key agreement")
        code = (await sup.text_content("#verify-code") or "").strip()
        assert code in live.observer.codes.values()
        await sup.wait_for_selector("#viewers li:nth-child(2)")
        await sup.screenshot(path=str(artifacts_dir / "observer.png"))
    finally:
        await context.close()


async def _tab_to(page: Any, predicate: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches ``predicate`` (a JS expression on
    ``el``) — the keyboard-only way through the page."""
    for _ in range(limit):
        if await page.evaluate(
            f"(() => {{ const el = document.activeElement; return !!({predicate}); }})()"
        ):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {predicate}")


async def test_keyboard_only_engineer_path_login_to_end(
    broker: Any, live: LiveAgent, page: Any, artifacts_dir: Path
) -> None:
    """Issue 22: sign in, join, open the shortcut list, take control, leave the remote
    screen with Shift+Esc (not sent to the client), end with a note — keys only."""
    problems = watch_console(page)
    user, password = await broker.create_user("erin", "engineer", [], name="Erin Engineer")
    await page.goto(f"{broker.base_url}/#/login")
    await page.wait_for_selector("#login-form")
    await _tab_to(page, "el.id === 'login-username'")
    await page.keyboard.type(user)
    await page.keyboard.press("Tab")
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")
    sid = live.session.session_id
    await page.wait_for_selector(f'.queue-item[data-session="{sid}"]', timeout=10_000)
    await _tab_to(page, f"el.matches('button.join[data-session=\"{sid}\"]')")
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "() => Number(document.querySelector('#screen')?.dataset.frames || 0) >= 1",
        timeout=15_000,
    )
    await page.keyboard.press("?")
    await page.wait_for_selector("#keys-dialog[open]")
    await page.screenshot(path=str(artifacts_dir / "keyboard-shortcuts.png"))
    await page.keyboard.press("Escape")
    await page.wait_for_selector("#keys-dialog", state="hidden")
    await page.keyboard.press("r")  # request control; the agent consents
    await page.wait_for_function(
        "() => document.querySelector('#btn-control')?.dataset.mode === 'release'"
    )
    assert await page.evaluate("document.activeElement.id") == "screen"  # keys go to the client
    before = len(live.injector.calls)
    await page.keyboard.press("Shift+Escape")
    await page.wait_for_function("document.activeElement.id === 'btn-control'")
    # Input goes out in order: once a later pointer move over the screen has reached the
    # client, an Escape sent before it would have arrived too.
    box = await page.locator("#screen").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await eventually(
        lambda: any(call[0] == "move" for call in live.injector.calls[before:]),
        what="a later pointer move to reach the client",
    )
    assert not any(0xFF1B in call for call in live.injector.calls[before:])  # Escape stayed here
    await _tab_to(page, "el.id === 'btn-end'")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#end-dialog[open]")
    assert await page.evaluate("document.activeElement.id") == "resolution"
    await page.keyboard.type("Restarted the print spooler.")
    await _tab_to(page, "el.id === 'end-confirm'")
    await page.keyboard.press("Enter")
    await page.wait_for_selector('#overlay[data-kind="ended"]', timeout=10_000)
    assert problems == []


async def test_canned_reply_from_a_supervisor_goes_into_the_chat(
    broker: Any, live: LiveAgent, page: Any
) -> None:
    sup = await broker.login(*await broker.create_user("sue", "supervisor"))
    status, _, _ = await broker.request(
        "POST",
        "/api/v1/canned-replies",
        token=sup,
        json={"title": "Restart", "text": "Please restart the spooler."},
    )
    assert status == 201
    await join_live(page, broker, live)
    await page.select_option("#chat-canned", label="Restart")
    assert await page.input_value("#chat-input") == "Please restart the spooler."
    await page.press("#chat-input", "Enter")
    await eventually(
        lambda: any("restart the spooler" in text for _, text in live.observer.chats),
        what="the canned reply at the agent",
    )


#: Records every text the session page's live region announces (issue 22).
ANNOUNCED = """
window.__announced = [];
new MutationObserver(() => {
  const el = document.getElementById('session-announce');
  const text = el && el.textContent;
  if (text && window.__announced[window.__announced.length - 1] !== text) window.__announced.push(text);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


async def test_status_changes_are_announced_and_the_code_is_read_digit_by_digit(
    broker: Any, live: LiveAgent, page: Any
) -> None:
    """Screen readers hear consent granted, the client's chat, pause, resume and the
    end (``#session-announce``, aria-live); the verification code is read as digits."""
    await page.add_init_script(ANNOUNCED)
    await join_live(page, broker, live)

    async def heard(part: str) -> bool:
        texts: list[str] = await page.evaluate("() => window.__announced")
        return any(part in x for x in texts)

    assert await page.get_attribute("#session-announce", "aria-live") == "polite"
    await eventually(lambda: heard("allowed: see the screen"), what="consent announced")
    live.session.send_chat("It is the blue icon")
    await eventually(lambda: heard("Bob Client wrote: It is the blue icon"), what="chat read")
    live.session.pause()
    await eventually(lambda: heard("paused the screen"), what="pause announced")
    live.session.resume()
    await eventually(lambda: heard("resumed the screen"), what="resume announced")

    code = (await page.text_content("#verify-code") or "").strip()
    assert await page.get_attribute("#verify-code", "aria-hidden") == "true"
    spoken = (await page.text_content("#verify-code-spoken") or "").strip()
    assert spoken == " ".join(code.replace(" ", "")) and len(spoken.split()) == 6

    live.session.kill("button")
    await eventually(lambda: heard("Session ended"), what="the end announced")
    # Our own chat is not read back to us; the page is not one big live region.
    assert await page.get_attribute("#app", "aria-live") is None
