"""The admin's API keys page in real Chromium against the real broker (issue 18): an
integration account is added, a key created with scopes and an expiry is shown once
with a working copy button, it works against the API and its last use shows in the
list, it is gone from the page after a reload, and a revoked key is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import eventually
from tests.viewer.conftest import login, watch_console


async def test_create_copy_use_and_revoke_an_api_key(
    page: Any, broker: Any, artifacts_dir: Path
) -> None:
    problems = watch_console(page)
    await page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=broker.base_url
    )
    await login(page, broker.base_url, broker.admin_username, broker.admin_password)
    await page.goto(f"{broker.base_url}/#/admin/users")
    await page.click("nav.admin-tabs a[href='#/admin/api-keys']")
    await page.wait_for_selector("#keys-body tr")  # the list has loaded: no keys yet
    assert await page.is_hidden("#key-form")  # and no integration account to make one for
    await page.fill("#acc-username", "servicedesk")
    await page.fill("#acc-name", "Service desk")
    await page.click("#acc-add")
    await page.wait_for_selector("#key-form:not([hidden])")

    await page.fill("#key-name", "Production")
    await page.uncheck("#key-scope-sessions-read")  # tickets and invitations stay checked
    await page.fill("#key-days", "30")
    await page.click("#key-create")
    await page.wait_for_selector("#key-secret")
    key = await page.inner_text("#key-secret")
    assert key.startswith("cpk_") and len(key) > 40
    await page.click("#key-copy")
    assert await page.evaluate("navigator.clipboard.readText()") == key
    await page.screenshot(path=str(artifacts_dir / "api-key-once.png"), full_page=True)
    row = page.locator("#keys-body tr.key-row[data-state='active']")
    await row.wait_for()
    text = await row.inner_text()
    assert key[:12] in text and "invitations, tickets" in text and "never" in text

    # The key works for its scopes only, and its use shows in the list.
    status, _, _ = await broker.request("GET", "/api/v1/tickets", token=key)
    assert status == 200
    status, _, _ = await broker.request("GET", "/api/v1/sessions", token=key)
    assert status == 403  # sessions:read was unchecked

    async def used() -> bool:
        await page.reload()
        await page.wait_for_selector("#keys-body tr.key-row")
        return "never" not in await page.inner_text("#keys-body tr.key-row .key-used")

    await eventually(used, what="the last use in the list")
    assert key not in await page.content()  # shown once, never again

    await page.click("#keys-body tr.key-row button.key-revoke")
    await page.wait_for_selector("#keys-body tr.key-row[data-state='revoked']")
    status, body, _ = await broker.request("GET", "/api/v1/tickets", token=key)
    assert status == 401, body
    await page.screenshot(path=str(artifacts_dir / "api-keys.png"), full_page=True)
    assert not problems, problems
