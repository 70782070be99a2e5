"""Helpers of the viewer tests, written once (import them from here, never from another
test module): the scripted broker side of ``viewer/js/client.js`` in a page
(:func:`joined`, :func:`sent`, :func:`wait_sent`, frame builders) and a real agent
behind the live viewer (:class:`LiveAgent`, :func:`join_live`, :func:`canvas_rgb`)."""

from __future__ import annotations

import asyncio
import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from agent.session import AgentSession
from agent.testing import RecordingInjector, RecordingObserver
from protocol import e2e
from protocol.media import EncodedImage, Rect, ScreenUpdate
from tests.viewer.conftest import ui_login

WIDTH, HEIGHT = 640, 400

SID = "s-42"
VID = "v3"

SETUP = """
async () => {
  const { SessionClient } = await import('/js/client.js');
  const { Display } = await import('/js/display.js');
  const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
  const stage = document.createElement('div');
  stage.style.width = '400px';
  stage.style.height = '300px';
  const canvas = document.createElement('canvas');
  stage.appendChild(canvas);
  document.body.appendChild(stage);
  const sent = [];
  const transport = {
    connect: async () => {},
    sendText: (t) => sent.push({ text: JSON.parse(t) }),
    sendBinary: (b) => sent.push({ hex: hex(b) }),
    close: () => sent.push({ closed: true }),
  };
  const display = new Display(canvas, stage);
  const client = new SessionClient({ transport, display });
  const events = [];
  for (const n of ['welcome', 'state', 'permissions', 'consent', 'chat', 'log', 'paused', 'verification', 'ended', 'error', 'frame', 'mask']) {
    client.on(n, (d) => events.push([n, d instanceof Set ? [...d].sort() : typeof d === 'bigint' ? d.toString() : d]));
  }
  const unhex = (s) => new Uint8Array((s.match(/../g) || []).map((x) => parseInt(x, 16)));
  window.T = {
    client, sent, events, canvas,
    text: (m) => client.onText(JSON.stringify(m)),
    binary: async (h) => { client.onBinary(unhex(h).buffer); await client.drawChain; },
    pixel: (x, y) => Array.from(canvas.getContext('2d').getImageData(x, y, 1, 1).data),
  };
}
"""


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def full_update(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    return bytes(
        ScreenUpdate(
            width=width,
            height=height,
            images=(EncodedImage(2, png(width, height, color)),),
            rects=(Rect(0, 0, 0, 0, 0, width, height),),
        )
    )


def tile_update(
    width: int, height: int, x: int, y: int, size: int, color: tuple[int, int, int]
) -> bytes:
    return bytes(
        ScreenUpdate(
            width=width,
            height=height,
            images=(EncodedImage(2, png(size, size, color)),),
            rects=(Rect(0, 0, 0, x, y, size, size),),
        )
    )


async def sent(page: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.evaluate("() => T.sent")
    return result


async def wait_sent(page: Any, predicate: str) -> dict[str, Any]:
    """Wait until the client sent a message matching a JS predicate over `m`."""
    handle = await page.wait_for_function(f"() => T.sent.find((m) => {predicate})", timeout=5000)
    value: dict[str, Any] = await handle.json_value()
    return value


class Agent:
    """The agent's side of one viewer, driven by hand."""

    def __init__(self) -> None:
        self.agreement = e2e.AgentKeyAgreement(SID, VID)
        self.keyring = e2e.ContentKeyring()
        self.sealer = e2e.FrameSealer(SID, self.keyring.epoch, self.keyring.key)
        self.keys: e2e.PeerKeys | None = None

    def frame(self, plaintext: bytes, full: bool) -> str:
        return bytes(self.sealer.seal(1 if full else 0, plaintext)).hex()


async def joined(page: Any, *, wrap: bool = True) -> Agent:
    """Set up the page client, welcome it, and run the key agreement and key wrap."""
    await page.evaluate(SETUP)
    agent = Agent()
    await page.evaluate(
        "(m) => T.text(m)",
        {
            "type": "welcome",
            "session_id": SID,
            "viewer_id": VID,
            "role": "engineer",
            "state": "consent_pending",
            "server_time_ms": 1,
            "ticket": {"id": "T-1", "title": "Printer"},
        },
    )
    commit = await wait_sent(page, "m.text && m.text.type === 'key.commit'")
    a_pub = agent.agreement.on_commit(unb64u(commit["text"]["commitment"]))
    await page.evaluate(
        "(m) => T.text(m)", {"type": "key.agent", "viewer_id": VID, "agent_public": b64u(a_pub)}
    )
    reveal = await wait_sent(page, "m.text && m.text.type === 'key.reveal'")
    agent.keys = agent.agreement.on_reveal(unb64u(reveal["text"]["viewer_public"]))
    await page.evaluate(
        "(m) => T.text(m)",
        {"type": "consent.grant", "request_id": "r1", "viewer_id": VID, "permissions": ["view"]},
    )
    if not wrap:
        return agent
    await send_wrap(page, agent)
    return agent


async def send_wrap(page: Any, agent: Agent) -> None:
    assert agent.keys is not None
    wrapped = agent.keyring.wrap_for_viewer(agent.keys, SID, VID)
    await page.evaluate(
        "(m) => T.text(m)",
        {
            "type": "key.wrap",
            "viewer_id": VID,
            "epoch": agent.keyring.epoch,
            "wrapped_key": b64u(wrapped),
        },
    )
    # key.wrap is handled asynchronously (WebCrypto).
    await page.wait_for_function(f"() => T.client.epochs.has({agent.keyring.epoch})", timeout=5000)


@dataclass
class LiveAgent:
    session: AgentSession
    observer: RecordingObserver
    injector: RecordingInjector
    task: asyncio.Task[Any]


async def canvas_rgb(page: Any) -> np.ndarray:
    """The canvas as an RGB array (lossless PNG from the page)."""
    url = await page.evaluate("() => document.querySelector('#screen').toDataURL('image/png')")
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


async def join_live(page: Any, broker: Any, live: LiveAgent) -> None:
    user, password = await broker.create_user("erin", "engineer", [], name="Erin Engineer")
    await ui_login(page, broker.base_url, user, password)
    sid = live.session.session_id
    item = page.locator(f'.queue-item[data-session="{sid}"]')
    await item.wait_for(timeout=10_000)
    await item.locator("button.join").click()
    await page.wait_for_function(
        "() => Number(document.querySelector('#screen')?.dataset.frames || 0) >= 1",
        timeout=15_000,
    )
    await page.wait_for_selector("#overlay", state="hidden")
