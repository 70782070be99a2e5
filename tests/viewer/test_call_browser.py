"""A real call between the agent (aiortc, synthetic camera and tone) and headless
Chromium (fake camera and microphone) on loopback, with viewer/js/call.js in the page.

Signalling goes through a stand-in for the broker's control channel: every message is
serialized and parsed with protocol.messages in both directions, as the broker would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.call import CallRunner
from agent.call.testing import CountingMediaFactory, use_loopback_ice
from protocol.messages import ControlMessage, parse_control, serialize_control
from tests.helpers import eventually

pytestmark = pytest.mark.browser

SETUP_JS = """async () => {
  const { CallClient, createCallPanel } = await import('/js/call.js');
  const call = new CallClient({
    send: (m) => window.cpSend(JSON.stringify(m)),
    iceServers: [],
    constraints: { audio: true, video: { width: 320, height: 240, frameRate: 10 } },
  });
  window.__call = call;
  window.__panel = createCallPanel(document.body, call);
}"""

STATS_JS = "() => window.__call.stats()"


@dataclass
class Wire:
    """The stand-in broker between the runner and the page."""

    page: Any
    to_page: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    from_page: list[str] = field(default_factory=list)
    from_agent: list[str] = field(default_factory=list)
    agent_texts: list[str] = field(default_factory=list)
    rings: list[bool] = field(default_factory=list)
    log: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def agent_send(self, msg: ControlMessage) -> None:
        text = serialize_control(msg)
        self.agent_texts.append(text)
        self.from_agent.append(parse_control(text).type)
        self.to_page.put_nowait(text)

    async def pump(self) -> None:
        while True:
            text = await self.to_page.get()
            await self.page.evaluate("t => window.__call.handle(JSON.parse(t))", text)

    def agent_types(self) -> list[str]:
        return list(self.from_agent)


@dataclass
class Call:
    wire: Wire
    runner: CallRunner
    media: CountingMediaFactory
    page: Any


@pytest.fixture
async def call(module_page: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Call]:
    use_loopback_ice(monkeypatch)
    page = module_page
    wire = Wire(page)
    media = CountingMediaFactory()
    runner = CallRunner(
        wire.agent_send,
        lambda event, detail: wire.log.append((event, detail)),
        media,
        on_ring=wire.rings.append,
    )

    def from_page(text: str) -> None:
        wire.from_page.append(text)
        runner.handle(parse_control(text))  # validated exactly as the broker parses it

    await page.expose_function("cpSend", from_page)
    await page.evaluate(SETUP_JS)
    pump = asyncio.create_task(wire.pump())
    try:
        yield Call(wire, runner, media, page)
    finally:
        await runner.aclose()
        pump.cancel()
        await page.evaluate("() => window.__call.end('test_over')")


async def browser_stats(c: Call) -> dict[str, Any]:
    return dict(await c.page.evaluate(STATS_JS))


async def start_call(c: Call) -> None:
    """Engineer asks (button), the client accepts, media flows both ways."""
    await c.page.click("button.call-ask")
    await eventually(lambda: _true(c.wire.rings == [True]), what="the agent to ring")
    c.runner.client_accept()

    async def flowing() -> bool:
        s = await browser_stats(c)
        rx = c.runner.stats
        return (
            s["framesDecoded"] > 10
            and s["audioPackets"] > 20
            and rx.video_frames > 5
            and rx.audio_frames > 20
        )

    await eventually(flowing, timeout=15, what="media in both directions")


async def _true(value: bool) -> bool:
    return value


async def assert_stopped_both_sides(c: Call) -> None:
    """Frames stop increasing on both sides and every track has ended."""

    async def ended() -> bool:
        s = await browser_stats(c)
        return s["state"] == "ended" and all(t["readyState"] == "ended" for t in s["localTracks"])

    await eventually(ended, what="the browser's call to end")
    await c.runner.idle()
    assert not c.media.any_live
    assert c.runner.peer is None
    before_py = c.runner.stats.video_frames, c.runner.stats.audio_frames
    before_js = (await browser_stats(c))["framesDecoded"]

    async def closed() -> bool:  # the browser's connection is closed: nothing can arrive
        return bool((await browser_stats(c))["connectionState"] == "closed")

    await eventually(closed, what="the browser's peer connection to close")
    assert (c.runner.stats.video_frames, c.runner.stats.audio_frames) == before_py
    after = await browser_stats(c)
    assert after["framesDecoded"] == before_js
    assert after["connectionState"] == "closed"
    assert all(t["readyState"] == "ended" for t in after["localTracks"] + after["remoteTracks"])


async def test_engineer_request_without_client_action_starts_nothing(call: Call) -> None:
    await call.page.click("button.call-ask")
    await eventually(lambda: _true(call.wire.rings == [True]), what="the agent to ring")
    assert call.wire.from_page == ['{"type":"call.request"}']
    # An engineer-side offer (a misbehaving viewer) does not make the agent capture either.
    call.runner.handle(parse_control('{"type":"rtc.offer","sdp":"v=0\\r\\n"}'))
    await call.runner.idle()  # everything the offer could have caused has run
    assert call.media.opened == []
    assert call.wire.agent_types() == []  # no call.start, no rtc.offer
    s = await browser_stats(call)
    assert s["state"] == "requested" and s["framesDecoded"] == 0 and s["localTracks"] == []
    assert await call.page.text_content(".call-status") == (
        "Asked the client; waiting for their answer…"
    )
    assert [e for e, _ in call.wire.log] == ["call.requested"]


async def test_real_call_then_client_hangs_up(call: Call) -> None:
    await start_call(call)
    assert call.wire.agent_types()[:2] == ["call.start", "rtc.offer"]
    offer = parse_control(call.wire.agent_texts[1])
    assert offer.type == "rtc.offer"
    candidates = [ln for ln in offer.sdp.splitlines() if ln.startswith("a=candidate:")]
    assert candidates and all(" 127.0.0.1 " in ln for ln in candidates)  # loopback only
    assert call.runner.state == "active"
    s = await browser_stats(call)
    assert {t["kind"] for t in s["localTracks"]} == {"audio", "video"}
    assert call.runner.stats.video_size == (320, 240)  # the browser's fake camera
    # the remote <video> really paints frames
    await eventually(
        lambda: call.page.evaluate("() => window.__panel.counters.framesShown > 3"),
        what="the remote video element to show frames",
    )
    assert await call.page.text_content(".call-status") == "In call"

    call.runner.client_hangup()
    await assert_stopped_both_sides(call)
    assert call.wire.agent_types()[-1] == "rtc.hangup"
    assert [e for e, _ in call.wire.log] == ["call.requested", "call.started", "call.ended"]
    assert call.wire.log[-1][1] == {"by": "client", "reason": "hangup"}


async def test_engineer_mutes_and_hangs_up(call: Call) -> None:
    await start_call(call)
    call.runner.client_mute(audio=False, video=True)
    await eventually(
        lambda: call.page.evaluate(
            "() => document.querySelector('.call-remote-muted').textContent.includes('camera')"
        ),
        what="the viewer to show the client's camera off",
    )
    await call.page.click("button.call-mic")
    await eventually(lambda: _true(call.runner.controller.remote_audio_muted), what="rtc.mute")
    await call.page.click("button.call-hangup")
    await assert_stopped_both_sides(call)
    assert call.wire.log[-1] == ("call.ended", {"by": "engineer", "reason": "hangup"})


async def test_kill_stops_media_on_both_sides(call: Call) -> None:
    await start_call(call)
    call.runner.kill()
    # The camera and microphone are stopped when kill() returns (G5), before any I/O.
    assert not call.media.any_live
    await assert_stopped_both_sides(call)
    s = await browser_stats(call)
    assert s["state"] == "ended"
    assert await call.page.text_content(".call-status") == "Call ended: the client pressed Stop"
    # After a kill the engineer can ring all they like: nothing opens.
    asked = len(call.wire.from_page)
    await call.page.click("button.call-ask")
    await eventually(lambda: len(call.wire.from_page) > asked, what="the ring to reach the agent")
    await call.runner.idle()  # the agent handled it (synchronously) and its jobs ran
    assert len(call.media.opened) == 1 and not call.media.any_live


async def test_asking_without_video_permission_asks_for_it(module_page: Any) -> None:
    sent = await module_page.evaluate(
        """async () => {
      const { CallClient } = await import('/js/call.js');
      const sent = [];
      let video = false;
      const c = new CallClient({ send: (m) => sent.push(m), hasVideoPermission: () => video });
      c.requestCall();
      const s1 = c.state;
      c.requestDenied();
      video = true;
      c.requestCall();
      return { sent, s1, s2: c.state };
    }"""
    )
    assert sent["sent"] == [
        {"type": "permission.request", "permissions": ["video"], "note": "Video call"},
        {"type": "call.request"},
    ]
    assert sent["s1"] == "requested" and sent["s2"] == "requested"
