"""The ticket page shows the ticket's assignee, owner and history (who, when, what,
from → to), in English and in Russian, against the real broker in real Chromium."""

from __future__ import annotations

from typing import Any

from tests.viewer.conftest import ui_login, watch_console


async def test_ticket_page_shows_the_history(broker: Any, page: Any) -> None:
    problems = watch_console(page)
    user, password = await broker.create_user("erin", "engineer", [])
    token = await broker.login(user, password)
    me = (await broker.request("GET", "/api/v1/me", token=token))[1]
    status, ticket, _ = await broker.request(
        "POST", "/api/v1/tickets", token=token, json={"title": "Mail is down"}
    )
    assert status == 201, ticket
    tid = ticket["id"]
    for body in ({"assignee": me["id"]}, {"status": "in_progress"}, {"status": "pending_vendor"}):
        status, _, _ = await broker.request(
            "PATCH", f"/api/v1/tickets/{tid}", token=token, json=body
        )
        assert status == 200, body
    await ui_login(page, broker.base_url, user, password)

    await page.goto(f"{broker.base_url}/#/ticket/{tid}")
    rows = page.locator("#ticket-history tr")
    await page.locator('#ticket-history tr[data-field="status"]').nth(3).wait_for()
    changes = [await c.text_content() for c in await rows.locator(".history-change").all()]
    you = f"{me['name']} (you)"  # people by name, not id (issue 19)
    assert changes == ["new", f"— → {you}", "new → assigned", "assigned → in progress",
                       "in progress → pending vendor"]  # fmt: skip
    assert await rows.first.locator("td").nth(1).text_content() == me["name"]
    assert "pending vendor" in (await page.text_content(".head-tools") or "")
    assert you in (await page.text_content(".ticket-facts") or "")

    await page.evaluate("() => localStorage.setItem('clearpane.lang', 'ru')")
    await page.reload()
    await page.locator('#ticket-history tr[data-field="status"]').nth(3).wait_for()
    last = await rows.last.locator(".history-change").text_content()
    assert last == "в работе → у поставщика"
    assert problems == []
