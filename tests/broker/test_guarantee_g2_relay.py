"""G2 (consent first) at the relay: holes the verifier's mutants found (docs/GUARANTEES.md).

- A grant that arrives after the prompt's deadline but *before* the relay's timer
  has run must still be refused: a prompt that times out is a deny, whatever the
  ticker's phase (``ConsentBook.check_answer`` deadline check).
- A grant naming one viewer but answering another viewer's prompt is refused and
  gives nobody anything (``ConsentBook.check_answer`` viewer check): the client
  consents to a *named* engineer.
"""

from __future__ import annotations

from broker.relay.testing import Harness
from protocol import messages as m
from protocol.limits import CONSENT_TIMEOUT_S
from protocol.media import FLAG_FULL, ScreenUpdateFrame
from protocol.state import SessionState


def _update(seq: int) -> bytes:
    return bytes(ScreenUpdateFrame(FLAG_FULL, 1, seq, b"\x5a" * 40))


def test_a_grant_after_the_deadline_is_refused_even_before_the_timer_runs() -> None:
    h = Harness()
    h.connect_agent()
    vid = h.join(permissions=("view",))
    req = h.last_consent_request()
    h.now += CONSENT_TIMEOUT_S * 1000  # the deadline passed; tick() has not run yet
    h.agent.clear()
    h.agent_says(m.ConsentGrant(request_id=req.request_id, viewer_id=vid, permissions=("view",)))
    assert h.agent.of("error")[0].code in ("wrong_state", "invalid_field")
    assert not h.relay.consent.holds(vid, "view")
    assert h.relay.state is not SessionState.LIVE
    h.agent_sends(_update(1))
    assert h.box(vid).binary == []


def test_a_grant_for_another_viewers_prompt_grants_nobody_anything() -> None:
    h = Harness()
    h.connect_agent()
    v1 = h.join(user_id="u1", name="Eve Engineer", permissions=("view",))
    req1 = h.last_consent_request()
    v2 = h.join(user_id="u2", name="Mallory", permissions=("view",))
    req2 = h.last_consent_request()
    assert (req1.viewer_id, req2.viewer_id) == (v1, v2)
    h.agent.clear()
    # The client answers "yes" for Eve, but the request id is Mallory's prompt.
    h.agent_says(m.ConsentGrant(request_id=req2.request_id, viewer_id=v1, permissions=("view",)))
    assert h.agent.of("error")[0].code == "invalid_field"
    assert not h.relay.consent.holds(v1, "view")
    assert not h.relay.consent.holds(v2, "view")
    h.agent_sends(_update(1))
    assert h.box(v1).binary == [] and h.box(v2).binary == []
