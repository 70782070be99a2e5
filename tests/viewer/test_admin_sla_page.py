"""The SLA pages in real Chromium on the real broker (issue 19): the admin adds a
business-hours calendar and edits a tier's contract (calendar, pauses, at-risk share,
a functional level in the chain); a supervisor sees the open escalations on the queue
page and acknowledges one."""

from __future__ import annotations

from typing import Any

from broker.sla.scheduler import SlaScheduler
from broker.store.db import DB
from broker.testing import FakeClock
from tests.helpers import eventually
from tests.viewer.conftest import login, watch_console


async def test_the_admin_keeps_calendars_and_contracts(page: Any, broker: Any) -> None:
    problems = watch_console(page)
    await login(page, broker.base_url, broker.admin_username, broker.admin_password)
    await page.goto(f"{broker.base_url}/#/admin/sla")
    await page.wait_for_selector("#sla-contracts-body tr[data-tier='premium']")
    assert await page.get_attribute(".admin-tabs a[aria-current=page]", "href") == "#/admin/sla"
    await page.fill("#sla-k-name", "office-msk")
    await page.fill("#sla-k-zone", "Europe/Moscow")
    await page.fill("#sla-k-holidays", "2027-01-01\n2027-01-07")
    await page.click("#sla-k-save")
    await page.wait_for_selector("#sla-calendars-body tr[data-calendar='office-msk']")
    token = await broker.login(broker.admin_username, broker.admin_password)
    _, cals, _ = await broker.request("GET", "/api/v1/sla/calendars", token=token)
    [office] = [c for c in cals["calendars"] if c["name"] == "office-msk"]
    assert office["timezone"] == "Europe/Moscow" and office["holidays"] == [
        "2027-01-01",
        "2027-01-07",
    ]
    assert office["hours"]["mon"] == [["09:00", "18:00"]] and "sat" not in office["hours"]

    await page.select_option("#sla-c-tier", "standard")
    await page.select_option("#sla-c-calendar", "office-msk")
    await page.uncheck("#sla-c-pause-pending_vendor")
    await page.fill("#sla-c-risk", "75")
    await page.fill("#sla-c-remind", "30")
    await page.fill("#sla-c-urgent-response", "30")
    await page.fill("#sla-c-urgent-resolution", "4")
    await page.click("#sla-c-add-level")
    last = "#sla-c-chain .sla-level:last-child"
    await page.select_option(f"{last} .lv-to", "group")
    await page.fill(f"{last} .lv-at", "90")
    await page.fill(f"{last} .lv-skill", "level2")
    await page.click("#sla-c-save")

    async def standard() -> dict[str, Any] | None:
        _, data, _ = await broker.request("GET", "/api/v1/sla/contracts", token=token)
        found: dict[str, Any] = next(c for c in data["contracts"] if c["tier"] == "standard")
        return found if found["calendar"] == "office-msk" else None

    contract = await eventually(standard, what="the contract saved")
    assert contract["pause_statuses"] == ["waiting_for_client"]
    assert contract["at_risk_fraction"] == 0.75 and contract["remind_after_s"] == 1800
    assert contract["targets"]["urgent"] == {"response_s": 1800, "resolution_s": 14400}
    assert {"clock": "resolution", "at": 0.9, "to": "group", "skill": "level2"} in contract["chain"]
    await page.wait_for_selector(
        "#sla-contracts-body tr[data-tier='standard'] td:has-text('office-msk')"
    )
    assert not problems, problems


async def test_a_supervisor_acknowledges_an_escalation_on_the_queue(page: Any, broker: Any) -> None:
    problems = watch_console(page)
    sup, sup_pw = await broker.create_user("sam", "supervisor", name="Sam Supervisor")
    admin = await broker.login(broker.admin_username, broker.admin_password)
    status, ticket, _ = await broker.request(
        "POST",
        "/api/v1/tickets",
        token=admin,
        json={"title": "Mail server down", "tier": "premium"},
    )
    assert status == 201
    # The scheduler looks a day ahead: every premium clock of the ticket has run out.
    ahead = SlaScheduler(broker.app[DB], FakeClock(ticket_ms(ticket) + 86_400_000), mail=False)
    assert (await ahead.run_once()).raised
    await login(page, broker.base_url, sup, sup_pw)
    await page.goto(f"{broker.base_url}/#/queue")
    item = ".sla-banner .sla-escalation"
    await page.wait_for_selector(item)
    count = await page.locator(item).count()
    assert count == 4  # premium's default chain: response 80 %, resolution 50/80/100 %
    assert "Mail server down" in await page.inner_text(".sla-banner")
    await page.click(f"{item}:first-child .sla-ack")
    await page.wait_for_function(
        "n => document.querySelectorAll('.sla-banner .sla-escalation').length === n", arg=count - 1
    )
    _, data, _ = await broker.request("GET", "/api/v1/sla/escalations", token=admin)
    acked = [e for e in data["escalations"] if e["acknowledged_at"]]
    assert len(acked) == 1 and acked[0]["acknowledged_by_name"] == "Sam Supervisor"
    assert not problems, problems


def ticket_ms(ticket: dict[str, Any]) -> int:
    """The ticket's creation time in epoch ms (from its RFC 3339 ``created_at``)."""
    from datetime import datetime

    return int(
        datetime.fromisoformat(ticket["created_at"].replace("Z", "+00:00")).timestamp() * 1000
    )


async def test_the_ticket_page_shows_the_clocks_and_sets_the_priority(
    page: Any, broker: Any
) -> None:
    problems = watch_console(page)
    eng, eng_pw = await broker.create_user("erin", "engineer", name="Erin Engineer")
    token = await broker.login(eng, eng_pw)
    status, ticket, _ = await broker.request(
        "POST", "/api/v1/tickets", token=token, json={"title": "VPN", "tier": "premium"}
    )
    assert status == 201
    await login(page, broker.base_url, eng, eng_pw)
    await page.goto(f"{broker.base_url}/#/ticket/{ticket['id']}")
    await page.wait_for_selector(
        "#ticket-sla-clocks li[data-clock='resolution'][data-state='running']"
    )
    text = await page.inner_text("#ticket-sla-clocks")
    assert "Response" in text and "Resolution" in text
    await page.select_option("#ticket-priority", "urgent")
    await page.fill("#ticket-client-email", "ann@acme.test")
    await page.click("#ticket-sla-save")

    async def urgent() -> dict[str, Any] | None:
        _, data, _ = await broker.request("GET", f"/api/v1/tickets/{ticket['id']}/sla", token=token)
        return data if data["priority"] == "urgent" else None

    data: dict[str, Any] = await eventually(urgent, what="the priority saved")
    assert data["client_email"] == "ann@acme.test"
    # Premium urgent: resolve within 4 h (the seeded targets).
    assert {c["clock"]: c["target_s"] for c in data["clocks"]}["resolution"] == 4 * 3600
    _, history, _ = await broker.request(
        "GET", f"/api/v1/tickets/{ticket['id']}/history", token=token
    )
    assert ("priority", "normal", "urgent") in [
        (h["field"], h["from"], h["to"]) for h in history["history"]
    ]
    assert not problems, problems
