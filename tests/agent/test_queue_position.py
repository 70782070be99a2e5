"""The waiting client reads their place in line and the expected wait, updated by the
broker's ``queue.position`` push (agent/session/waiting.py, broker/queue_notice.py)."""

from __future__ import annotations

from pathlib import Path

from agent.session.waiting import queue_text
from broker.testing import running_broker
from protocol import messages as m
from tests.agent.conftest import start_agent, stop
from tests.broker.conftest import ws_connect
from tests.helpers import eventually


async def test_the_real_agent_shows_its_place_moving_up(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        status, first, _ = await b.request(
            "POST",
            "/api/v1/agent/requests",
            json={"description": "earlier request", "client_name": "Ann"},
        )
        assert status == 201
        r = start_agent(b, tmp_path)
        try:
            await eventually(lambda: r.session.connected, what="the agent's connection")
            await eventually(
                lambda: any("number 2 in the queue" in n for n in r.observer.notices),
                what="the agent told it is second",
            )
            before = len(r.observer.notices)
            # Ann's request is withdrawn (killed before anyone joined): the agent is
            # told it is next, without asking.
            async with ws_connect(b, "/ws/agent") as ann:
                await ann.say(m.Hello(token=first["token"], client="test-agent"))
                await ann.expect("welcome")
                await ann.say(m.Kill())
                await ann.expect("session.ended")
            await eventually(
                lambda: any("next in the queue" in n for n in r.observer.notices[before:]),
                what="the pushed new place",
            )
        finally:
            await stop(r)


def test_the_text_says_the_place_and_the_expected_wait() -> None:
    assert queue_text(1, None, None) == "You are next in the queue."
    assert queue_text(3, 420, None) == (
        "You are number 3 in the queue. Expected wait: about 7 minutes."
    )
    assert queue_text(2, 30, None).endswith("about 1 minute.")
    with_deadline = queue_text(4, None, 1_800_000_000_000)
    assert with_deadline.startswith("You are number 4") and "at the latest" in with_deadline
