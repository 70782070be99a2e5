"""The call through the REAL broker (TLS, SQLite, /ws/agent and /ws/viewer): the agent
side is agent.call's CallRunner on a raw agent WebSocket, the engineer's side is
viewer/js/call.js in headless Chromium on the broker's own origin (its real CSP), and
the viewer's control channel is a Python WebSocket that hands call messages to the
page. The broker forwards call.request / call.start / rtc.* (SPEC §3.6) and records
the call in the session log (G7)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from agent.call import CALL_MESSAGE_TYPES, CallRunner
from agent.call.testing import CountingMediaFactory, use_loopback_ice
from audit.jsonl import load_records
from broker.testing import RunningBroker, running_broker
from protocol import messages as m
from tests.helpers import eventually

pytestmark = pytest.mark.browser

PROTO = [Subprotocol("clearpane.v1")]
VIEWER_CALL_TYPES = {"call.start", "rtc.offer", "rtc.candidate", "rtc.mute", "rtc.hangup"}

SETUP_JS = """async () => {
  const { CallClient, createCallPanel } = await import('/js/call.js');
  const call = new CallClient({
    send: (m) => window.cpSend(JSON.stringify(m)),
    iceServers: [],
    constraints: { audio: true, video: { width: 320, height: 240, frameRate: 10 } },
  });
  window.__call = call;
  const box = document.createElement('div');
  document.body.appendChild(box);
  window.__panel = createCallPanel(box, call);
}"""


async def _true(value: bool) -> bool:
    return value


@contextlib.asynccontextmanager
async def ws(
    b: RunningBroker, path: str, origin: str | None = None
) -> AsyncIterator[ClientConnection]:
    async with connect(
        b.ws_url + path,
        ssl=b.ssl_context(),
        subprotocols=PROTO,
        origin=Origin(origin) if origin else None,
        compression=None,
        open_timeout=5,
        close_timeout=2,
    ) as conn:
        yield conn


async def expect(conn: ClientConnection, msg_type: str) -> Any:
    async with asyncio.timeout(5):
        while True:
            raw = await conn.recv()
            if isinstance(raw, str):
                msg = m.parse_control(raw)
                if msg.type == msg_type:
                    return msg


async def test_call_through_the_real_broker_then_kill(
    tmp_path: Path, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_loopback_ice(monkeypatch)
    async with running_broker(tmp_path) as b:
        status, body, _ = await b.request(
            "POST",
            "/api/v1/agent/requests",
            json={"description": "Call me", "client_name": "Alice"},
        )
        assert status == 201, body
        sid, agent_token = body["session_id"], body["token"]
        user, password = await b.create_user("eve", "engineer", name="Eve Engineer")
        eng = await b.login(user, password)
        status, body, _ = await b.request(
            "POST", f"/api/v1/sessions/{sid}/join", token=eng, json={"permissions": ["view"]}
        )
        assert status == 200, body
        ws_token = body["ws_token"]

        async with ws(b, "/ws/agent") as agent, ws(b, "/ws/viewer", origin=b.base_url) as viewer:
            await agent.send(m.serialize_control(m.Hello(token=agent_token, client="test-agent")))
            await expect(agent, "welcome")
            await viewer.send(m.serialize_control(m.Hello(token=ws_token, client="test-viewer")))
            vid = (await expect(viewer, "welcome")).viewer_id
            req = await expect(agent, "consent.request")
            grant = m.ConsentGrant(request_id=req.request_id, viewer_id=vid, permissions=("view",))
            await agent.send(m.serialize_control(grant))
            await expect(viewer, "consent.grant")
            # The engineer asks for `video` (SPEC §3.3); the client's prompt grants it.
            await viewer.send(m.serialize_control(m.PermissionRequest(permissions=("video",))))
            req = await expect(agent, "consent.request")
            assert req.permissions == ("video",)
            grant = m.ConsentGrant(request_id=req.request_id, viewer_id=vid, permissions=("video",))
            await agent.send(m.serialize_control(grant))
            await expect(viewer, "consent.grant")

            media = CountingMediaFactory()
            rings: list[bool] = []
            outbox: asyncio.Queue[str] = asyncio.Queue()  # the agent's sends, in order

            async def agent_writer() -> None:
                while True:
                    await agent.send(await outbox.get())

            runner = CallRunner(
                lambda msg: outbox.put_nowait(m.serialize_control(msg)),
                lambda event, detail: None,
                media,
                on_ring=rings.append,
            )

            # The page lives on the broker's origin, under the broker's CSP.
            await page.goto(b.base_url + "/")
            await page.expose_function(
                "cpSend", lambda text: asyncio.create_task(viewer.send(text))
            )
            await page.evaluate(SETUP_JS)

            async def agent_reader() -> None:
                async for raw in agent:
                    if isinstance(raw, str):
                        msg = m.parse_control(raw)
                        if msg.type in CALL_MESSAGE_TYPES:
                            runner.handle(msg)

            viewer_seen: list[str] = []

            async def viewer_reader() -> None:
                async for raw in viewer:
                    if isinstance(raw, str):
                        msg = m.parse_control(raw)
                        viewer_seen.append(msg.type)
                        if msg.type in VIEWER_CALL_TYPES:
                            await page.evaluate("t => window.__call.handle(JSON.parse(t))", raw)
                        elif msg.type == "session.ended":
                            await page.evaluate("() => window.__call.end('session_ended')")

            readers = [
                asyncio.create_task(agent_reader()),
                asyncio.create_task(viewer_reader()),
                asyncio.create_task(agent_writer()),
            ]
            try:
                await page.click("button.call-ask")
                await eventually(lambda: _true(rings == [True]), what="call.request via the broker")
                assert media.opened == []  # the engineer's request opened nothing
                runner.client_accept()

                async def flowing() -> bool:
                    s = await page.evaluate("() => window.__call.stats()")
                    rx = runner.stats
                    return bool(s["framesDecoded"] > 10 and s["audioPackets"] > 20) and (
                        rx.video_frames > 5 and rx.audio_frames > 20
                    )

                await eventually(flowing, what="media both ways through broker signalling")
                assert "call.start" in viewer_seen and "rtc.offer" in viewer_seen

                runner.kill()  # the kill switch: the call ends first, then the session
                assert not media.any_live
                outbox.put_nowait(m.serialize_control(m.Kill()))

                async def ended() -> bool:
                    s = await page.evaluate("() => window.__call.stats()")
                    return s["state"] == "ended" and all(
                        t["readyState"] == "ended" for t in s["localTracks"] + s["remoteTracks"]
                    )

                await eventually(ended, what="the browser's call to end")
                before = (await page.evaluate("() => window.__call.stats()"))["framesDecoded"]
                frames = runner.stats.video_frames

                async def closed() -> bool:  # closed: no frame can arrive any more
                    s = await page.evaluate("() => window.__call.stats()")
                    return bool(s["connectionState"] == "closed")

                await eventually(closed, what="the browser's peer connection to close")
                await runner.idle()
                assert (await page.evaluate("() => window.__call.stats()"))[
                    "framesDecoded"
                ] == before
                assert runner.stats.video_frames == frames
            finally:
                await runner.aclose()
                for task in readers:
                    task.cancel()
                await page.evaluate("() => window.__call.end('test_over')")

        records = load_records(b.data_dir / "sessions" / sid / "log.jsonl")
        events = [r.event for r in records]
        for name in ("call.requested", "call.started", "call.ended", "kill.triggered"):
            assert name in events, events
        assert (
            events.index("call.started")
            < events.index("call.ended")
            < events.index("kill.triggered")
        )
