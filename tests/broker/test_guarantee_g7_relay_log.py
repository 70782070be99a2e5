"""G7 (nothing hidden) at the relay: a state change is logged *before* it takes effect.

Written by the guarantee verifier (docs/GUARANTEES.md): swapping "append the audit
record" and "apply the transition" in ``SessionContext.transition`` let every other
broker test pass, because a failed append aborts the session (state ``ended``)
either way. What differs is the machine's history: a transition whose record could
not be written must never have been applied. Every transition the session applied
has its record in the log, in the same order.
"""

from __future__ import annotations

from broker.relay import RelayCore, SessionInfo, ViewerUser
from broker.relay.session import SessionRelay
from broker.relay.testing import Harness, MemoryLog
from protocol import messages as m
from protocol.state import SessionEvent, SessionState


def _live_session() -> tuple[RelayCore, MemoryLog, SessionRelay]:
    log = MemoryLog()
    core = RelayCore(lambda info: log)
    s = core.open(SessionInfo("s1", "t1", "Printer"))
    core.run(s, lambda: s.attach_agent(0), 0)
    core.run(s, lambda: s.attach_viewer(ViewerUser("u1", "Eve", "engineer"), ["view"], 1)[1], 1)
    req = s.consent.open_requests()[0]
    grant = m.ConsentGrant(request_id=req.request_id, viewer_id="v1", permissions=("view",))
    core.run(s, lambda: s.agent_control(grant, 2), 2)
    assert s.state is SessionState.LIVE
    return core, log, s


def test_a_pause_whose_record_cannot_be_written_never_takes_effect() -> None:
    core, log, s = _live_session()
    log.fail = True
    core.run(s, lambda: s.agent_control(m.Pause(), 3), 3)
    history = [t.after for t in s.machine.history]
    assert SessionState.PAUSED not in history
    assert s.state is SessionState.ENDED  # aborted, fail closed


def test_every_applied_transition_has_its_record_first() -> None:
    core, log, s = _live_session()
    core.run(s, lambda: s.agent_control(m.Pause(), 3), 3)
    core.run(s, lambda: s.agent_control(m.Resume(), 4), 4)
    core.run(s, lambda: s.agent_control(m.Kill(), 5), 5)
    events = log.events()
    applied = [t.event for t in s.machine.history if t.trigger is not SessionEvent.END]
    # each applied transition's event is in the log, in order
    it = iter(events)
    assert all(any(e == want for e in it) for want in applied), (applied, events)
    assert events[-1] == "session.ended"


def _records(log: MemoryLog, event: str) -> list[dict[str, object]]:
    return [r["detail"] for r in log.records if r["event"] == event]


def test_every_engineer_action_is_in_the_log_streamed_to_the_agent() -> None:
    """Joined, permission asked (second viewer, and later asks), call, left: each is a
    record, and each record reaches the agent as ``log.event`` (the client's live log)."""
    h = Harness()
    h.connect_agent()
    v1 = h.join(user_id="u1", name="Eve", permissions=("view",))
    req = h.last_consent_request()
    h.agent_says(m.ConsentGrant(request_id=req.request_id, viewer_id=v1, permissions=("view",)))
    v2 = h.join(user_id="u2", name="Sam", role="observer", permissions=("view",))
    h.viewer_says(v1, m.PermissionRequest(permissions=("control",), note="to fix the driver"))
    h.viewer_says(v1, m.CallRequest())
    h.feed(h.relay.detach_viewer(v2, h.now))

    asked = _records(h.log, "consent.requested")
    assert [(d["viewer_id"], d["permissions"]) for d in asked] == [
        (v1, ["view"]),
        (v2, ["view"]),
        (v1, ["control"]),
    ]
    assert [d["viewer_id"] for d in _records(h.log, "call.requested")] == [v1]
    assert [d["viewer_id"] for d in _records(h.log, "viewer.left")] == [v2]
    streamed = [msg.record["seq"] for msg in h.agent.of("log.event")]
    assert streamed == [r["seq"] for r in h.log.records]  # all of it, in order
