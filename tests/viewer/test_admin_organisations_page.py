"""The admin's organisations page (real broker, real Chromium): add an organisation with
its contract tier, change the tier, disable it (the broker then refuses client requests
naming it) and enable it again."""

from __future__ import annotations

from typing import Any

from tests.helpers import eventually
from tests.viewer.conftest import login, watch_console


async def test_an_admin_adds_changes_disables_and_enables_an_organisation(
    page: Any, broker: Any
) -> None:
    problems = watch_console(page)
    await login(page, broker.base_url, broker.admin_username, broker.admin_password)
    await page.goto(f"{broker.base_url}/#/admin/organisations")
    await page.wait_for_selector("#org-form")
    assert await page.get_attribute(".admin-tabs a[aria-current=page]", "href") == (
        "#/admin/organisations"
    )
    assert await page.get_attribute("#orgs-sla-link", "href") == "#/admin/sla"  # contracts
    await page.fill("#org-name-new", "Acme")
    await page.select_option("#org-tier-new", "standard")
    await page.click("#org-add")
    row = "#orgs-body tr[data-org='Acme']"
    await page.wait_for_selector(row)
    token = await broker.login(broker.admin_username, broker.admin_password)

    async def org() -> dict[str, Any]:
        _, data, _ = await broker.request("GET", "/api/v1/organisations", token=token)
        found: dict[str, Any] = next(o for o in data["organisations"] if o["name"] == "Acme")
        return found

    assert await org() == {"name": "Acme", "tier": "standard", "disabled": False}

    await page.select_option(f"{row} select.org-tier", "premium")

    async def premium() -> bool:
        return (await org())["tier"] == "premium"

    await eventually(premium, what="the tier change saved")

    # The policy flag that exists per organisation: the chat in the session summary.
    assert not await page.is_checked(f"{row} .org-summary-chat")
    await page.check(f"{row} .org-summary-chat")

    async def chat_in_summary() -> bool:
        _, policy, _ = await broker.request("GET", "/api/v1/organisations/Acme/policy", token=token)
        return bool(policy["summary_includes_chat"])

    await eventually(chat_in_summary, what="the policy saved")
    await page.reload()
    await page.wait_for_selector(f"{row} .org-summary-chat:checked")  # shown as stored

    await page.click(f"{row} .org-disable")
    await page.wait_for_selector(f"{row}[data-disabled='1'] .org-enable")
    assert (await org())["disabled"] is True
    status, err, _ = await broker.request(
        "POST",
        "/api/v1/agent/requests",
        json={"description": "help", "client_name": "Ann", "organisation": "Acme"},
    )
    assert status == 409 and err["error"]["code"] == "organisation_disabled"

    await page.click(f"{row} .org-enable")
    await page.wait_for_selector(f"{row}[data-disabled=''] .org-disable")
    assert await org() == {"name": "Acme", "tier": "premium", "disabled": False}
    assert not problems, problems
