"""Session state machine (SPEC §5) and the message/role/state table."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.limits import CONSENT_TIMEOUT_S
from protocol.messages import MESSAGE_TYPES
from protocol.state import (
    ALLOWED,
    FIRST_LIVE_EVENT,
    TRANSITIONS,
    EndReason,
    SessionEvent,
    SessionMachine,
    SessionState,
    allowed,
    check_allowed,
)

S = SessionState
E = SessionEvent

# SPEC §5, written out independently of the implementation's table.
LEGAL = {
    (S.REQUESTED, E.AGENT_CONNECTED): S.WAITING,
    (S.WAITING, E.CONSENT_REQUESTED): S.CONSENT_PENDING,
    (S.CONSENT_PENDING, E.VIEW_GRANTED): S.LIVE,
    (S.CONSENT_PENDING, E.CONSENT_DENIED): S.WAITING,
    (S.CONSENT_PENDING, E.CONSENT_TIMED_OUT): S.WAITING,
    (S.LIVE, E.PAUSE): S.PAUSED,
    (S.PAUSED, E.RESUME): S.LIVE,
    (S.LIVE, E.LAST_VIEWER_LEFT): S.WAITING,
    (S.PAUSED, E.LAST_VIEWER_LEFT): S.WAITING,
    (S.REQUESTED, E.END): S.ENDED,
    (S.WAITING, E.END): S.ENDED,
    (S.CONSENT_PENDING, E.END): S.ENDED,
    (S.LIVE, E.END): S.ENDED,
    (S.PAUSED, E.END): S.ENDED,
}
AUDIT = {
    E.PAUSE: "session.paused",
    E.RESUME: "session.resumed",
    E.CONSENT_DENIED: "consent.denied",
    E.CONSENT_TIMED_OUT: "consent.denied",
    E.CONSENT_REQUESTED: "consent.requested",
    E.END: "session.ended",
    E.AGENT_CONNECTED: "session.requested",
    E.LAST_VIEWER_LEFT: "viewer.left",
}


def machine_in(state: SessionState, now_ms: int = 0) -> SessionMachine:
    m = SessionMachine(state=state)
    if state is S.CONSENT_PENDING:
        m.consent_deadline_ms = now_ms  # already expired, so timed_out is legal
    return m


@pytest.mark.parametrize(("state", "event"), list(itertools.product(S, E)))
def test_every_transition_legal_or_rejected(state: SessionState, event: SessionEvent) -> None:
    m = machine_in(state, now_ms=1_000)
    reason = EndReason.FAILED.value if event is E.END else None
    if (state, event) in LEGAL:
        t = m.transition(event, 1_000, reason=reason)
        assert m.state is state  # validated, not yet applied
        assert t.event.count(".") == 1 and t.event == t.event.lower()
        if event in AUDIT:
            assert t.event == AUDIT[event]
        elif event is E.VIEW_GRANTED:
            assert t.event in {"session.started", "consent.granted"}
        m.apply(t)
        assert m.state is LEGAL[(state, event)]
    else:
        with pytest.raises(ProtocolError) as info:
            m.transition(event, 1_000, reason=reason)
        assert info.value.code == "wrong_state"
        assert m.state is state


def test_first_grant_starts_the_session_later_grants_are_consent() -> None:
    m = SessionMachine(state=S.WAITING)
    m.apply(m.transition(E.CONSENT_REQUESTED, 0))
    first = m.transition(E.VIEW_GRANTED, 1)
    assert first.event == "session.started"
    m.apply(first)
    m.apply(m.transition(E.LAST_VIEWER_LEFT, 2))
    m.apply(m.transition(E.CONSENT_REQUESTED, 3))
    assert m.transition(E.VIEW_GRANTED, 4).event == "consent.granted"


def test_audit_event_names_exist_in_the_audit_event_table() -> None:
    from audit.events import EVENTS

    names = {event for _, event in TRANSITIONS.values()} | {FIRST_LIVE_EVENT}
    assert names <= set(EVENTS)


def test_ended_is_final_and_keeps_the_reason() -> None:
    m = SessionMachine()
    for event in (E.AGENT_CONNECTED, E.CONSENT_REQUESTED, E.VIEW_GRANTED):
        m.apply(m.transition(event, 10))
    m.apply(m.transition(E.END, 20, reason="killed_by_client"))
    assert m.ended and m.end_reason == "killed_by_client"
    for event in E:
        with pytest.raises(ProtocolError) as info:
            m.transition(event, 30, reason="failed" if event is E.END else None)
        assert info.value.code == "wrong_state"
    assert [t.after for t in m.history] == [S.WAITING, S.CONSENT_PENDING, S.LIVE, S.ENDED]


def test_end_needs_a_documented_reason() -> None:
    m = SessionMachine(state=S.LIVE)
    for bad in (None, "bored"):
        with pytest.raises(ProtocolError) as info:
            m.transition(E.END, 0, reason=bad)
        assert info.value.code == "invalid_field"
    with pytest.raises(ProtocolError):
        m.transition(E.PAUSE, 0, reason="failed")


def test_consent_timeout_is_a_deny_back_to_waiting() -> None:
    m = SessionMachine(state=S.WAITING)
    m.apply(m.transition(E.CONSENT_REQUESTED, 1_000))
    deadline = 1_000 + CONSENT_TIMEOUT_S * 1000
    assert m.consent_deadline_ms == deadline
    assert not m.consent_expired(deadline - 1)
    with pytest.raises(ProtocolError) as info:
        m.transition(E.CONSENT_TIMED_OUT, deadline - 1)
    assert info.value.code == "wrong_state"
    assert m.consent_expired(deadline)
    t = m.transition(E.CONSENT_TIMED_OUT, deadline)
    assert t.event == "consent.denied"
    m.apply(t)
    assert m.state is S.WAITING and m.consent_deadline_ms is None
    assert not m.consent_expired(deadline + 1)


def test_stale_transition_is_rejected() -> None:
    m = SessionMachine(state=S.LIVE)
    t1 = m.transition(E.PAUSE, 0)
    t2 = m.transition(E.END, 0, reason="failed")
    m.apply(t1)
    with pytest.raises(ProtocolError) as info:
        m.apply(t2)
    assert info.value.code == "wrong_state"
    assert m.state is S.PAUSED


def test_every_message_type_is_in_the_allowed_table() -> None:
    assert set(ALLOWED) == set(MESSAGE_TYPES)


@pytest.mark.parametrize(
    ("msg_type", "role", "state", "ok"),
    [
        ("pause", "agent", S.LIVE, True),
        ("pause", "agent", S.PAUSED, False),
        ("resume", "agent", S.LIVE, False),
        ("resume", "agent", S.PAUSED, True),
        ("pause", "engineer", S.LIVE, False),
        ("chat", "engineer", S.WAITING, False),
        ("chat", "engineer", S.LIVE, True),
        ("chat", "agent", S.PAUSED, True),
        ("refresh", "engineer", S.CONSENT_PENDING, False),
        ("call.request", "observer", S.LIVE, False),
        ("call.request", "engineer", S.LIVE, True),
        ("rtc.offer", "observer", S.LIVE, False),
        ("consent.grant", "engineer", S.CONSENT_PENDING, False),
        ("consent.grant", "agent", S.CONSENT_PENDING, True),
        ("consent.grant", "agent", S.WAITING, False),
        ("kill", "agent", S.ENDED, False),
        ("kill", "agent", S.REQUESTED, True),
        ("end", "engineer", S.ENDED, False),
        ("end", "observer", S.LIVE, False),
        ("key.commit", "engineer", S.WAITING, False),
        ("key.commit", "engineer", S.CONSENT_PENDING, True),
        ("rating", "agent", S.ENDED, True),
        ("welcome", "agent", S.WAITING, False),
        ("file.send", "agent", S.LIVE, False),
    ],
)
def test_allowed(msg_type: str, role: str, state: SessionState, ok: bool) -> None:
    assert allowed(msg_type, role, state) is ok
    assert allowed(msg_type, role, state.value) is ok


def test_only_error_rating_and_broker_messages_after_end() -> None:
    for msg_type in MESSAGE_TYPES:
        for role in ("agent", "engineer", "observer"):
            if allowed(msg_type, role, S.ENDED):
                assert msg_type in {"error", "rating"}


def test_check_allowed_codes() -> None:
    with pytest.raises(ProtocolError) as info:
        check_allowed("pause", "engineer", S.LIVE)
    assert info.value.code == "forbidden" and info.value.close_code == 4403
    with pytest.raises(ProtocolError) as info:
        check_allowed("pause", "agent", S.PAUSED)
    assert info.value.code == "wrong_state" and info.value.close_code is None
    with pytest.raises(ProtocolError) as info:
        check_allowed("nope", "agent", S.LIVE)
    assert info.value.code == "unknown_type"
    check_allowed("pause", "agent", S.LIVE)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(E)), st.integers(0, 200_000)), max_size=30))
def test_random_event_sequences_follow_the_spec_table(steps: list[tuple[E, int]]) -> None:
    m = SessionMachine()
    now = 0
    for event, delta in steps:
        now += delta
        before = m.state
        try:
            t = m.transition(event, now, reason="timed_out" if event is E.END else None)
        except ProtocolError as exc:
            assert exc.code == "wrong_state"
            legal = (before, event) in LEGAL
            assert not legal or (event is E.CONSENT_TIMED_OUT and not m.consent_expired(now))
            assert m.state is before
            continue
        m.apply(t)
        assert m.state is LEGAL[(before, event)]
        if before is S.ENDED:
            raise AssertionError("left ended")
