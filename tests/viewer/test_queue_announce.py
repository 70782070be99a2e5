"""A new request in the queue is announced to screen readers (``#queue-announce``,
aria-live) — issue 22 — besides the sound, notification and tab-title count."""

from __future__ import annotations

from typing import Any

from tests.viewer.conftest import ui_login, watch_console


async def test_a_new_queue_item_is_announced(page: Any, broker: Any) -> None:
    problems = watch_console(page)
    user, password = await broker.create_user("erin", "engineer", name="Erin Engineer")
    await ui_login(page, broker.base_url, user, password)
    assert await page.get_attribute("#queue-announce", "aria-live") == "polite"
    assert (await page.text_content("#queue-announce") or "") == ""  # nothing new yet
    status, _, _ = await broker.request(
        "POST",
        "/api/v1/agent/requests",
        json={"description": "Outlook will not start", "client_name": "Bob"},
    )
    assert status == 201
    await page.wait_for_function(
        "() => (document.querySelector('#queue-announce').textContent || '').includes('Bob')",
        timeout=20_000,
    )
    text = await page.text_content("#queue-announce") or ""
    assert "Outlook will not start" in text
    assert not problems, problems
