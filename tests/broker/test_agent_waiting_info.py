"""While waiting the client learns their place in line and the latest answer time
(issue 20 item 6): the request's answer carries ``queue_position`` and ``answer_by``,
and the agent reads them (agent.connection._ticket)."""

from __future__ import annotations

from typing import Any

from agent.connection import _ticket
from broker.testing import RunningBroker


async def _ask(broker: RunningBroker, text: str) -> dict[str, Any]:
    status, body, _ = await broker.request(
        "POST", "/api/v1/agent/requests", json={"description": text, "client_name": "Bob"}
    )
    assert status == 201, body
    result: dict[str, Any] = body
    return result


async def test_requests_learn_their_place_and_answer_time(broker: RunningBroker) -> None:
    first = await _ask(broker, "printer")
    second = await _ask(broker, "vpn")
    assert (first["queue_position"], second["queue_position"]) == (1, 2)
    assert second["answer_by"] >= first["answer_by"]
    ticket = _ticket(second)
    assert ticket.queue_position == 2 and ticket.answer_by_ms is not None
    assert ticket.answer_by_ms > 1_600_000_000_000
