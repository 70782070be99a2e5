"""Single sign-on in real Chromium against the real provider: the login page's button,
the provider's own form, back in the viewer with the mapped role; logout ends the
provider's session too (RP-initiated logout), so the next sign-in asks again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from broker.store import queries
from broker.store.db import DB
from tests.integrations.conftest import Sso, start_sso
from tests.integrations.sites import DjangoSite
from tests.viewer.conftest import watch_console

pytestmark = pytest.mark.browser


async def _provider_form(page: Any, username: str, password: str) -> None:
    await page.wait_for_selector("#provider-login")
    await page.fill("#id_username", username)
    await page.fill("#id_password", password)
    await page.click("#provider-submit")


async def test_sign_in_and_out_through_the_provider(
    sso: Sso, page: Any, artifacts_dir: Path
) -> None:
    problems = watch_console(page)
    password = await sso.add_user("erin", ["cp-engineers"], "Erin Engineer")
    base = sso.broker.base_url
    await page.goto(f"{base}/#/tickets")  # asked for before signing in
    await page.wait_for_selector("#login-sso")
    assert await page.inner_text("#login-sso") == "Sign in with Test ID"
    await page.screenshot(path=str(artifacts_dir / "login-sso.png"))
    await page.click("#login-sso")
    await _provider_form(page, "erin", password)
    await page.wait_for_selector("#whoami", state="visible")
    assert await page.inner_text("#user-role") == "Engineer"
    assert await page.inner_text("#user-name") == "Erin Engineer"
    assert page.url == f"{base}/#/tickets"
    erin = await queries.get_user_by_username(sso.broker.app[DB], "erin")
    assert erin is not None and erin.role == "engineer"

    # Logout: local first, then the provider's end-session page sends us back.
    await page.click("#logout")
    await page.wait_for_selector("#login-sso")
    assert page.url.startswith(base + "/")
    status, _, _ = await sso.broker.request("GET", "/api/v1/me")
    assert status == 401
    # The provider's session is gone too: signing in shows its form again.
    await page.click("#login-sso")
    await _provider_form(page, "erin", password)
    await page.wait_for_selector("#whoami", state="visible")
    assert not problems, problems


async def test_a_refusal_is_worded_on_the_login_page(sso: Sso, page: Any) -> None:
    password = await sso.add_user("otto", ["marketing"])
    await page.goto(f"{sso.broker.base_url}/#/login")
    await page.click("#login-sso")
    await _provider_form(page, "otto", password)
    await page.wait_for_selector("#login-error:not([hidden])")
    text = await page.inner_text("#login-error")
    assert "no Clearpane role" in text
    # In Russian too (the broker sends a reason code, the page words it).
    await page.evaluate("localStorage.setItem('clearpane.lang', 'ru')")
    await page.reload()
    await page.wait_for_selector("#login-error:not([hidden])")
    assert "нет роли" in await page.inner_text("#login-error")


async def test_with_oidc_only_the_password_form_is_folded_away_for_break_glass(
    tmp_path: Path, provider: DjangoSite, page: Any
) -> None:
    async with start_sso(tmp_path, provider, oidc_only=True) as broker:
        await page.goto(f"{broker.base_url}/#/login")
        await page.wait_for_selector("#login-sso")
        assert await page.is_hidden("#login-password")  # inside the closed break-glass fold
        await page.click("#login-break-glass summary")
        await page.fill("#login-username", broker.admin_username)
        await page.fill("#login-password", broker.admin_password)
        await page.click("#login-submit")
        await page.wait_for_selector("#whoami", state="visible")
        assert await page.inner_text("#user-role") == "Admin"
