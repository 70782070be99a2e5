"""CallRunner with real aiortc on loopback: an aiortc "engineer" answers the agent's
offer; media flow both ways; hang-up, kill and a broken device end the call."""

from __future__ import annotations

import asyncio

import pytest

from agent.call import CallRunner, MediaError
from agent.call.media import LocalMedia
from agent.call.testing import CountingMediaFactory
from protocol.messages import (
    CallRequest,
    ControlMessage,
    RtcHangup,
    RtcOffer,
)
from tests.agent.conftest import Engineer, pump, wired
from tests.helpers import eventually


async def test_call_flows_both_ways_then_hangup(engineer: Engineer) -> None:
    media = CountingMediaFactory()
    runner, sent, events = wired(engineer, media)
    runner.handle(CallRequest())
    runner.handle(RtcOffer(sdp="v=0\r\n"))  # ignored: the agent is the one that offers
    assert media.opened == []
    runner.client_accept()
    assert len(media.opened) == 1
    await eventually(lambda: bool(engineer.to_agent))
    await pump(runner, engineer)

    def flowing() -> bool:
        return (
            runner.stats.video_frames > 3
            and runner.stats.audio_frames > 10
            and engineer.frames["video"] > 3
            and engineer.frames["audio"] > 10
        )

    await eventually(flowing)
    assert runner.stats.video_size == (160, 120)
    runner.client_mute(audio=True, video=True)
    assert media.opened[0].audio is not None and media.opened[0].audio.muted
    runner.client_hangup()
    assert not media.any_live  # stopped inline
    await runner.idle()
    assert runner.peer is None
    await asyncio.wait_for(engineer.tracks_ended(), 10)  # the agent's tracks ended
    frames = dict(engineer.frames)
    await eventually(lambda: engineer.pc is None or engineer.pc.connectionState == "closed")
    assert engineer.frames == frames  # nothing more arrives
    assert [m.type for m in sent] == ["call.start", "rtc.offer", "rtc.mute", "rtc.hangup"]
    assert events == ["call.requested", "call.started", "call.muted", "call.ended"]


async def test_kill_during_a_call(engineer: Engineer) -> None:
    media = CountingMediaFactory()
    runner, sent, _ = wired(engineer, media)
    runner.client_start()
    await eventually(lambda: bool(engineer.to_agent))
    await pump(runner, engineer)
    await eventually(lambda: runner.stats.video_frames > 2)
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
