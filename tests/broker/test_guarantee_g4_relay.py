"""G4 (control only while granted) at the relay, defence in depth (docs/GUARANTEES.md).

The verifier's mutant "the relay forwards input while the session is not live" let
every other broker test pass: while the client has paused, input from a viewer that
still holds ``control`` must not reach the agent (the agent refuses it too).
"""

from __future__ import annotations

from broker.relay.testing import Harness
from protocol import messages as m
from protocol.media import InputFrame
from protocol.state import SessionState


def _state(h: Harness) -> SessionState:
    return h.relay.state


def _input(sender: int, seq: int) -> bytes:
    return bytes(InputFrame(sender, seq, b"\x5a" * 32))


def test_input_is_not_forwarded_while_the_client_has_paused() -> None:
    h = Harness()
    h.connect_agent()
    vid = h.join(permissions=("view", "control"))
    req = h.last_consent_request()
    h.agent_says(
        m.ConsentGrant(request_id=req.request_id, viewer_id=vid, permissions=req.permissions)
    )
    assert _state(h) is SessionState.LIVE
    h.viewer_sends(vid, _input(1, 1))
    assert len(h.agent.binary) == 1
    h.agent_says(m.Pause())
    assert _state(h) is SessionState.PAUSED
    assert h.relay.consent.holds(vid, "control")  # pause keeps the grant...
    h.viewer_sends(vid, _input(1, 2))
    assert len(h.agent.binary) == 1  # ...but nothing is forwarded
    assert h.box(vid).of("error")[-1].code == "not_granted"
    h.agent_says(m.Resume())
    h.viewer_sends(vid, _input(1, 3))
    assert len(h.agent.binary) == 2
