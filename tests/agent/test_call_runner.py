"""CallRunner with real aiortc on loopback: an aiortc "engineer" answers the agent's
offer; media flow both ways; hang-up, kill and a broken device end the call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from agent.call import CallRunner, MediaError
from agent.call.media import LocalMedia
from agent.call.testing import AiortcEngineer, CountingMediaFactory, use_loopback_ice
from protocol.messages import (
    CallRequest,
    ControlMessage,
    RtcAnswer,
    RtcHangup,
    RtcOffer,
    parse_control,
    serialize_control,
)


class Engineer(AiortcEngineer):
    """The shared aiortc stand-in for the browser, answering through a queue the test
    pumps into the runner (as the broker would forward ``rtc.answer``)."""

    def __init__(self) -> None:
        super().__init__(160, 120, 10)
        self.to_agent: list[ControlMessage] = []

    async def on_offer(self, sdp: str) -> None:
        self.to_agent.append(RtcAnswer(sdp=await self.answer(sdp)))


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


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


async def test_call_flows_both_ways_then_hangup(engineer: Engineer) -> None:
    media = CountingMediaFactory()
    runner, sent, events = wired(engineer, media)
    runner.handle(CallRequest())
    runner.handle(RtcOffer(sdp="v=0\r\n"))  # ignored: the agent is the one that offers
    assert media.opened == []
    runner.client_accept()
    assert len(media.opened) == 1
    await until(lambda: bool(engineer.to_agent))
    await pump(runner, engineer)

    def flowing() -> bool:
        return (
            runner.stats.video_frames > 3
            and runner.stats.audio_frames > 10
            and engineer.frames["video"] > 3
            and engineer.frames["audio"] > 10
        )

    await until(flowing)
    assert runner.stats.video_size == (160, 120)
    runner.client_mute(audio=True, video=True)
    assert media.opened[0].audio is not None and media.opened[0].audio.muted
    runner.client_hangup()
    assert not media.any_live  # stopped inline
    await runner.idle()
    assert runner.peer is None
    frames = dict(engineer.frames)
    await asyncio.sleep(0.5)
    assert engineer.frames == frames  # nothing more arrives
    assert [m.type for m in sent] == ["call.start", "rtc.offer", "rtc.mute", "rtc.hangup"]
    assert events == ["call.requested", "call.started", "call.muted", "call.ended"]


async def test_kill_during_a_call(engineer: Engineer) -> None:
    media = CountingMediaFactory()
    runner, sent, _ = wired(engineer, media)
    runner.client_start()
    await until(lambda: bool(engineer.to_agent))
    await pump(runner, engineer)
    await until(lambda: runner.stats.video_frames > 2)
    runner.kill()
    assert not media.any_live
    assert sent[-1] == RtcHangup(reason="killed")
    await runner.idle()
    with pytest.raises(Exception, match="killed"):
        runner.client_start()
    assert len(media.opened) == 1


async def test_offer_made_after_a_quick_hangup_is_not_sent(engineer: Engineer) -> None:
    media = CountingMediaFactory()
    runner, sent, _ = wired(engineer, media)
    runner.client_start()
    runner.client_hangup()  # before the worker made the offer
    await runner.idle()
    assert [m.type for m in sent] == ["call.start", "rtc.hangup"]
    assert not media.any_live and engineer.pc is None


async def test_a_camera_that_cannot_open_ends_the_call() -> None:
    def broken() -> LocalMedia:
        raise MediaError("no camera")

    sent: list[ControlMessage] = []
    events: list[str] = []
    runner = CallRunner(sent.append, lambda e, d: events.append(e), broken)
    runner.client_start()
    await runner.idle()
    assert [m.type for m in sent] == ["call.start", "rtc.hangup"]
    assert sent[-1] == RtcHangup(reason="no_media")
    assert runner.state == "ended" and events[-1] == "call.ended"
