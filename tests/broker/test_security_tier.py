"""Issue 14, item 8: the SLA tier of a client request comes from the organisation's
contract (set by admins), never from the unauthenticated client."""

from __future__ import annotations

from broker.store import queries
from broker.store.db import DB
from broker.testing import RunningBroker
from tests.broker.conftest import staff

NOW = 1_800_000_000_000  # the conftest clock


async def _deadline_s(broker: RunningBroker, body: dict[str, str]) -> float:
    status, answer, _ = await broker.request("POST", "/api/v1/agent/requests", json=body)
    assert status == 201, answer
    session = await queries.get_session(broker.app[DB], answer["session_id"])
    assert session is not None
    return (session.deadline_ms - session.created_at_ms) / 1000


async def test_client_cannot_choose_its_tier(broker: RunningBroker) -> None:
    status, answer, _ = await broker.request(
        "POST",
        "/api/v1/agent/requests",
        json={"description": "help", "client_name": "Mallory", "tier": "premium"},
    )
    assert status == 400 and answer["error"]["code"] == "invalid_field"
    assert "contract" in answer["error"]["message"]
    base = {"description": "help", "client_name": "Ann"}
    assert await _deadline_s(broker, base) == 30 * 60  # the default tier (standard)
    assert await _deadline_s(broker, {**base, "organisation": "Acme"}) == 30 * 60


async def test_admin_sets_the_contract_tier_of_an_organisation(broker: RunningBroker) -> None:
    admin = await staff(broker, "root", "admin")
    eng = await staff(broker, "erin", "engineer")
    path = "/api/v1/organisations/Acme"
    assert (await broker.request("PUT", path, token=eng, json={"tier": "premium"}))[0] == 403
    status, body, _ = await broker.request("PUT", path, token=admin, json={"tier": "nope"})
    assert status == 400
    status, body, _ = await broker.request("PUT", path, token=admin, json={"tier": "premium"})
    assert status == 200 and body == {"name": "Acme", "tier": "premium", "disabled": False}
    listed = (await broker.request("GET", "/api/v1/organisations", token=admin))[1]
    assert listed == {"organisations": [{"name": "Acme", "tier": "premium", "disabled": False}]}
    base = {"description": "help", "client_name": "Ann", "organisation": "Acme"}
    assert await _deadline_s(broker, base) == 5 * 60
