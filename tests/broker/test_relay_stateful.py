"""A stateful Hypothesis test of the relay core (G2, G4, G5, G6, G3, SPEC §6).

Random, valid-but-out-of-order sequences of what an agent and several viewers
can say are fed to :class:`broker.relay.RelayCore`. After every step:

* nothing raised except the documented ``ProtocolError`` of ``attach_*``;
* a screen update went only to a viewer that holds ``view`` while ``live`` (G2, G6);
* input reached the agent only from its own sender number, with ``control``,
  while ``live``, with an increasing seq (G4);
* unknown binary kinds were never forwarded (G3);
* after the end nothing flows and nothing reopens the session (G5);
* every viewer's flow state stays bounded (SPEC §6).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from broker.relay import AGENT, RelayCore, RelayTimings, SessionInfo, SessionRelay, ViewerUser
from broker.relay.actions import Action, Close, SendBinary, SendText, SessionClosed
from broker.relay.testing import MemoryLog
from protocol import messages as m
from protocol.errors import ProtocolError
from protocol.limits import MAX_INFLIGHT_UPDATES
from protocol.media import (
    FLAG_FULL,
    AckFrame,
    InputFrame,
    ScreenUpdateFrame,
    UnknownBinary,
    parse_binary,
)
from protocol.messages import parse_control
from protocol.state import SessionState

CT = b"\xa5" * 16
PERMS = st.lists(st.sampled_from(["view", "control", "video"]), min_size=1, max_size=3, unique=True)
TIMINGS = RelayTimings(
    consent_timeout_ms=5_000,
    checkpoint_interval_ms=3_000,
    input_flush_ms=1_000,
    agent_grace_ms=8_000,
    ended_linger_ms=4_000,
)


class RelayMachine(RuleBasedStateMachine):
    """Drives one session of a :class:`RelayCore` and checks every action it returns."""

    def __init__(self) -> None:
        super().__init__()
        self.log = MemoryLog()
        self.core = RelayCore(lambda info: self.log, TIMINGS)
        self.info = SessionInfo("s1", "t1", "Printer", "Alice")
        self.session: SessionRelay = self.core.open(self.info)
        self.now = 1_000_000
        self.next_update_seq = 1
        self.input_seq: dict[str, int] = {}
        self.ended_seen = False
        self.gone = False

    # -- plumbing --------------------------------------------------------------

    def _run(self, step: object) -> list[Action]:
        assert callable(step)
        actions: list[Action] = self.core.run(self.session, step, self.now)
        self._check(actions)
        return actions

    def _check(self, actions: list[Action]) -> None:
        s = self.session
        ended = s.machine.ended
        for action in actions:
            if isinstance(action, SendText):
                parse_control(action.text)  # everything the core says is valid protocol
            elif isinstance(action, SendBinary):
                frame = parse_binary(action.data)
                assert not isinstance(frame, UnknownBinary), "G3: unknown kind forwarded"
                assert not ended, "G5: a frame flowed after the end"
                if action.to == AGENT:
                    if isinstance(frame, InputFrame):
                        vid = f"v{frame.sender}"
                        assert vid in s.viewer_ids, "G4: input from a viewer not connected"
                        assert s.consent.holds(vid, "control"), "G4: input without control"
                        assert s.state is SessionState.LIVE, "G4/G6: input while not live"
                        # No seq check: the agent's authenticated counter is the only
                        # replay defence (SPEC §8.3); the broker cannot authenticate.
                        event("input forwarded")
                    else:
                        assert isinstance(frame, AckFrame), "agents get only input and acks"
                else:
                    assert isinstance(frame, ScreenUpdateFrame), "viewers get only updates"
                    assert action.to in s.viewer_ids
                    assert s.consent.holds(action.to, "view"), "G2: update without view"
                    assert s.state is SessionState.LIVE, "G2/G6: update while not live"
                    event("update relayed")
            elif isinstance(action, SessionClosed):
                self.gone = True
            elif isinstance(action, Close):
                assert 1000 <= action.code <= 4999
        if ended:
            self.ended_seen = True

    def _viewer(self, data: st.DataObject) -> str | None:
        ids = self.session.viewer_ids
        return data.draw(st.sampled_from(ids)) if ids else None

    # -- connections -----------------------------------------------------------

    @initialize(start_live=st.booleans())
    def start(self, start_live: bool) -> None:
        """Half the runs start live with one engineer (most bugs hide past consent)."""
        if not start_live:
            return
        self._run(lambda: self.session.attach_agent(self.now, "resume"))
        user = ViewerUser("u1", "User 1", "engineer")
        vid, actions = self.session.attach_viewer(user, ["view", "control"], self.now)
        self._check(actions)
        self.input_seq[vid] = 0
        [req] = self.session.consent.open_requests()
        grant = m.ConsentGrant(
            request_id=req.request_id, viewer_id=vid, permissions=("view", "control")
        )
        self._run(lambda: self.session.agent_control(grant, self.now))
        assert self.session.state is SessionState.LIVE

    @rule()
    def agent_connects(self) -> None:
        if self.gone:  # what the backend does on a reconnect: open, then attach
            try:
                self.core.open(self.info)
            except ProtocolError as exc:
                assert exc.code == "session_ended"
                return
            raise AssertionError("G5: an ended, forgotten session was reopened")
        try:
            self._run(lambda: self.session.attach_agent(self.now, "resume"))
        except ProtocolError as exc:
            assert exc.code == "session_ended" and self.session.machine.ended

    @precondition(lambda self: not self.gone)
    @rule()
    def agent_disconnects(self) -> None:
        self._run(lambda: self.session.detach_agent(self.now))

    @precondition(lambda self: not self.gone)
    @rule(role=st.sampled_from(["engineer", "observer"]), perms=PERMS, user=st.integers(1, 3))
    def viewer_joins(self, role: str, perms: list[str], user: int) -> None:
        result: list[str] = []

        def step() -> list[Action]:
            vid, actions = self.session.attach_viewer(
                ViewerUser(f"u{user}", f"User {user}", role), perms, self.now
            )
            result.append(vid)
            return actions

        try:
            self._run(step)
        except ProtocolError as exc:
            assert exc.code in ("session_ended", "wrong_state")
            return
        if result:
            self.input_seq[result[0]] = 0

    @precondition(lambda self: not self.gone)
    @rule(data=st.data())
    def viewer_leaves(self, data: st.DataObject) -> None:
        vid = self._viewer(data)
        if vid is not None:
            self._run(lambda: self.session.detach_viewer(vid, self.now))

    # -- consent -------------------------------------------------------------------

    @precondition(lambda self: not self.gone)
    @rule(data=st.data(), deny=st.booleans())
    def agent_answers(self, data: st.DataObject, deny: bool) -> None:
        requests = self.session.consent.open_requests()
        if not requests:
            return
        req = data.draw(st.sampled_from(requests))
        perms = tuple(data.draw(st.sets(st.sampled_from(sorted(req.permissions)), min_size=1)))
        msg: m.ControlMessage
        if deny:
            msg = m.ConsentDeny(
                request_id=req.request_id, viewer_id=req.viewer_id, permissions=perms
            )
        else:
            msg = m.ConsentGrant(
                request_id=req.request_id, viewer_id=req.viewer_id, permissions=perms
            )
        self._run(lambda: self.session.agent_control(msg, self.now))

    @precondition(lambda self: not self.gone)
    @rule(data=st.data(), perms=PERMS)
    def agent_revokes(self, data: st.DataObject, perms: list[str]) -> None:
        vid = self._viewer(data) or "v1"
        msg = m.ConsentRevoke(viewer_id=vid, permissions=tuple(perms))
        self._run(lambda: self.session.agent_control(msg, self.now))

    @precondition(lambda self: not self.gone)
    @rule(data=st.data(), perms=PERMS, release=st.booleans())
    def viewer_asks_or_releases(self, data: st.DataObject, perms: list[str], release: bool) -> None:
        vid = self._viewer(data)
        if vid is None:
            return
        msg: m.ControlMessage = (
            m.PermissionRelease(permissions=tuple(perms))
            if release
            else m.PermissionRequest(permissions=tuple(perms))
        )
        self._run(lambda: self.session.viewer_control(vid, msg, self.now))

    # -- live session ------------------------------------------------------------------

    @precondition(lambda self: not self.gone)
    @rule(
        msg=st.sampled_from(
            [m.Pause(), m.Resume(), m.MaskUpdate(regions=1, windows=0), m.CallStart()]
        )
    )
    def agent_control(self, msg: m.ControlMessage) -> None:
        self._run(lambda: self.session.agent_control(msg, self.now))

    @precondition(lambda self: not self.gone)
    @rule(data=st.data(), msg=st.sampled_from([m.Refresh(), m.Chat(text="hi"), m.CallRequest()]))
    def viewer_control(self, data: st.DataObject, msg: m.ControlMessage) -> None:
        vid = self._viewer(data)
        if vid is not None:
            self._run(lambda: self.session.viewer_control(vid, msg, self.now))

    @precondition(lambda self: not self.gone)
    @rule(full=st.booleans(), back=st.integers(0, 3))
    def agent_sends_update(self, full: bool, back: int) -> None:
        seq = max(1, self.next_update_seq - back)  # sometimes stale or repeated
        self.next_update_seq = max(self.next_update_seq, seq + 1)
        data = bytes(ScreenUpdateFrame(FLAG_FULL if full else 0, 1, seq, CT))
        self._run(lambda: self.session.agent_binary(parse_binary(data), data, self.now))

    @precondition(lambda self: not self.gone)
    @rule(data=st.data(), kind=st.integers(5, 255), from_agent=st.booleans())  # 4: video (§4.4)
    def unknown_kind(self, data: st.DataObject, kind: int, from_agent: bool) -> None:
        raw = bytes((kind,)) + b"client secrets"
        frame = parse_binary(raw)
        vid = self._viewer(data)
        if from_agent or vid is None:
            self._run(lambda: self.session.agent_binary(frame, raw, self.now))
        else:
            self._run(lambda: self.session.viewer_binary(vid, frame, raw, self.now))

    @precondition(lambda self: not self.gone)
    @rule(data=st.data(), ahead=st.integers(-2, 2))
    def viewer_acks(self, data: st.DataObject, ahead: int) -> None:
        vid = self._viewer(data)
        if vid is None:
            return
        seq = max(1, self.session.flow(vid).sent + ahead)
        raw = bytes(AckFrame(seq))
        self._run(lambda: self.session.viewer_binary(vid, parse_binary(raw), raw, self.now))

    @precondition(lambda self: not self.gone)
    @rule(data=st.data(), forged=st.booleans(), replay=st.booleans())
    def viewer_sends_input(self, data: st.DataObject, forged: bool, replay: bool) -> None:
        vid = self._viewer(data)
        if vid is None:
            return
        number = int(vid[1:]) + (7 if forged else 0)
        seq = self.input_seq[vid] if replay and self.input_seq[vid] else self.input_seq[vid] + 1
        self.input_seq[vid] = max(self.input_seq[vid], seq)
        raw = bytes(InputFrame(number, seq, CT))
        self._run(lambda: self.session.viewer_binary(vid, parse_binary(raw), raw, self.now))

    # -- time and ending -----------------------------------------------------------------

    @precondition(lambda self: not self.gone)
    @rule(ms=st.sampled_from([10, 900, 1_500, 5_000, 9_000]))
    def time_passes(self, ms: int) -> None:
        self.now += ms
        self._run(lambda: self.session.tick(self.now))

    @precondition(lambda self: not self.gone)
    @rule(data=st.data(), how=st.sampled_from(["kill", "end", "rest", "-", "-", "-", "-"]))
    def ending(self, data: st.DataObject, how: str) -> None:
        if how == "-":  # ending is rarer than the other rules
            return
        if how == "kill":
            self._run(lambda: self.session.agent_control(m.Kill(), self.now))
        elif how == "end":
            vid = self._viewer(data)
            if vid is not None:
                end = m.End(resolution="done")
                self._run(lambda: self.session.viewer_control(vid, end, self.now))
        else:
            self._run(lambda: self.session.end("ended_by_engineer", "rest", None, self.now))

    @precondition(lambda self: not self.gone)
    @rule(now=st.integers(0, 5))
    def log_breaks(self, now: int) -> None:
        if now:  # rarer than the other rules
            return
        self.log.fail = True
        self._run(lambda: self.session.agent_control(m.MaskUpdate(regions=0, windows=0), self.now))
        self.log.fail = False

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def bounded_flow(self) -> None:
        for vid in self.session.viewer_ids:
            flow = self.session.flow(vid)
            assert flow.inflight <= MAX_INFLIGHT_UPDATES
            if not self.session.consent.holds(vid, "view"):
                assert flow.pending is None and flow.inflight == 0

    @invariant()
    def ended_is_final(self) -> None:
        if self.ended_seen:
            assert self.session.state is SessionState.ENDED
        if self.gone:
            assert self.core.get("s1") is None
            try:
                self.core.open(self.info)
            except ProtocolError as exc:
                assert exc.code == "session_ended"
            else:
                raise AssertionError("G5: an ended, forgotten session was reopened")

    @invariant()
    def log_chain_is_intact(self) -> None:
        prev = "0" * 64
        for record in self.log.records:
            assert record["prev"] == prev
            prev = record["hash"]


RelayMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("RELAY_FUZZ_EXAMPLES", "25")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRelayMachine = RelayMachine.TestCase
