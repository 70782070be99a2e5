"""The call state machine (agent.call.controller): media open only on the client's
action; a network message can ring, never capture; hang-up either side; kill ends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.call.controller import (
    AddCandidate,
    ApplyAnswer,
    ApplyMute,
    CallController,
    CallError,
    CloseMedia,
    Effect,
    Log,
    OpenMedia,
    RemoteMute,
    Ring,
    Send,
)
from protocol.messages import (
    CallRequest,
    CallStart,
    ControlMessage,
    RtcAnswer,
    RtcCandidate,
    RtcHangup,
    RtcMute,
    RtcOffer,
)

NETWORK: list[ControlMessage] = [
    CallRequest(),
    RtcOffer(sdp="v=0"),
    RtcAnswer(sdp="v=0"),
    RtcCandidate(
        candidate="candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdp_mid="0", sdp_mline_index=0
    ),
    RtcMute(audio=True, video=False),
    RtcHangup(reason="hangup"),
]


def sent(effects: list[Effect]) -> list[ControlMessage]:
    return [e.message for e in effects if isinstance(e, Send)]


def logged(effects: list[Effect]) -> list[str]:
    return [e.event for e in effects if isinstance(e, Log)]


def test_call_request_only_rings() -> None:
    c = CallController()
    effects = c.on_message(CallRequest())
    assert c.state == "ringing"
    assert Ring(True) in effects
    assert not any(isinstance(e, OpenMedia) for e in effects)
    assert sent(effects) == []  # the agent does not answer on the client's behalf
    assert not c.media_allowed


@given(st.lists(st.sampled_from(NETWORK), max_size=30))
def test_no_network_sequence_opens_media(messages: list[ControlMessage]) -> None:
    c = CallController()
    for msg in messages:
        effects = c.on_message(msg)
        assert not any(isinstance(e, OpenMedia) for e in effects)
        assert c.state in ("idle", "ringing", "ended")
        assert not any(isinstance(m, (CallStart, RtcOffer)) for m in sent(effects))


def test_offer_from_network_is_ignored() -> None:
    c = CallController()
    c.on_message(CallRequest())
    assert c.on_message(RtcOffer(sdp="v=0\r\n")) == []
    assert c.state == "ringing"


def test_accept_opens_media_and_announces_the_call() -> None:
    c = CallController()
    c.on_message(CallRequest())
    effects = c.client_accept()
    assert effects[0] == Ring(False)
    assert OpenMedia() in effects
    assert CallStart() in sent(effects)
    assert logged(effects) == ["call.started"]
    assert c.state == "starting" and c.media_allowed
    assert c.offer_ready("v=0 offer") == [Send(RtcOffer(sdp="v=0 offer"))]
    assert c.on_message(RtcAnswer(sdp="v=0 answer")) == [ApplyAnswer("v=0 answer")]
    assert c.state == "active"


def test_client_may_start_without_a_request() -> None:
    c = CallController()
    effects = c.client_start()
    assert OpenMedia() in effects and Ring(False) not in effects
    with pytest.raises(CallError):
        c.client_start()  # one call at a time


def test_accept_or_decline_needs_a_request() -> None:
    c = CallController()
    with pytest.raises(CallError):
        c.client_accept()
    with pytest.raises(CallError):
        c.client_decline()


def test_decline_tells_the_engineer_and_opens_nothing() -> None:
    c = CallController()
    c.on_message(CallRequest())
    effects = c.client_decline()
    assert sent(effects) == [RtcHangup(reason="declined")]
    assert not any(isinstance(e, OpenMedia) for e in effects)
    assert c.state == "idle"


def test_engineer_cancels_a_ringing_request() -> None:
    c = CallController()
    c.on_message(CallRequest())
    effects = c.on_message(RtcHangup(reason="hangup"))
    assert Ring(False) in effects and c.state == "idle"


def test_candidates_and_answer_only_during_a_call() -> None:
    c = CallController()
    cand = NETWORK[3]
    assert c.on_message(cand) == []
    assert c.on_message(RtcAnswer(sdp="v=0")) == []
    c.client_start()
    assert c.on_message(cand) == [AddCandidate(cand.candidate, "0", 0)]  # type: ignore[union-attr]


def test_client_hangup_closes_media_first_and_tells_the_engineer() -> None:
    c = CallController()
    c.client_start()
    c.on_message(RtcAnswer(sdp="v=0"))
    effects = c.client_hangup()
    assert effects[0] == CloseMedia("hangup")
    assert sent(effects) == [RtcHangup(reason="hangup")]
    assert logged(effects) == ["call.ended"]
    assert c.state == "ended" and not c.media_allowed
    assert c.client_hangup() == []
    # a new call may start after a hang-up
    assert OpenMedia() in c.client_start()


def test_engineer_hangup_closes_media_without_echo() -> None:
    c = CallController()
    c.client_start()
    effects = c.on_message(RtcHangup(reason="hangup"))
    assert effects[0] == CloseMedia("hangup")
    assert sent(effects) == []
    assert [e for e in effects if isinstance(e, Log)] == [
        Log("call.ended", {"by": "engineer", "reason": "hangup"})
    ]


def test_kill_ends_the_call_and_is_final() -> None:
    c = CallController()
    c.client_start()
    effects = c.kill()
    assert effects[0] == CloseMedia("killed")
    assert sent(effects) == [RtcHangup(reason="killed")]
    assert c.killed and c.state == "ended"
    assert c.kill() == []
    with pytest.raises(CallError):
        c.client_start()
    assert c.on_message(CallRequest()) == []  # no prompt after kill
    assert c.offer_ready("v=0 late") == []  # an offer finished after kill is dropped


def test_kill_withdraws_a_ringing_prompt() -> None:
    c = CallController()
    c.on_message(CallRequest())
    assert c.kill() == [Ring(False)]
    with pytest.raises(CallError):
        c.client_accept()


def test_mute_both_sides() -> None:
    c = CallController()
    with pytest.raises(CallError):
        c.client_mute(audio=True, video=False)
    c.client_start()
    effects = c.client_mute(audio=True, video=False)
    assert effects[0] == ApplyMute(True, False)
    assert sent(effects) == [RtcMute(audio=True, video=False)]
    assert logged(effects) == ["call.muted"]
    assert c.client_mute(audio=True, video=False) == []
    effects = c.on_message(RtcMute(audio=False, video=True))
    assert effects[0] == RemoteMute(False, True)
    assert c.remote_video_muted and not c.remote_audio_muted


def test_offer_after_hangup_is_dropped() -> None:
    c = CallController()
    c.client_start()
    c.client_hangup()
    assert c.offer_ready("v=0") == []


def test_peer_failure_ends_the_call() -> None:
    c = CallController()
    c.client_start()
    effects = c.peer_failed()
    assert effects[0] == CloseMedia("failed") and c.state == "ended"
