"""The admin's users page and the forced first password change, in real Chromium
against the real broker: the first admin must replace the one-time password, then adds
an engineer (one-time password shown once), changes the skills, disables them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from broker.store import queries
from broker.store.db import DB
from broker.testing import running_broker
from tests.viewer.conftest import watch_console


async def test_first_admin_changes_password_then_manages_users(
    page: Any, tmp_path: Path, artifacts_dir: Path
) -> None:
    problems = watch_console(page)
    async with running_broker(tmp_path, keep_first_password=True) as b:
        await page.goto(f"{b.base_url}/#/login")
        await page.fill("#login-username", b.admin_username)
        await page.fill("#login-password", b.admin_password)
        await page.click("#login-submit")
        await page.wait_for_selector("#pw-form")  # nothing else until it is replaced
        await page.goto(f"{b.base_url}/#/admin/users")
        await page.wait_for_selector("#pw-form")
        await page.screenshot(path=str(artifacts_dir / "forced-password.png"))
        await page.fill("#pw-current", b.admin_password)
        await page.fill("#pw-new", "a long admin passphrase")
        await page.fill("#pw-again", "a long admin passphrase")
        await page.click("#pw-submit")
        await page.wait_for_selector("#user-form")  # the admin's home: users
        assert await b.login(b.admin_username, "a long admin passphrase")

        await page.fill("#user-username", "erin")
        await page.fill("#user-name-new", "Erin Engineer")
        await page.fill("#user-skills-new", "printers, vpn")
        await page.click("#user-add")
        await page.wait_for_selector("#user-secret")
        secret = await page.inner_text("#user-secret")
        assert len(secret) >= 10 and await b.login("erin", secret)
        row = page.locator('#users-body tr[data-user="erin"]')
        await row.wait_for()
        assert "printers, vpn" in await row.inner_text()

        await row.locator("button.user-edit").click()
        await page.fill("#edit-skills", "printers")
        await page.click("#edit-save")
        await page.wait_for_function(
            "() => document.querySelector('#users-body tr[data-user=\"erin\"]')"
            ".textContent.includes('printers') && !document.querySelector("
            "'#users-body tr[data-user=\"erin\"]').textContent.includes('vpn')"
        )
        await row.locator("button.user-disable").click()
        await page.wait_for_selector('#users-body tr[data-user="erin"][data-disabled="1"]')
        await page.screenshot(path=str(artifacts_dir / "users.png"), full_page=True)
        erin = await queries.get_user_by_username(b.app[DB], "erin")
        assert erin is not None and erin.disabled and erin.skills == ("printers",)
        assert erin.must_change_password
    assert not problems, problems
