"""The session core's parts, each driven alone over a bare ``SessionContext``
(no ``SessionRelay``): the input part and the consent part."""

from __future__ import annotations

from broker.relay.actions import AGENT, SendBinary, SendText
from broker.relay.base import SessionContext, SessionInfo, ViewerSlot, ViewerUser
from broker.relay.consenting import ConsentFlow
from broker.relay.input import InputRelay
from broker.relay.testing import MemoryLog
from protocol import messages as m
from protocol.media import InputFrame
from protocol.state import SessionEvent, SessionState

NOW = 1_700_000_000_000


def context() -> tuple[SessionContext, ViewerSlot, MemoryLog]:
    log = MemoryLog()
    ctx = SessionContext(SessionInfo("s1", "t1", "Printer", "Alice"), log)
    ctx.agent_connected = True
    viewer = ViewerSlot("v1", 1, ViewerUser("u1", "Eve", "engineer"))
    ctx.viewers["v1"] = viewer
    ctx.numbers[1] = "v1"
    return ctx, viewer, log


def frame(sender: int, seq: int) -> bytes:
    return bytes(InputFrame(sender=sender, seq=seq, ciphertext=bytes(32)))


def test_input_part_forwards_only_with_control_while_live_and_logs_counts() -> None:
    ctx, viewer, log = context()
    part = InputRelay(ctx)
    data = frame(1, 1)
    part.on_input(viewer, InputFrame(1, 1, bytes(32)), data, NOW)  # no control yet
    assert not [a for a in ctx.take() if isinstance(a, SendBinary)]
    ctx.machine.apply(ctx.machine.transition(SessionEvent.AGENT_CONNECTED, NOW))
    ctx.machine.apply(ctx.machine.transition(SessionEvent.CONSENT_REQUESTED, NOW))
    ctx.machine.apply(ctx.machine.transition(SessionEvent.VIEW_GRANTED, NOW))
    assert ctx.state is SessionState.LIVE
    request = ctx.consent.prepare("v1", {"view", "control"}, NOW)
    ctx.consent.open(request)
    ctx.consent.grant(request, frozenset({"view", "control"}))
    part.on_input(viewer, InputFrame(1, 2, bytes(32)), frame(1, 2), NOW)
    part.on_input(viewer, InputFrame(7, 3, bytes(32)), frame(7, 3), NOW)  # wrong sender
    sent = [a for a in ctx.take() if isinstance(a, SendBinary)]
    assert [(a.to, a.data) for a in sent] == [(AGENT, frame(1, 2))]
    part.flush(viewer, NOW)
    events = {r["event"]: r["detail"] for r in log.records}
    assert events["input.forwarded"]["batches"] == 1
    assert events["input.dropped"]["batches"] == 2
    assert events["input.dropped"]["reasons"] == ["not_granted", "sender_mismatch"]


def test_consent_part_asks_the_agent_and_a_grant_makes_the_session_live() -> None:
    ctx, viewer, log = context()
    ctx.machine.apply(ctx.machine.transition(SessionEvent.AGENT_CONNECTED, NOW))
    part = ConsentFlow(ctx, InputRelay(ctx))
    part.ask(viewer, {"view"}, NOW)
    asked = [
        m.parse_control(a.text) for a in ctx.take() if isinstance(a, SendText) and a.to == AGENT
    ]
    (request,) = [msg for msg in asked if isinstance(msg, m.ConsentRequest)]
    assert ctx.state is SessionState.CONSENT_PENDING
    part.on_grant(
        m.ConsentGrant(request_id=request.request_id, viewer_id="v1", permissions=("view",)),
        NOW + 1,
    )
    assert ctx.state is SessionState.LIVE and ctx.consent.holds("v1", "view")
    # logged before it took effect, as the record of the transition
    granted = [r for r in log.records if r["event"] == "consent.granted"]
    assert granted and granted[0]["detail"]["state"] == "live"
