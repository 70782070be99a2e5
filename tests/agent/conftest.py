"""Fixtures and helpers of the agent tests, written once (import helpers from here,
never from another test module).

* ``rig``: a real broker plus the real agent session in its thread (:class:`Rig`,
  :func:`start_agent`, :func:`stop`, :func:`live`).
* :class:`InputRig`: the input gate with real key agreements, no sockets.
* ``engineer``: the aiortc stand-in for the browser in call tests (:func:`wired`,
  :func:`pump`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.call import CallRunner
from agent.call.media import LocalMedia
from agent.call.testing import AiortcEngineer, use_loopback_ice
from agent.capture import open_source
from agent.config import AgentConfig
from agent.consent import ConsentMachine
from agent.input import InputGate
from agent.killswitch import KillSwitch
from agent.session import AgentSession
from agent.testing import CountingSource, RecordingInjector, RecordingObserver, ScriptedViewer
from agent.ui.bridge import SessionThread
from broker.pki import PKI
from broker.testing import RunningBroker, running_broker
from protocol.e2e import AgentKeyAgreement, InputSealer, ViewerKeyAgreement, viewer_number
from protocol.media import InputBatch, InputFrame
from protocol.messages import (
    Chat,
    ControlMessage,
    RtcAnswer,
    RtcOffer,
    parse_control,
    serialize_control,
)
from tests.helpers import eventually


@dataclass
class Rig:
    broker: RunningBroker
    session: AgentSession
    observer: RecordingObserver
    source: CountingSource
    injector: RecordingInjector
    thread: SessionThread

    async def join(
        self, username: str, name: str, *perms: str, role: str = "engineer"
    ) -> ScriptedViewer:
        await self.broker.create_user(username, role, name=name, password="pw-" + username * 3)
        token = await self.broker.login(username, "pw-" + username * 3)
        sid = self.session.session_id
        status, body, _ = await self.broker.request(
            "POST", f"/api/v1/sessions/{sid}/join", token=token,
            json={"as": "engineer" if role == "engineer" else "observer", "permissions": list(perms)},
        )  # fmt: skip
        assert status == 200, body
        viewer = ScriptedViewer(
            self.broker.ws_url + "/ws/viewer", self.broker.ssl_context(), self.broker.base_url
        )
        await viewer.connect(body["ws_token"])
        await viewer.start_keys()
        return viewer

    def answer(self, index: int, *allowed: str) -> None:
        prompt = self.observer.prompts[index]
        self.session.mark_shown(prompt.request_id)
        self.session.answer(prompt.request_id, list(allowed))


def start_agent(b: RunningBroker, tmp_path: Path, broker_url: str | None = None, **cfg: Any) -> Rig:
    cfg.setdefault("describe", "My printer is offline")
    config = AgentConfig(
        broker_url=broker_url or b.base_url,
        ca_pem=b.ca_cert_path.read_text(),
        checkpoint_signer_pem=b.app[PKI].signing_cert_path.read_text(),
        client_name="Carol Client",
        source="pattern:320x240",
        log_dir=tmp_path / "client-logs",
        max_fps=30,
        **cfg,
    ).check()
    observer = RecordingObserver()
    source = CountingSource(open_source("pattern:320x240"))
    injector = RecordingInjector()
    session = AgentSession(config, observer, source_factory=lambda: source, injector=injector)
    thread = SessionThread(session.run)
    thread.start()
    return Rig(b, session, observer, source, injector, thread)


async def stop(r: Rig) -> None:
    """Kill the agent's session and wait (≤ 10 s) for its thread to finish."""
    r.session.kill("test_teardown")
    await asyncio.to_thread(r.thread.join, 10.0)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_broker(tmp_path) as b:
        r = start_agent(b, tmp_path)
        try:
            await eventually(lambda: r.session.connected, what="the agent's connection")
            yield r
        finally:
            await stop(r)


async def live(r: Rig, *perms: str) -> ScriptedViewer:
    viewer = await r.join("alice", "Alice Engineer", *perms)
    await eventually(lambda: r.observer.prompts, what="the consent prompt")
    r.answer(0, *perms)
    await viewer.wait_for(lambda: len(viewer.updates) >= 2)
    return viewer


# -- input gate -----------------------------------------------------------------

SID = "s-123"
T0 = 1_700_000_000_000


def keys_for(viewer_id: str) -> tuple[bytes, InputSealer]:
    """Run the real §8.1 agreement; return the agent's input key and the viewer's sealer."""
    agent = AgentKeyAgreement(SID, viewer_id)
    viewer = ViewerKeyAgreement(SID, viewer_id)
    a_pub = agent.on_commit(viewer.commitment)
    v_pub, v_keys = viewer.reveal(a_pub)
    a_keys = agent.on_reveal(v_pub)
    assert a_keys.verification_code == v_keys.verification_code
    return a_keys.input_key, InputSealer(SID, viewer_number(viewer_id), v_keys.input_key)


class InputRig:
    """An input gate with real key agreements for ``viewers``, no sockets."""

    def __init__(self, *viewers: str) -> None:
        self.consent = ConsentMachine()
        self.kill = KillSwitch()
        self.injector = RecordingInjector()
        self.gate = InputGate(SID, self.consent, self.kill, self.injector)
        self.sealers: dict[str, InputSealer] = {}
        for v in viewers:
            key, sealer = keys_for(v)
            self.gate.add_viewer(v, key)
            self.sealers[v] = sealer
        self._n = 0

    def grant(self, viewer: str, *perms: str) -> None:
        self._n += 1
        rid = f"c{self._n}"
        self.consent.request(
            request_id=rid,
            viewer_id=viewer,
            user_id="u",
            user_name="Alice",
            role="engineer",
            ticket_id="t",
            ticket_title="T",
            permissions=perms,
            now_ms=T0,
        )
        self.consent.mark_shown(rid)
        self.consent.answer(rid, perms, T0)

    def frame(self, viewer: str, *events: object) -> InputFrame:
        return self.sealers[viewer].seal(bytes(InputBatch(tuple(events))))  # type: ignore[arg-type]


# -- calls ------------------------------------------------------------------------


class Engineer(AiortcEngineer):
    """The shared aiortc stand-in for the browser, answering through a queue the test
    pumps into the runner (as the broker would forward ``rtc.answer``)."""

    def __init__(self) -> None:
        super().__init__(160, 120, 10)
        self.to_agent: list[ControlMessage] = []

    async def on_offer(self, sdp: str) -> None:
        self.to_agent.append(RtcAnswer(sdp=await self.answer(sdp)))


@pytest.fixture
async def engineer(monkeypatch: pytest.MonkeyPatch) -> Any:
    use_loopback_ice(monkeypatch)
    eng = Engineer()
    yield eng
    await eng.close()


def wired(
    engineer: Engineer, media: Callable[[], LocalMedia]
) -> tuple[CallRunner, list[ControlMessage], list[str]]:
    sent: list[ControlMessage] = []
    events: list[str] = []

    def send(msg: ControlMessage) -> None:
        msg = parse_control(serialize_control(msg))  # as the broker would see it
        sent.append(msg)
        if isinstance(msg, RtcOffer):
            asyncio.get_running_loop().create_task(engineer.on_offer(msg.sdp))

    runner = CallRunner(send, lambda e, d: events.append(e), media)
    return runner, sent, events


async def pump(runner: CallRunner, engineer: Engineer) -> None:
    while engineer.to_agent:
        runner.handle(engineer.to_agent.pop(0))


async def barrier(r: Rig, viewer: ScriptedViewer) -> None:
    """Wait until the agent has handled everything ``viewer`` sent before now.

    A chat sent now travels the same sockets after it, in order: once the client sees
    the chat, an earlier input frame has been applied or refused. This is how a test
    shows that input was *not* applied, without sleeping.
    """
    text = f"barrier {len(r.observer.chats) + 1}"
    await viewer.send(Chat(text=text))
    await eventually(lambda: any(t == text for _, t in r.observer.chats), what="the barrier")
