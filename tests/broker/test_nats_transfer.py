"""A transfer when the relay runs on NATS (issue 19): the session core stays in the
agent's process ("a"); both engineers are connected to the other process ("b"). The
hand-over travels in the attach request, the client's prompt names who hands over,
and on the grant the first engineer's remote connection is told and closed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from broker.relay import SessionInfo, ViewerUser
from broker.relay.actions import HandoverAnswered
from broker.relay.base import HandoverInfo
from broker.relay.nats import NatsRelay
from broker.relay.testing import MemoryLog
from protocol import messages as m
from protocol.errors import ProtocolError
from tests.helpers import eventually

INFO = SessionInfo("s1", "t1", "Printer", "Alice")


class Box:
    """An endpoint that keeps what it was sent."""

    def __init__(self) -> None:
        self.texts: list[m.ControlMessage] = []
        self.closed: tuple[int, str] | None = None

    def send_text(self, text: str) -> None:
        self.texts.append(m.parse_control(text))

    def send_binary(self, data: bytes) -> None:
        pass

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def of(self, kind: type[Any]) -> list[Any]:
        return [t for t in self.texts if isinstance(t, kind)]


@pytest.fixture
async def relays(nats_url: str) -> AsyncIterator[tuple[NatsRelay, NatsRelay, list[Any]]]:
    stored: list[Any] = []

    async def persist(action: Any) -> None:
        stored.append(action)

    async def load_info(sid: str) -> SessionInfo | ProtocolError:
        return INFO

    async def stored_state(sid: str) -> str | None:
        return "requested"

    def make(node: str) -> Any:
        return NatsRelay.connect(
            nats_url,
            log_factory=lambda info: MemoryLog(),
            now_ms=lambda: int(time.time() * 1000),
            persist=persist,
            node_id=node,
            load_info=load_info,
            stored_state=stored_state,
            heartbeat_s=0.1,
            home_timeout_s=2.0,
        )

    a, b = await make("a"), await make("b")
    a.start()
    b.start()
    yield a, b, stored
    for relay in (a, b):
        await relay.shutdown()
        await relay.close()


async def test_a_transfer_across_processes(
    relays: tuple[NatsRelay, NatsRelay, list[Any]],
) -> None:
    a, b, stored = relays
    agent, old, new = Box(), Box(), Box()
    await a.attach_agent(INFO, agent, None)  # a is the home
    old_vid = await b.attach_viewer(
        "s1", ViewerUser("u1", "Ann Old", "engineer"), ["view", "control"], old
    )
    await eventually(lambda: agent.of(m.ConsentRequest))
    first = agent.of(m.ConsentRequest)[0]
    await a.agent_control("s1", m.ConsentGrant(first.request_id, old_vid, ("view", "control")))
    await eventually(lambda: old.of(m.ConsentGrant))

    handover = HandoverInfo("h1", "transfer", "u1", "Ann Old")
    bob = ViewerUser("u2", "Bob New", "engineer", handover)
    new_vid = await b.attach_viewer("s1", bob, ["view", "control"], new)
    await eventually(lambda: len(agent.of(m.ConsentRequest)) == 2)
    prompt = agent.of(m.ConsentRequest)[1]
    assert prompt.viewer_id == new_vid and prompt.user.name == "Bob New"
    assert prompt.handover is not None and prompt.handover.by.name == "Ann Old"
    assert b.core.get("s1") is None  # the core stays in the agent's process

    await a.agent_control("s1", m.ConsentGrant(prompt.request_id, new_vid, ("view", "control")))
    await eventually(lambda: old.closed is not None and new.of(m.ConsentGrant))
    assert old.closed == (4000, "transferred")
    assert [x.reason for x in old.of(m.ViewerLeft) if x.viewer_id == old_vid] == ["transferred"]
    assert [x.reason for x in agent.of(m.ViewerLeft)] == ["transferred"]
    core = a.core.get("s1")
    assert core is not None and core.viewer_ids == [new_vid]
    await eventually(lambda: any(isinstance(x, HandoverAnswered) for x in stored))
    [done] = [x for x in stored if isinstance(x, HandoverAnswered)]
    assert (done.outcome, done.from_user_id, done.to_user_id) == ("accepted", "u1", "u2")
