"""The admin's webhooks page (issue 18; real broker, real Chromium, a real receiver on
127.0.0.1): the endpoints, a delivery that failed with its logged attempt, "Send
again" once the receiver works — the new attempt appears as sent by hand and the
receiver gets the same delivery; in Russian too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from broker.store import webhook_models as store
from broker.store.db import DB
from broker.webhooks.testing import WebhookReceiver
from tests.helpers import eventually
from tests.viewer.conftest import login, watch_console


@pytest.fixture
async def hooked(tmp_path: Path) -> AsyncIterator[Any]:
    from broker.testing import running_broker

    config = {
        "webhook_allow_http_loopback": True,
        "webhook_poll_interval_s": 0.05,
        "webhook_backoff_base_s": 3600.0,  # no automatic retry during the test
    }
    async with running_broker(tmp_path, **config) as b:
        yield b


async def test_an_admin_sees_the_attempts_and_sends_a_delivery_again(
    page: Any, hooked: Any
) -> None:
    problems = watch_console(page)
    receiver = WebhookReceiver(status=500)
    await receiver.start()
    try:
        admin = await hooked.login(hooked.admin_username, hooked.admin_password)
        status, hook, _ = await hooked.request(
            "POST",
            "/api/v1/webhooks",
            token=admin,
            json={"url": receiver.url, "events": ["ticket.created"], "description": "Desk"},
        )
        assert status == 201
        wid = hook["webhook"]["id"]
        await hooked.request("POST", "/api/v1/tickets", token=admin, json={"title": "Printer"})

        async def failed_once() -> bool:
            found = await store.list_deliveries(hooked.app[DB], wid)
            return bool(found) and found[0].attempts == 1

        await eventually(failed_once, what="the first attempt failed")
        [delivery] = await store.list_deliveries(hooked.app[DB], wid)

        await login(page, hooked.base_url, hooked.admin_username, hooked.admin_password)
        await page.goto(f"{hooked.base_url}/#/admin/webhooks")
        await page.wait_for_selector(f"#webhooks-body tr[data-webhook='{wid}']")
        assert await page.get_attribute(".admin-tabs a[aria-current=page]", "href") == (
            "#/admin/webhooks"
        )
        row = f"#deliveries-body tr[data-delivery='{delivery.id}']"
        await page.wait_for_selector(f"{row}[data-status='pending']")
        await page.click(f"{row} .delivery-log")
        await page.wait_for_selector("#attempts-body tr[data-attempt='1']")
        text = await page.inner_text("#attempts-body tr[data-attempt='1']")
        assert "500" in text and "HTTP 500" in text

        receiver.status = 200
        await page.click(f"{row} .delivery-redeliver")
        hooks = await receiver.wait_for(2)
        assert hooks[1].headers["X-Clearpane-Delivery"] == delivery.id

        async def delivered() -> bool:
            found = await store.get_delivery(hooked.app[DB], delivery.id)
            return found is not None and found.status == "delivered"

        await eventually(delivered, what="delivered")
        await page.select_option("#deliveries-filter", "delivered")
        await page.wait_for_selector(f"{row}[data-status='delivered']")
        await page.click(f"{row} .delivery-log")
        await page.wait_for_selector("#attempts-body tr[data-attempt='2'][data-manual='1']")

        # The same page in Russian: its own words, no English left in the tables.
        await page.evaluate("localStorage.setItem('clearpane.lang', 'ru')")
        await page.reload()
        await page.wait_for_selector(f"#webhooks-body tr[data-webhook='{wid}']")
        head = await page.text_content(".admin-webhooks thead") or ""
        assert "Адрес" in head and "Endpoint" not in head
        assert not problems, problems
    finally:
        await receiver.stop()
