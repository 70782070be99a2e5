"""The admin's certificate page in real Chromium against the real broker: list with
status, issue a client certificate, revoke it — under the strict CSP."""

from __future__ import annotations

from typing import Any

from tests.viewer.conftest import watch_console


async def test_certificates_page_issue_and_revoke(page: Any, broker: Any) -> None:
    problems = watch_console(page)
    await page.goto(f"{broker.base_url}/#/login")
    await page.wait_for_selector("#login-form")
    await page.fill("#login-username", broker.admin_username)
    await page.fill("#login-password", broker.admin_password)
    await page.click("#login-submit")
    await page.wait_for_selector("#nav:not([hidden])")
    await page.goto(f"{broker.base_url}/#/admin/certs")
    await page.wait_for_selector("#certs-body tr[data-serial]")
    text = await page.inner_text("#certs-body")
    assert "127.0.0.1" in text and "valid" in text  # the broker's own TLS certificate

    await page.select_option("#cert-profile", "client")
    await page.fill("#cert-name", "laptop-0042")
    await page.fill("#cert-days", "30")
    await page.click("#cert-issue-submit")
    await page.wait_for_selector("#cert-passphrase")
    assert len(await page.inner_text("#cert-passphrase")) >= 20
    row = page.locator("#certs-body tr", has_text="urn:clearpane:agent:laptop-0042")
    await row.wait_for()
    await row.locator("button.cert-revoke").click()
    await page.click("#revoke-confirm")  # an ordinary certificate: one confirmation
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#certs-body tr')].some("
        "r => r.textContent.includes('laptop-0042') && r.textContent.includes('revoked'))"
    )
    events = [
        r["event"]
        for r in map(
            __import__("json").loads,
            (broker.data_dir / "ca" / "audit.jsonl").read_text().splitlines(),
        )
    ]
    assert events[-2:] == ["cert.issued", "cert.revoked"]
    assert not problems, problems


async def test_revoking_the_brokers_own_certificate_needs_its_name_typed(
    page: Any, broker: Any
) -> None:
    await page.goto(f"{broker.base_url}/#/login")
    await page.wait_for_selector("#login-form")
    await page.fill("#login-username", broker.admin_username)
    await page.fill("#login-password", broker.admin_password)
    await page.click("#login-submit")
    await page.wait_for_selector("#nav:not([hidden])")
    await page.goto(f"{broker.base_url}/#/admin/certs")
    own = page.locator("#certs-body tr", has_text="127.0.0.1").first
    await own.wait_for()
    await own.locator("button.cert-revoke").click()
    await page.wait_for_selector("#revoke-dialog[open]")
    assert "this broker" in (await page.inner_text("#revoke-risk"))
    assert await page.is_disabled("#revoke-confirm")
    await page.fill("#revoke-type", "not the name")
    assert await page.is_disabled("#revoke-confirm")
    await page.click("#revoke-cancel")
    await page.wait_for_selector("#revoke-dialog:not([open])", state="hidden")
    assert "revoked" not in await own.inner_text()
    audit = broker.data_dir / "ca" / "audit.jsonl"
    assert not audit.exists() or "cert.revoked" not in audit.read_text()
