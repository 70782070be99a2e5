"""The pure relay core (broker.relay): scripted agent and viewers, no sockets."""

from __future__ import annotations

import json

import pytest

from broker.relay import RelayCore, RelayTimings, SessionInfo, ViewerUser
from broker.relay.actions import (
    AGENT,
    Close,
    MarkAnswered,
    MarkEnded,
    SaveRating,
    SessionClosed,
)
from broker.relay.testing import Harness, MemoryLog
from protocol import messages as m
from protocol.errors import ProtocolError
from protocol.limits import CONSENT_TIMEOUT_S, MAX_INFLIGHT_UPDATES
from protocol.media import FLAG_FULL, AckFrame, InputFrame, ScreenUpdateFrame
from protocol.state import SessionState

CT = b"\x5a" * 32  # fake ciphertext (the relay never looks at it)


def update(seq: int, full: bool = False) -> bytes:
    return bytes(ScreenUpdateFrame(FLAG_FULL if full else 0, 1, seq, CT + seq.to_bytes(8, "big")))


def inp(sender: int, seq: int) -> bytes:
    return bytes(InputFrame(sender, seq, CT))


def ack(seq: int) -> bytes:
    return bytes(AckFrame(seq))


def seqs(h: Harness, vid: str) -> list[int]:
    return [f.seq for f in h.box(vid).frames() if isinstance(f, ScreenUpdateFrame)]


def grant(h: Harness, vid: str, perms: tuple[str, ...] | None = None) -> None:
    req = [r for r in h.agent.of("consent.request") if r.viewer_id == vid][-1]
    h.agent_says(
        m.ConsentGrant(
            request_id=req.request_id, viewer_id=vid, permissions=perms or req.permissions
        )
    )


def live(perms: tuple[str, ...] = ("view", "control")) -> tuple[Harness, str]:
    h = Harness()
    h.connect_agent()
    vid = h.join(permissions=perms)
    grant(h, vid)
    assert h.relay.state is SessionState.LIVE
    return h, vid


def test_agent_hello_moves_requested_to_waiting_and_welcomes() -> None:
    h = Harness()
    h.connect_agent()
    assert h.relay.state is SessionState.WAITING
    welcome = h.agent.of("welcome")[0]
    assert welcome.role == "agent" and welcome.resume_token == "resume-token"
    assert welcome.state == "waiting"
    assert h.log.events()[0] == "session.requested"
    assert "log.event" in h.agent.types()


def test_viewer_join_tells_agent_and_asks_consent_with_expiry() -> None:
    h = Harness()
    h.connect_agent()
    vid = h.join(permissions=("view", "control"))
    assert vid == "v1"
    joined = h.agent.of("viewer.joined")[0]
    assert joined.viewer_id == "v1" and joined.user.name == "Eve Engineer"
    req = h.last_consent_request()
    assert set(req.permissions) == {"view", "control"}
    assert req.expires_ms == h.now + CONSENT_TIMEOUT_S * 1000
    assert req.ticket.title == "Printer is broken"
    assert h.relay.state is SessionState.CONSENT_PENDING
    assert h.box(vid).of("welcome")[0].viewer_id == "v1"
    assert any(isinstance(a, MarkAnswered) and a.engineer_id == "u1" for a in h.store)


def test_nothing_relayed_before_consent() -> None:
    h = Harness()
    h.connect_agent()
    vid = h.join(permissions=("view",))
    h.agent_sends(update(1, full=True))
    assert h.box(vid).binary == []
    grant(h, vid)
    assert h.relay.state is SessionState.LIVE
    h.agent_sends(update(2, full=True))
    assert seqs(h, vid) == [2]
    # the bytes are relayed unchanged and by reference
    assert h.box(vid).binary[0] == update(2, full=True)


def test_consent_timeout_is_a_deny_and_a_late_grant_is_refused() -> None:
    h = Harness()
    h.connect_agent()
    vid = h.join(permissions=("view",))
    req = h.last_consent_request()
    h.advance(CONSENT_TIMEOUT_S * 1000 - 1)
    assert h.relay.state is SessionState.CONSENT_PENDING
    h.advance(1)
    assert h.relay.state is SessionState.WAITING
    deny = h.box(vid).of("consent.deny")[0]
    assert deny.request_id == req.request_id
    denied = [r for r in h.log.records if r["event"] == "consent.denied"]
    assert denied and denied[0]["detail"]["timed_out"] is True
    h.agent.clear()
    h.agent_says(m.ConsentGrant(request_id=req.request_id, viewer_id=vid, permissions=("view",)))
    assert h.agent.of("error")[0].code in ("invalid_field", "wrong_state")
    assert not h.relay.consent.holds(vid, "view")
    h.agent_sends(update(1, full=True))
    assert h.box(vid).binary == []


def test_grant_must_answer_an_open_request_and_only_what_was_asked() -> None:
    h = Harness()
    h.connect_agent()
    vid = h.join(permissions=("view",))
    h.agent_says(m.ConsentGrant(request_id="c999", viewer_id=vid, permissions=("view",)))
    assert h.agent.of("error")[-1].code == "invalid_field"
    req = h.last_consent_request()
    h.agent_says(
        m.ConsentGrant(request_id=req.request_id, viewer_id=vid, permissions=("view", "control"))
    )
    assert h.agent.of("error")[-1].code == "invalid_field"
    assert h.relay.consent.permissions(vid) == frozenset()


def test_input_without_control_never_reaches_the_agent() -> None:
    h, vid = live(("view",))
    h.agent.clear()
    h.viewer_sends(vid, inp(1, 1))
    assert h.agent.binary == []
    assert h.box(vid).of("error")[-1].code == "not_granted"
    h.advance(1_000)
    dropped = [r for r in h.log.records if r["event"] == "input.dropped"]
    assert dropped[-1]["detail"] == {"viewer_id": vid, "batches": 1, "reasons": ["not_granted"]}


def test_forged_sender_number_is_dropped() -> None:
    h, v1 = live(("view", "control"))
    v2 = h.join(user_id="u2", name="Mallory", permissions=("view",))
    grant(h, v2)
    h.agent.clear()
    # v2 (no control) pretends to be v1, who holds control
    h.viewer_sends(v2, inp(1, 1))
    # v1 (control) claims another number
    h.viewer_sends(v1, inp(2, 1))
    assert h.agent.binary == []
    h.viewer_sends(v1, inp(1, 1))
    assert h.agent.binary == [inp(1, 1)]
    # the broker keeps no input seq (it cannot authenticate input): a repeat goes to
    # the agent, whose authenticated counter rejects it (SPEC §8.3)
    h.viewer_sends(v1, inp(1, 1))
    assert len(h.agent.binary) == 2


def test_a_forged_input_seq_does_not_drop_the_genuine_one() -> None:
    """SPEC §8.3: a forged frame with seq n (right header, random ciphertext) must not
    make the broker drop the genuine seq n; only the agent's authenticated counter
    decides."""
    h, v1 = live(("view", "control"))
    h.agent.clear()
    forged = bytes(InputFrame(sender=1, seq=5, ciphertext=b"\x00" * 32))
    genuine = bytes(InputFrame(sender=1, seq=5, ciphertext=b"\x01" * 32))
    h.viewer_sends(v1, forged)
    h.viewer_sends(v1, genuine)
    assert h.agent.binary == [forged, genuine]


def test_revocation_takes_effect_before_the_next_input() -> None:
    h, vid = live(("view", "control"))
    h.viewer_sends(vid, inp(1, 1))
    assert len(h.agent.binary) == 1
    h.agent_says(m.ConsentRevoke(viewer_id=vid, permissions=("control",)))
    assert h.box(vid).of("consent.revoke")[0].permissions == ("control",)
    h.viewer_sends(vid, inp(1, 2))
    assert len(h.agent.binary) == 1
    events = h.log.events()
    # the forwarded count is logged before the revocation
    assert events.index("input.forwarded") < events.index("consent.revoked")
    assert h.relay.state is SessionState.LIVE  # still viewing


def test_stalled_viewer_stays_bounded_while_another_gets_every_update() -> None:
    h, stalled = live(("view",))
    fast = h.join(user_id="u2", name="Fast", role="observer", permissions=("view",))
    grant(h, fast)
    h.agent.clear()
    for seq in range(1, 10_001):
        h.agent_sends(update(seq))
        h.viewer_sends(fast, ack(seq))
        flow = h.relay.flow(stalled)
        assert flow.inflight <= MAX_INFLIGHT_UPDATES
        assert h.relay.flow(fast).inflight <= MAX_INFLIGHT_UPDATES
    flow = h.relay.flow(stalled)
    assert flow.inflight == MAX_INFLIGHT_UPDATES
    assert flow.pending is not None and flow.pending.seq == 10_000
    assert len(h.box(stalled).binary) == MAX_INFLIGHT_UPDATES
    assert seqs(h, fast) == list(range(1, 10_001))
    # the agent gets one ack per drawn update from the most advanced viewer
    assert [f.seq for f in h.agent.frames()] == list(range(1, 10_001))
    # the stalled viewer wakes up: it gets only the latest update
    h.viewer_sends(stalled, ack(2))
    assert seqs(h, stalled) == [1, 2, 10_000]


def test_full_update_supersedes_the_pending_one() -> None:
    h, vid = live(("view",))
    for seq in (1, 2, 3):
        h.agent_sends(update(seq))
    assert h.relay.flow(vid).pending is not None
    h.agent_sends(update(4, full=True))
    pending = h.relay.flow(vid).pending
    assert pending is not None and pending.seq == 4 and pending.full
    h.viewer_sends(vid, ack(1))
    frames = h.box(vid).frames()
    assert [f.seq for f in frames] == [1, 2, 4]
    assert isinstance(frames[-1], ScreenUpdateFrame) and frames[-1].full


def test_ack_for_an_update_never_sent_grants_nothing() -> None:
    h, vid = live(("view",))
    for seq in (1, 2, 3):
        h.agent_sends(update(seq))
    h.viewer_sends(vid, ack(99))
    assert seqs(h, vid) == [1, 2]
    assert h.agent.binary == []


def test_kill_ends_the_session_for_everyone_and_later_frames_are_dropped() -> None:
    h, v1 = live(("view", "control"))
    v2 = h.join(user_id="u2", name="Obs", role="observer", permissions=("view",))
    h.agent_says(m.Kill())
    assert h.relay.state is SessionState.ENDED
    for vid in (v1, v2):
        ended = h.box(vid).of("session.ended")[0]
        assert ended.reason == "killed_by_client"
        assert h.box(vid).closed == (4000, "session ended")
    assert h.agent.of("session.ended")[0].reason == "killed_by_client"
    assert h.agent.of("checkpoint"), "the log is sealed with a checkpoint"
    assert any(isinstance(a, MarkEnded) and a.reason == "killed_by_client" for a in h.store)
    events = h.log.events()
    assert events.index("kill.triggered") < events.index("session.ended")
    count = len(h.box(v1).binary)
    h.agent_sends(update(50, full=True))
    h.viewer_sends(v1, inp(1, 1))
    assert len(h.box(v1).binary) == count
    assert all(f.kind == 0x03 for f in h.agent.frames())
    with pytest.raises(ProtocolError) as err:
        h.relay.attach_agent(h.now)
    assert err.value.code == "session_ended"
    with pytest.raises(ProtocolError):
        h.join(user_id="u3")
    h.feed(h.relay.agent_control(m.Resume(), h.now))
    assert h.relay.state is SessionState.ENDED


def test_a_killed_session_is_forgotten_when_the_agent_leaves() -> None:
    core = RelayCore(lambda info: MemoryLog())
    session = core.open(SessionInfo("s9", "t9", "x"))
    core.run(session, lambda: session.attach_agent(0), 0)
    core.run(session, lambda: session.agent_control(m.Kill(), 1), 1)
    assert core.get("s9") is session
    actions = core.run(session, lambda: session.detach_agent(2), 2)
    assert any(isinstance(a, SessionClosed) for a in actions)
    assert core.get("s9") is None


@pytest.mark.parametrize("how", ["kill", "log_failure"])
def test_a_forgotten_ended_session_cannot_be_reopened(how: str) -> None:
    # G5: the store learns of the end asynchronously (or not at all if its write
    # fails); a reconnect racing it must not get a fresh core for the same session.
    log = MemoryLog()
    core = RelayCore(lambda info: log)
    info = SessionInfo("s9", "t9", "x")
    session = core.open(info)
    core.run(session, lambda: session.attach_agent(0), 0)
    if how == "kill":
        core.run(session, lambda: session.agent_control(m.Kill(), 1), 1)
        core.run(session, lambda: session.detach_agent(2), 2)
    else:
        log.fail = True
        core.run(session, lambda: session.agent_control(m.MaskUpdate(regions=1, windows=0), 1), 1)
    assert core.get("s9") is None
    with pytest.raises(ProtocolError) as err:
        core.open(info)
    assert err.value.code == "session_ended"
    assert core.get("s9") is None
    assert core.open(SessionInfo("s10", "t9", "x")).state is SessionState.REQUESTED


def test_second_viewer_needs_its_own_consent() -> None:
    h, v1 = live(("view",))
    v2 = h.join(user_id="u2", name="Second", permissions=("view",))
    req2 = h.last_consent_request()
    assert req2.viewer_id == v2
    assert h.relay.state is SessionState.LIVE
    h.agent_sends(update(1, full=True))
    assert seqs(h, v1) == [1] and seqs(h, v2) == []
    grant(h, v2)
    h.agent_sends(update(2, full=True))
    assert seqs(h, v2) == [2]


def test_observer_cannot_get_control() -> None:
    h = Harness()
    h.connect_agent()
    obs = h.join(user_id="s1", name="Sup", role="observer", permissions=("view", "control"))
    assert h.box(obs).of("error")[0].code == "forbidden"
    req = h.last_consent_request()
    assert req.permissions == ("view",)
    # the agent cannot grant what was not asked
    h.agent_says(
        m.ConsentGrant(request_id=req.request_id, viewer_id=obs, permissions=("view", "control"))
    )
    assert not h.relay.consent.holds(obs, "control")
    grant(h, obs)
    h.viewer_says(obs, m.PermissionRequest(permissions=("control",)))
    assert h.box(obs).of("error")[-1].code == "forbidden"
    assert h.box(obs).closed is None  # the observer keeps watching
    h.viewer_sends(obs, inp(1, 1))
    assert h.agent.binary == []


def test_out_of_state_messages_are_rejected_with_wrong_state() -> None:
    h = Harness()
    h.connect_agent()
    h.agent_says(m.Pause())
    assert h.agent.of("error")[-1].code == "wrong_state"
    assert h.relay.state is SessionState.WAITING
    vid = h.join(permissions=("view",))
    h.viewer_says(vid, m.Refresh())
    assert h.box(vid).of("error")[-1].code == "wrong_state"
    h.viewer_says(vid, m.Chat(text="hi"))
    assert h.box(vid).of("error")[-1].code == "wrong_state"
    grant(h, vid)
    h.agent_says(m.Resume())
    assert h.agent.of("error")[-1].code == "wrong_state"
    h.agent_says(m.End(resolution="x"))
    assert h.agent.of("error")[-1].code == "forbidden"


def test_pause_stops_updates_and_tells_viewers_resume_restarts() -> None:
    h, vid = live(("view",))
    h.agent_sends(update(1))
    h.agent_says(m.Pause())
    assert h.relay.state is SessionState.PAUSED
    assert "pause" in h.box(vid).types()
    assert h.box(vid).of("session.state")[-1].state == "paused"
    h.agent_sends(update(2))
    h.viewer_sends(vid, ack(1))
    assert seqs(h, vid) == [1]
    h.agent_says(m.Resume())
    assert "resume" in h.box(vid).types()
    h.agent_sends(update(3, full=True))
    assert seqs(h, vid) == [1, 3]


def test_only_the_sessions_engineer_can_end_it() -> None:
    h, eng = live(("view",))
    other = h.join(user_id="u2", name="Other", permissions=("view",))
    obs = h.join(user_id="u3", name="Obs", role="observer", permissions=("view",))
    h.viewer_says(other, m.End(resolution="not mine"))
    assert h.box(other).of("error")[-1].code == "forbidden"
    h.viewer_says(obs, m.End(resolution="nope"))
    assert h.box(obs).of("error")[-1].code == "forbidden"
    assert h.relay.state is SessionState.LIVE
    h.viewer_says(eng, m.End(resolution="Replaced the toner"))
    assert h.relay.state is SessionState.ENDED
    assert h.agent.of("session.ended")[0].reason == "ended_by_engineer"
    assert any(isinstance(a, MarkEnded) and a.resolution == "Replaced the toner" for a in h.store)


def test_chat_both_ways_is_logged_and_stamped() -> None:
    h, vid = live(("view",))
    h.viewer_says(vid, m.Chat(text="hello from eve"))
    got = h.agent.of("chat")[0]
    assert got.from_.kind == "viewer" and got.from_.viewer_id == vid and got.at_ms == h.now
    h.agent_says(m.Chat(text="hi eve"))
    assert h.box(vid).of("chat")[0].from_.kind == "agent"
    assert h.log.events().count("chat.sent") == 2


def test_a_viewer_without_consent_reads_neither_chat_nor_the_log() -> None:
    # G2: a second engineer or observer needs its own consent; until then it must
    # not read the client's chat with the first engineer (directly or via log.event).
    h, v1 = live(("view",))
    v2 = h.join(user_id="u2", name="Second", role="observer", permissions=("view",))
    h.box(v2).clear()
    h.agent_says(m.Chat(text="my password is hunter2"))
    h.viewer_says(v1, m.Chat(text="thanks"))
    assert [c.text for c in h.box(v1).of("chat")] == ["my password is hunter2"]
    assert h.box(v2).of("chat") == [] and _only_about(h, v2)
    h.agent_says(m.ConsentDeny(**_answer(h, v2)))
    assert h.box(v2).of("consent.deny"), "the refused viewer is told"
    h.agent_says(m.Chat(text="still private"))
    assert h.box(v2).of("chat") == [] and _only_about(h, v2)
    h.viewer_says(v2, m.PermissionRequest(permissions=("view",)))
    grant(h, v2)
    h.agent_says(m.Chat(text="hello observer"))
    assert [c.text for c in h.box(v2).of("chat")] == ["hello observer"]
    assert h.box(v2).of("log.event")[-1].record["event"] == "chat.sent"


def _only_about(h: Harness, vid: str) -> bool:
    """Every log record the viewer got is about itself (never chat, never others')."""
    records = [e.record for e in h.box(vid).of("log.event")]
    return all(r["detail"].get("viewer_id") == vid and r["event"] != "chat.sent" for r in records)


def test_a_newly_granted_viewer_sees_the_record_of_its_own_grant() -> None:
    # The grant is logged before it takes effect (fail closed), so the viewer
    # would otherwise never see the client's decision in its log panel (G7).
    h, v1 = live(("view",))
    assert "consent.granted" in [e.record["event"] for e in h.box(v1).of("log.event")]


def _answer(h: Harness, vid: str) -> dict[str, object]:
    req = [r for r in h.agent.of("consent.request") if r.viewer_id == vid][-1]
    return {"request_id": req.request_id, "viewer_id": vid, "permissions": req.permissions}


def test_viewer_leaving_returns_to_waiting_and_tells_the_agent() -> None:
    h, vid = live(("view",))
    h.feed(h.relay.detach_viewer(vid, h.now, "closed"))
    assert h.agent.of("viewer.left")[0].viewer_id == vid
    assert h.relay.state is SessionState.WAITING
    assert "viewer.left" in h.log.events()


def test_key_exchange_is_routed_with_viewer_id_added() -> None:
    h = Harness()
    h.connect_agent()
    vid = h.join(permissions=("view",))
    h.viewer_says(vid, m.KeyCommit(commitment=b"\x01" * 32))
    assert h.agent.of("key.commit")[0].viewer_id == vid
    h.agent_says(m.KeyAgent(viewer_id=vid, agent_public=b"\x02" * 32))
    assert h.box(vid).of("key.agent")[0].agent_public == b"\x02" * 32
    h.agent_says(m.KeyWrap(viewer_id=vid, epoch=1, wrapped_key=b"\x03" * 48))
    assert h.agent.of("error")[-1].code == "not_granted"  # no view yet
    grant(h, vid)
    h.agent_says(m.KeyWrap(viewer_id=vid, epoch=1, wrapped_key=b"\x03" * 48))
    assert h.box(vid).of("key.wrap")[0].epoch == 1


def test_log_local_cannot_forge_broker_events() -> None:
    h, _ = live(("view",))
    h.agent_says(m.LogLocal(event="viewer.joined", detail={"viewer_id": "v9"}))
    assert h.agent.of("error")[-1].code == "invalid_field"
    h.agent_says(m.LogLocal(event="input.applied", detail={"keys": 3}))
    assert h.log.events()[-1] == "input.applied"


def test_log_failure_fails_closed() -> None:
    log = MemoryLog()
    core = RelayCore(lambda info: log, RelayTimings())
    s = core.open(SessionInfo("s1", "t1", "x"))
    core.run(s, lambda: s.attach_agent(0), 0)
    s.attach_viewer(ViewerUser("u1", "E", "engineer"), ["view"], 1)
    log.fail = True
    req = s.consent.open_requests()[0]
    grant_msg = m.ConsentGrant(request_id=req.request_id, viewer_id="v1", permissions=("view",))
    actions = core.run(s, lambda: s.agent_control(grant_msg, 2), 2)
    assert not s.consent.holds("v1", "view"), "the grant did not take effect"
    closes = [a for a in actions if isinstance(a, Close)]
    assert {a.to for a in closes} == {AGENT, "v1"} and all(a.code == 1011 for a in closes)
    assert core.get("s1") is None
    assert s.state is SessionState.ENDED


def test_agent_reconnect_within_grace_keeps_the_session_and_replays_the_log() -> None:
    h, vid = live(("view",))
    h.feed(h.relay.detach_agent(h.now))
    h.feed(h.relay.detach_viewer(vid, h.now, "closed"))
    h.agent.clear()
    h.advance(h.relay.timings.agent_grace_ms - 1)
    assert h.relay.state is SessionState.WAITING
    h.connect_agent()
    types = h.agent.types()
    assert types[0] == "welcome"
    missed = [r.record["event"] for r in h.agent.of("log.event")]
    assert missed[:2] == ["session.interrupted", "viewer.left"]
    assert h.log.events()[-1] == "session.reconnected"


def test_agent_gone_past_grace_ends_the_session_as_failed() -> None:
    h, vid = live(("view",))
    h.feed(h.relay.detach_agent(h.now))
    h.advance(h.relay.timings.agent_grace_ms)
    assert h.relay.state is SessionState.ENDED
    assert h.box(vid).of("session.ended")[0].reason == "failed"
    assert any(isinstance(a, SessionClosed) for a in h.store)


def test_rating_after_kill_is_stored_but_the_sealed_log_stays_final() -> None:
    h, _ = live(("view",))
    h.agent_says(m.Kill())
    h.agent_says(m.Rating(score=5, comment="quick and kind"))
    assert h.log.events()[-1] == "session.ended"
    assert next(a for a in h.store if isinstance(a, SaveRating)).score == 5


@pytest.mark.parametrize(
    "module", ["actions", "base", "consent", "consenting", "core", "flow", "session"]
)
def test_the_core_is_sans_io(module: str) -> None:
    import ast
    from pathlib import Path

    import broker.relay

    path = Path(broker.relay.__file__).with_name(f"{module}.py")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"asyncio", "aiohttp", "socket", "ssl", "time", "websockets"}


def test_recording_keeps_only_relayed_updates_and_accepted_control_never_input() -> None:
    h = Harness()
    h.connect_agent()
    vid = h.join(permissions=("view", "control"))
    h.agent_sends(update(1, full=True))  # before consent: not relayed, not recorded
    grant(h, vid)
    v2 = h.join(user_id="u2", name="Second", permissions=("view",))
    grant(h, v2)
    h.agent_sends(update(2, full=True))  # two viewers, recorded once
    h.viewer_sends(vid, inp(1, 1))
    h.viewer_says(vid, m.Chat(text="hi"))
    h.agent_says(m.Pause())
    h.agent_says(m.Pause())  # refused (wrong_state): not recorded
    binaries = [r.data for r in h.recorded if isinstance(r.data, bytes)]
    assert binaries == [update(2, full=True)]
    texts = [json.loads(r.data)["type"] for r in h.recorded if isinstance(r.data, str)]
    assert texts.count("pause") == 1 and "chat" in texts
    assert all(r.direction in ("agent", "viewer") for r in h.recorded)
    h.feed(h.relay.agent_control(m.Resume(), h.now))
    refresh = h.relay.request_keyframe(h.now)
    h.feed(refresh)
    assert h.agent.of("refresh")
