"""A walkthrough of the viewer per role, in English and Russian (issue 20): the real
broker, real Chromium; every page state saves a screenshot to test-artifacts/ (the user
guides in docs/guides/ use a few). Each step checks the page speaks the language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.viewer.conftest import watch_console

#: One word each page must show in its language (the catalogue's own text).
WORDS = {
    "en": {"queue": "Queue", "tickets": "Tickets", "review": "Quality review", "users": "Users"},
    "ru": {
        "queue": "Очередь",
        "tickets": "Заявки",
        "review": "Контроль качества",
        "users": "Пользователи",
    },
}


async def _login(page: Any, base: str, user: str, password: str) -> None:
    await page.goto(f"{base}/#/login")
    await page.wait_for_selector("#login-form")
    await page.fill("#login-username", user)
    await page.fill("#login-password", password)
    await page.click("#login-submit")
    await page.wait_for_selector("#whoami:not([hidden])")


async def _logout(page: Any) -> None:
    await page.click("#logout")
    await page.wait_for_selector("#login-form")


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_walkthrough_every_role(
    browser: Any, broker: Any, lang: str, artifacts_dir: Path
) -> None:
    context = await browser.new_context(
        ignore_https_errors=True,
        locale=f"{lang}-{lang.upper()}",
        viewport={"width": 1280, "height": 800},
    )
    page = await context.new_page()
    problems = watch_console(page)
    words = WORDS[lang]
    shot = lambda name: page.screenshot(path=str(artifacts_dir / f"{lang}-{name}.png"))  # noqa: E731
    try:
        eng, eng_pw = await broker.create_user(
            "erin", "engineer", ["printers"], name="Erin Engineer", organisations=["Acme"]
        )
        sup, sup_pw = await broker.create_user("sam", "supervisor", name="Sam Supervisor")
        rev, rev_pw = await broker.create_user("rita", "reviewer", name="Rita Reviewer")
        for text, who in (
            ("Принтер не печатает с утра", "Анна Петрова"),
            ("VPN drops every hour", "Bob Client"),
        ):
            status, body, _ = await broker.request(
                "POST",
                "/api/v1/agent/requests",
                json={"description": text, "client_name": who, "organisation": "Acme"},
            )
            assert status == 201, body

        await page.goto(f"{broker.base_url}/#/login")
        await page.wait_for_selector("#login-form")
        assert await page.get_attribute("html", "lang") == lang
        await shot("1-login")

        # Engineer: the queue (search, alerts), a ticket with an invitation code.
        await _login(page, broker.base_url, eng, eng_pw)
        await page.wait_for_selector(".queue-item")
        assert words["queue"] in await page.inner_text("h1")
        assert await page.title() != ""
        await shot("2-engineer-queue")
        await page.fill("#queue-search", "VPN")
        await page.wait_for_function("document.querySelectorAll('.queue-item').length === 1")
        await page.click("#nav a[data-route=tickets]")
        await page.wait_for_selector("#tickets-body tr[data-ticket]")
        assert words["tickets"] in await page.inner_text("h1")
        await page.click("#new-ticket")
        await page.fill("#new-ticket-title", "Scanner" if lang == "en" else "Сканер")
        await page.click("#new-ticket-submit")
        await page.wait_for_selector("#invite-code")
        assert len((await page.inner_text("#invite-code")).replace("-", "")) == 8
        await shot("3-engineer-invitation")
        await page.set_viewport_size({"width": 390, "height": 800})
        await page.click("#nav a[data-route=queue]")
        await page.wait_for_selector(".queue-item")
        await shot("4-engineer-queue-390px")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 392, width  # nothing wider than the phone
        await page.set_viewport_size({"width": 1280, "height": 800})
        await _logout(page)

        # Supervisor: all queues and live sessions.
        await _login(page, broker.base_url, sup, sup_pw)
        await page.wait_for_selector("#live-sessions")
        await page.fill("#canned-title", "Restart" if lang == "en" else "Перезагрузка")
        await page.fill(
            "#canned-text", "Please restart." if lang == "en" else "Перезагрузите компьютер."
        )
        await page.click("#canned-add")
        await page.wait_for_selector("#canned-list .canned-item")
        await shot("5-supervisor-queue")
        await _logout(page)

        # Reviewer: lands on review; the queue URL leads back there.
        await _login(page, broker.base_url, rev, rev_pw)
        await page.wait_for_selector("#review-page")
        assert words["review"] in await page.inner_text("h1")
        await page.goto(f"{broker.base_url}/#/queue")
        await page.wait_for_selector("#review-page")
        await shot("6-reviewer")
        await _logout(page)

        # Admin: users and certificates (the revoke guard).
        await _login(page, broker.base_url, broker.admin_username, broker.admin_password)
        await page.wait_for_selector("#users-body tr[data-user]")
        assert words["users"] in await page.inner_text("h1")
        await shot("7-admin-users")
        await page.click(".admin-tabs a[href='#/admin/certs']")
        own = page.locator("#certs-body tr", has_text="127.0.0.1").first
        await own.wait_for()
        await own.locator("button.cert-revoke").click()
        await page.wait_for_selector("#revoke-dialog[open]")
        await shot("8-admin-certificates-guard")
        await page.click("#revoke-cancel")
    finally:
        await context.close()
    assert not problems, problems


async def test_dark_theme_follows_the_system(
    browser: Any, broker: Any, artifacts_dir: Path
) -> None:
    context = await browser.new_context(
        ignore_https_errors=True, color_scheme="dark", viewport={"width": 1280, "height": 800}
    )
    page = await context.new_page()
    try:
        await page.goto(f"{broker.base_url}/#/login")
        await page.wait_for_selector("#login-form")
        bg = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        card = await page.evaluate("getComputedStyle(document.querySelector('.card')).color")
        assert bg == "rgb(11, 18, 32)" and card != "rgb(15, 23, 42)", (bg, card)
        await page.screenshot(path=str(artifacts_dir / "dark-login.png"))
    finally:
        await context.close()
