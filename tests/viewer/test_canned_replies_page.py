"""A supervisor edits a canned reply on the queue page (real broker, real Chromium)."""

from __future__ import annotations

from typing import Any

from tests.viewer.conftest import ui_login, watch_console


async def test_a_supervisor_edits_a_canned_reply_in_the_page(page: Any, broker: Any) -> None:
    problems = watch_console(page)
    user, password = await broker.create_user("una", "supervisor")
    await ui_login(page, broker.base_url, user, password)
    await page.wait_for_selector("#canned-panel")
    await page.fill("#canned-title", "Restart")
    await page.fill("#canned-text", "Please restart.")
    await page.click("#canned-add")
    await page.wait_for_selector("#canned-list .canned-item .canned-edit")

    await page.click("#canned-list .canned-edit")
    assert await page.input_value("#canned-title") == "Restart"
    assert await page.input_value("#canned-text") == "Please restart."
    assert await page.is_visible("#canned-cancel")
    await page.fill("#canned-text", "Please restart and tell me when it is back.")
    await page.click("#canned-add")  # now "Save changes"
    await page.wait_for_function(
        "() => (document.querySelector('#canned-list .canned-item-text') || {})"
        ".textContent?.includes('tell me when')"
    )
    assert await page.is_hidden("#canned-cancel")  # back to adding
    assert await page.input_value("#canned-title") == ""

    token = await broker.login(user, password)
    _, listed, _ = await broker.request("GET", "/api/v1/canned-replies", token=token)
    assert [(r["title"], r["text"]) for r in listed["replies"]] == [
        ("Restart", "Please restart and tell me when it is back.")
    ]  # edited, not added a second time
    assert not problems, problems
