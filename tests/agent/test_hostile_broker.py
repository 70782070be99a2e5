"""A hostile broker cannot make the agent leak the screen or apply input (G2, G4, G8)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.call.config import CallConfig
from agent.capture import open_source
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import CountingSource, HostileBroker, RecordingInjector, RecordingObserver
from agent.ui.bridge import SessionThread
from protocol.e2e import InputSealer, ViewerKeyAgreement, viewer_number
from protocol.media import ButtonDown, InputBatch, InputFrame
from protocol.messages import (
    CallRequest,
    Chat,
    ConsentGrant,
    ConsentRequest,
    KeyAgent,
    KeyCommit,
    KeyReveal,
    KeyWrap,
    LogLocal,
    Refresh,
    Ticket,
    User,
    ViewerJoined,
)
from tests.helpers import eventually


@dataclass
class Hostile:
    broker: HostileBroker
    session: AgentSession
    observer: RecordingObserver
    source: CountingSource
    injector: RecordingInjector
    thread: SessionThread


@pytest.fixture
async def hostile(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Hostile]:
    broker = HostileBroker(tmp_path)
    await broker.start()
    param = getattr(request, "param", None)
    auto = param if isinstance(param, tuple) else None
    call_config = CallConfig(video="synthetic", audio="synthetic") if param == "call" else None
    cfg = AgentConfig(
        broker_url=broker.base_url, ca_pem=broker.ca_pem, describe="help",
        log_dir=tmp_path / "logs", auto_consent_for_tests=auto, consent_timeout_s=2,
    ).check()  # fmt: skip
    observer = RecordingObserver()
    source = CountingSource(open_source("pattern:160x120"))
    injector = RecordingInjector()
    session = AgentSession(
        cfg, observer, source_factory=lambda: source, injector=injector, call_config=call_config
    )
    thread = SessionThread(session.run)
    thread.start()
    await asyncio.wait_for(broker.connected.wait(), 10)
    try:
        yield Hostile(broker, session, observer, source, injector, thread)
    finally:
        session.kill("teardown")
        await broker.close()
        await asyncio.to_thread(thread.join, 5.0)


async def barrier(hostile: Hostile) -> None:
    """Wait until the agent has handled every message the broker sent before now: a
    chat sent after them is read in order, so once the client sees it they were
    processed (and whatever they would have caused — a key wrap, a prompt — done)."""
    text = f"barrier {len(hostile.observer.chats) + 1}"
    await hostile.broker.send(Chat(text=text))
    await eventually(lambda: any(t == text for _, t in hostile.observer.chats), what="barrier")


async def join_and_agree(b: HostileBroker, viewer_id: str = "v1") -> InputSealer:
    """What a broker-in-the-middle does with a genuine viewer: join, agree keys."""
    await b.send(
        ViewerJoined(viewer_id=viewer_id, user=User(id="u1", name="Mallory", role="engineer"))
    )
    vka = ViewerKeyAgreement(b.session_id, viewer_id)
    await b.send(KeyCommit(commitment=vka.commitment, viewer_id=viewer_id))
    await b.wait_for(lambda: b.of_type(KeyAgent))
    public, keys = vka.reveal(b.of_type(KeyAgent)[-1].agent_public)
    await b.send(KeyReveal(viewer_public=public, viewer_id=viewer_id))
    return InputSealer(b.session_id, viewer_number(viewer_id), keys.input_key)


async def test_no_screen_byte_without_a_consent_prompt(hostile: Hostile) -> None:
    b = hostile.broker
    await join_and_agree(b)
    # the broker pretends consent was given and asks for a full picture
    await b.send(ConsentGrant(request_id="c1", viewer_id="v1", permissions=("view",)))
    await b.send(Refresh())
    await barrier(hostile)  # the grant and the refresh were handled: no key, no frame
    assert b.binary == [] and hostile.source.grabs == 0
    assert not b.of_type(KeyWrap)  # the content key is not handed out either
    assert hostile.session.frames_sent == 0


async def test_unanswered_prompt_times_out_into_deny_and_nothing_is_sent(hostile: Hostile) -> None:
    b = hostile.broker
    await join_and_agree(b)
    far = time.time_ns() // 1_000_000 + 3_600_000  # the broker tries a one-hour deadline
    await b.send(
        ConsentRequest(
            request_id="c1", viewer_id="v1", user=User(id="u1", name="Mallory", role="engineer"),
            ticket=Ticket(id="t-1", title="Printer"), permissions=("view",), expires_ms=far,
        )
    )  # fmt: skip
    await b.wait_for(lambda: hostile.observer.prompts)
    # the client never answers: after the agent's own timeout (2 s here) it is a deny
    await b.wait_for(lambda: any(m.type == "consent.deny" for m in b.texts), timeout=5)
    assert hostile.observer.closed[0].reason == "timed_out"
    assert b.binary == [] and hostile.source.grabs == 0


@pytest.mark.parametrize("hostile", [("view",)], indirect=True)
async def test_input_without_control_is_never_applied(hostile: Hostile) -> None:
    b = hostile.broker
    sealer = await join_and_agree(b)
    await b.send(
        ConsentRequest(
            request_id="c1", viewer_id="v1", user=User(id="u1", name="Mallory", role="engineer"),
            ticket=Ticket(id="t-1", title="Printer"), permissions=("view", "control"),
            expires_ms=time.time_ns() // 1_000_000 + 60_000,
        )
    )  # fmt: skip
    # (test mode answers: view only) — screen flows now, encrypted
    await b.wait_for(lambda: len(b.binary) >= 1)
    assert b.of_type(ConsentGrant)[0].permissions == ("view",)
    # the broker forwards genuine input from the viewer (it should have dropped it)
    frame = sealer.seal(bytes(InputBatch((ButtonDown(10, 10, 1),))))
    await b.send_bytes(bytes(frame))
    # ... a forged one (right header, random ciphertext) and a replay
    await b.send_bytes(bytes(InputFrame(sender=1, seq=99, ciphertext=os.urandom(40))))
    await b.send_bytes(bytes(frame))
    # ... and input claiming to come from a viewer that never agreed keys
    await b.send_bytes(bytes(InputFrame(sender=7, seq=1, ciphertext=os.urandom(40))))
    await b.wait_for(
        lambda: [m for m in b.of_type(LogLocal) if m.event == "input.dropped"], timeout=5
    )
    await eventually(
        lambda: len([m for m in b.of_type(LogLocal) if m.event == "input.dropped"]) >= 4,
        what="every input frame refused",
    )
    assert hostile.injector.calls == []
    reasons = [m.detail["reason"] for m in b.of_type(LogLocal) if m.event == "input.dropped"]
    assert reasons[0] == "not_granted"
    assert {"decrypt_failed", "replayed", "unknown_sender"} <= set(reasons)
    # what reaches the broker is ciphertext (G8): in clear, the JPEG start-of-image
    # marker would sit right after the 14-byte header and the 10-byte update prefix
    assert all(data[24:27] != b"\xff\xd8\xff" for data in b.binary)


@pytest.mark.parametrize("hostile", ["call"], indirect=True)
async def test_call_signalling_needs_the_clients_video_consent(hostile: Hostile) -> None:
    b = hostile.broker
    await join_and_agree(b)
    # no viewer holds "video": a call request is not even shown, nothing opens
    await b.send(CallRequest())
    await barrier(hostile)
    assert hostile.observer.calls == []
    hostile.session.call_start()  # the client's own click is refused too: nobody may
    await eventually(
        lambda: any("permission for a video call" in n for n in hostile.observer.notices),
        what="the refusal notice",
    )
    assert not any(m.type == "call.start" for m in b.texts)
    # after the client grants video, the engineer's request rings (still nothing opens)
    await b.send(
        ConsentRequest(
            request_id="c1", viewer_id="v1", user=User(id="u1", name="Mallory", role="engineer"),
            ticket=Ticket(id="t-1", title="Printer"), permissions=("video",),
            expires_ms=time.time_ns() // 1_000_000 + 60_000,
        )
    )  # fmt: skip
    await b.wait_for(lambda: hostile.observer.prompts)
    hostile.session.mark_shown("c1")
    hostile.session.answer("c1", ["video"])
    await b.wait_for(lambda: b.of_type(ConsentGrant))
    # A later request for `video` alone is the engineer's "Ask the client for a call":
    # the client's own "allow" is the answer, so the call starts with no second prompt.
    await b.wait_for(lambda: any(m.type == "call.start" for m in b.texts))
    assert hostile.observer.calls == []
