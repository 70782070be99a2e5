"""Review of 2026-12-04: the roles of the new admin surface held in the running broker
(SLA calendars and contracts, closure rules, staff addresses, organisations and their
policy, API keys, webhooks and their deliveries, reports) — each refused to the roles
and API-key scopes that must not reach it, with a JSON error and no change."""

from __future__ import annotations

from typing import Any

from broker.testing import RunningBroker
from tests.broker.conftest import staff
from tests.broker.webhook_flow import integration_key

ADMIN_ONLY: list[tuple[str, str, dict[str, Any] | None]] = [
    ("PUT", "/api/v1/sla/calendars/office", {"timezone": "UTC", "hours": {}}),
    ("DELETE", "/api/v1/sla/calendars/office", None),
    ("PUT", "/api/v1/sla/contracts/premium", {"calendar": "24x7"}),
    ("GET", "/api/v1/sla/closure", None),
    ("PUT", "/api/v1/sla/closure/acme", {"auto_close_after_s": 3600}),
    ("GET", "/api/v1/sla/addresses", None),
    ("PUT", "/api/v1/sla/addresses/x", {"email": "a@example.com"}),
    ("GET", "/api/v1/organisations", None),
    ("PUT", "/api/v1/organisations/acme", {"tier": "premium"}),
    ("GET", "/api/v1/organisations/acme/policy", None),
    ("PUT", "/api/v1/organisations/acme/policy", {"summary_includes_chat": True}),
    ("GET", "/api/v1/api-keys", None),
    ("POST", "/api/v1/api-keys", {"user_id": "x", "name": "n", "scopes": ["tickets"]}),
    ("DELETE", "/api/v1/api-keys/x", None),
    ("GET", "/api/v1/webhooks", None),
    ("POST", "/api/v1/webhooks", {"url": "https://h.example.com/", "events": ["ticket.created"]}),
    ("GET", "/api/v1/webhooks/x/deliveries", None),
    ("POST", "/api/v1/webhooks/x/deliveries/y/redeliver", {}),
]


async def test_engineers_supervisors_reviewers_and_scoped_keys_cannot_administer(
    broker: RunningBroker,
) -> None:
    admin = await broker.login(broker.admin_username, broker.admin_password)
    callers = {
        "engineer": await staff(broker, "erin", "engineer"),
        "supervisor": await staff(broker, "sue", "supervisor"),
        "reviewer": await staff(broker, "rita", "reviewer"),
        "tickets key": await integration_key(broker, admin, ["tickets", "invitations"]),
    }
    for who, token in callers.items():
        for method, path, body in ADMIN_ONLY:
            status, err, _ = await broker.request(method, path, token=token, json=body)
            assert status == 403, (who, method, path, err)
            assert err["error"]["code"] == "forbidden", (who, path, err)
    # The keys' scopes: a tickets key reads no session nor its summary, nor reports.
    key = callers["tickets key"]
    for path in ("/api/v1/sessions", "/api/v1/sessions/x/summary", "/api/v1/reports/sla"):
        status, err, _ = await broker.request("GET", path, token=key)
        assert status == 403, (path, err)
    # Reports: supervisors, admins and reviewers; not engineers.
    for who, want in (("engineer", 403), ("supervisor", 200), ("reviewer", 200)):
        status, _, _ = await broker.request("GET", "/api/v1/reports/sla", token=callers[who])
        assert status == want, who
    status, orgs, _ = await broker.request("GET", "/api/v1/organisations", token=admin)
    assert status == 200 and "acme" not in str(orgs)  # nothing was made by the refusals


async def test_a_tickets_key_does_not_read_sessions_through_the_ticket(
    broker: RunningBroker,
) -> None:
    """Review of 2026-12-04: ``GET /tickets/{id}`` listed the ticket's sessions (engineer,
    state, rating, times) to a key without ``sessions:read``. Only a key with it sees them."""
    from tests.broker.conftest import agent_request

    admin = await broker.login(broker.admin_username, broker.admin_password)
    tickets_only = await integration_key(broker, admin, ["tickets"])
    reader = await integration_key(broker, admin, ["tickets", "sessions:read"])
    sid, _ = await agent_request(broker)
    status, session, _ = await broker.request("GET", f"/api/v1/sessions/{sid}", token=reader)
    assert status == 200, session
    tid = session["ticket_id"]
    status, seen, _ = await broker.request("GET", f"/api/v1/tickets/{tid}", token=tickets_only)
    assert status == 200 and seen["sessions"] == [], seen
    status, seen, _ = await broker.request("GET", f"/api/v1/tickets/{tid}", token=reader)
    assert status == 200 and [s["id"] for s in seen["sessions"]] == [sid]


async def test_a_key_subscribes_only_to_events_its_scopes_may_read(
    broker: RunningBroker,
) -> None:
    """Review of 2026-12-04: a key with only ``webhooks`` subscribed to session.summary
    (and every session and ticket event), reading what ``sessions:read`` and
    ``tickets`` guard. Each event now needs its scope; security alerts are admins'."""
    admin = await broker.login(broker.admin_username, broker.admin_password)
    hooks_only = await integration_key(broker, admin, ["webhooks"])
    desk = await integration_key(broker, admin, ["webhooks", "tickets", "sessions:read"])
    url = "https://hd.example.com/hook"
    for events in (["session.summary"], ["ticket.created"], ["consent.granted"], ["sla.breached"]):
        status, err, _ = await broker.request(
            "POST", "/api/v1/webhooks", token=hooks_only, json={"url": url, "events": events}
        )
        assert status == 403 and err["error"]["code"] == "forbidden", (events, err)
    status, err, _ = await broker.request(
        "POST", "/api/v1/webhooks", token=desk, json={"url": url, "events": ["security.alert"]}
    )
    assert status == 403, err
    events = ["session.ended", "session.summary", "ticket.client_opened"]  # the connector's
    status, made, _ = await broker.request(
        "POST", "/api/v1/webhooks", token=desk, json={"url": url, "events": events}
    )
    assert status == 201, made
    status, made, _ = await broker.request(
        "POST", "/api/v1/webhooks", token=admin, json={"url": url, "events": ["security.alert"]}
    )
    assert status == 201, made
