"""The waiting client's place in line is pushed (``queue.position``, SPEC §3.2) when
the queue changes — a request ahead answered, a more urgent one arriving — not told
once (broker/queue_notice.py)."""

from __future__ import annotations

from typing import Any

from broker.queue_notice import estimate_wait_s
from broker.testing import FakeClock, RunningBroker
from protocol import messages as m
from tests.broker.conftest import agent_request, engineer_token, join, ws_connect


async def _hello(peer: Any, token: str) -> None:
    await peer.say(m.Hello(token=token, client="test-agent"))
    await peer.expect("welcome")


async def test_waiting_agents_are_told_their_place_each_time_it_moves(
    broker: RunningBroker, clock: FakeClock
) -> None:
    sid_a, token_a = await agent_request(broker)
    clock.advance(1)  # Bob asks a second later: his deadline is later
    sid_b, token_b = await agent_request(broker)
    async with ws_connect(broker, "/ws/agent") as alice, ws_connect(broker, "/ws/agent") as bob:
        await _hello(alice, token_a)
        first = await alice.expect("queue.position")
        assert first.position == 1
        assert first.expected_wait_s is None  # nobody answered yet: no estimate
        assert first.answer_by_ms is not None and first.answer_by_ms > 0
        await _hello(bob, token_b)
        assert (await bob.expect("queue.position")).position == 2

        # A more urgent request (premium contract) goes ahead of Bob: he is told.
        admin = await broker.login(broker.admin_username, broker.admin_password)
        status, put, _ = await broker.request(
            "PUT", "/api/v1/organisations/VIP", token=admin, json={"tier": "premium"}
        )
        assert status == 200, put
        status, body, _ = await broker.request(
            "POST",
            "/api/v1/agent/requests",
            json={"description": "urgent", "client_name": "Carol", "organisation": "VIP"},
        )
        assert status == 201 and body["queue_position"] == 1
        assert (await bob.expect("queue.position")).position == 3
        assert (await alice.expect("queue.position")).position == 2

        # An engineer answers Alice: Bob moves up, with an estimate now that an
        # answer happened in the last hour.
        eng = await engineer_token(broker)
        ws_token = await join(broker, eng, sid_a, ["view"])
        async with ws_connect(broker, "/ws/viewer", origin=broker.base_url) as viewer:
            await viewer.say(m.Hello(token=ws_token, client="test-viewer"))
            await viewer.expect("welcome")
            moved = await bob.expect("queue.position")
            assert moved.position == 2
            assert moved.expected_wait_s is not None and moved.expected_wait_s >= 60

            # Carol withdraws (her kill switch) before anyone joined: Bob is next.
            async with ws_connect(broker, "/ws/agent") as carol:
                await _hello(carol, body["token"])
                assert (await carol.expect("queue.position")).position == 1
                await carol.say(m.Kill())
                await carol.expect("session.ended")
            assert (await bob.expect("queue.position")).position == 1
        # The engineer left before Alice consented: she is back in line, ahead of Bob.
        assert (await alice.expect("queue.position")).position == 1
        assert (await bob.expect("queue.position")).position == 2
        assert not [x for x in alice.seen if isinstance(x, m.ErrorMessage)]
        assert sid_b  # Bob's session is still waiting


def test_the_estimate_follows_the_answer_rate_and_stops_at_the_deadline() -> None:
    assert estimate_wait_s(1, 0, 600_000) is None  # no recent answer: no estimate
    assert estimate_wait_s(1, 12, 3_600_000) == 300  # 12 an hour: one every 5 min
    assert estimate_wait_s(3, 12, 3_600_000) == 900
    assert estimate_wait_s(3, 12, 240_000) == 240  # never past the SLA deadline
    assert estimate_wait_s(1, 1000, 3_600_000) == 60  # at least a minute
