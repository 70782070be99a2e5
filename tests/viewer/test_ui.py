"""The viewer's pages against the REAL broker in real Chromium: login, queue, join,
ticket pages, and markup in tickets shown as text under the strict CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.viewer.conftest import ui_login, watch_console

XSS_TITLE = "Printer <img src=x onerror=\"window.__xss='img'\"> broken"
XSS_DESC = "Steps: <script>window.__xss='script'</script> then <b>bold</b>"


async def agent_request(
    broker: Any, description: str, client_name: str = "Bob Client"
) -> dict[str, Any]:
    status, body, _ = await broker.request(
        "POST",
        "/api/v1/agent/requests",
        json={"description": description, "client_name": client_name, "organisation": "Acme"},
    )
    assert status == 201, body
    result: dict[str, Any] = body
    return result


async def test_login_rejects_bad_password_then_signs_in(
    broker: Any, page: Any, artifacts_dir: Path
) -> None:
    problems = watch_console(page)
    user, password = await broker.create_user(
        "erin", "engineer", ["windows"], name="Erin Engineer", organisations=["Acme"]
    )
    response = await page.goto(f"{broker.base_url}/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await page.wait_for_selector("#login-form")
    await page.fill("#login-username", user)
    await page.fill("#login-password", "wrong-password")
    await page.click("#login-submit")
    error = page.locator("#login-error")
    await error.wait_for(state="visible")
    assert (await error.text_content()).strip()
    assert "#/login" in page.url
    await page.screenshot(path=str(artifacts_dir / "login-error.png"))

    await page.fill("#login-password", password)
    await page.click("#login-submit")
    await page.wait_for_selector("#queue-list")
    assert await page.text_content("#user-name") == "Erin Engineer"
    assert await page.text_content("#user-role") == "Engineer"
    await page.screenshot(path=str(artifacts_dir / "queue-empty.png"))

    await page.click("#logout")
    await page.wait_for_selector("#login-form")
    assert await page.is_hidden("#whoami")
    assert problems == []


async def test_queue_shows_agent_request_and_join_opens_the_session(
    broker: Any, page: Any, artifacts_dir: Path
) -> None:
    problems = watch_console(page)
    user, password = await broker.create_user("erin", "engineer", [], organisations=["Acme"])
    req = await agent_request(broker, "Outlook crashes when I open the calendar", "Dana Client")
    await ui_login(page, broker.base_url, user, password)
    item = page.locator(f'.queue-item[data-session="{req["session_id"]}"]')
    await item.wait_for()
    assert "Outlook crashes" in await item.locator(".qi-title").text_content()
    assert await item.locator(".qi-client").text_content() == "Dana Client"
    sla = await item.locator(".sla").text_content()
    assert sla.endswith("left") or sla.startswith("SLA missed"), sla
    await page.screenshot(path=str(artifacts_dir / "queue.png"))

    await item.locator("button.join").click()
    await page.wait_for_url(f"**/#/session/{req['session_id']}")
    await page.wait_for_selector("#screen")
    await page.wait_for_function(
        "() => document.querySelector('#session-title')?.textContent.includes('Outlook')"
    )
    # The agent never connected: the page says so (and retries), never a blank screen.
    await page.wait_for_function(
        "() => document.querySelector('#overlay-title')?.textContent"
        " === 'Waiting for the client to connect'"
    )
    assert await page.is_visible("#overlay")
    await page.screenshot(path=str(artifacts_dir / "session-joined.png"))
    assert problems == []


async def test_ticket_pages_show_markup_as_text(
    broker: Any, page: Any, artifacts_dir: Path
) -> None:
    problems = watch_console(page)
    user, password = await broker.create_user("erin", "engineer", [], organisations=["Acme"])
    token = await broker.login(user, password)
    status, ticket, _ = await broker.request(
        "POST",
        "/api/v1/tickets",
        token=token,
        json={"title": XSS_TITLE, "description": XSS_DESC, "organisation": "Acme <i>Corp</i>"},
    )
    assert status == 201, ticket
    await ui_login(page, broker.base_url, user, password)

    await page.goto(f"{broker.base_url}/#/tickets")
    row = page.locator(f'#tickets-body tr[data-ticket="{ticket["id"]}"]')
    await row.wait_for()
    assert await row.locator(".ticket-link").text_content() == XSS_TITLE
    await page.screenshot(path=str(artifacts_dir / "tickets.png"))

    await row.locator(".ticket-link").click()
    await page.wait_for_selector("#ticket-title")
    assert await page.text_content("#ticket-title") == XSS_TITLE
    assert await page.text_content("#ticket-description") == XSS_DESC
    assert await page.locator("#ticket-page img").count() == 0
    assert await page.locator("#ticket-page script").count() == 0
    assert await page.locator("#ticket-page b").count() == 0
    assert await page.evaluate("() => window.__xss") is None
    await page.screenshot(path=str(artifacts_dir / "ticket.png"))
    assert problems == []


async def test_queue_shows_markup_in_requests_as_text(broker: Any, page: Any) -> None:
    user, password = await broker.create_user("erin", "engineer", [], organisations=["Acme"])
    req = await agent_request(broker, XSS_TITLE, client_name="<script>window.__xss='name'</script>")
    await ui_login(page, broker.base_url, user, password)
    item = page.locator(f'.queue-item[data-session="{req["session_id"]}"]')
    await item.wait_for()
    assert XSS_TITLE in await item.locator(".qi-title").text_content()
    assert await item.locator(".qi-client").text_content() == "<script>window.__xss='name'</script>"
    assert await page.locator("#queue-list img").count() == 0
    assert await page.evaluate("() => window.__xss") is None


async def test_supervisor_sees_queues_and_may_observe(
    broker: Any, page: Any, artifacts_dir: Path
) -> None:
    user, password = await broker.create_user("sue", "supervisor", [], name="Sue Supervisor")
    req = await agent_request(broker, "Laptop will not boot")
    await ui_login(page, broker.base_url, user, password)
    assert await page.text_content("#user-role") == "Supervisor"
    assert await page.text_content(".page-head h1") == "All queues"
    await page.wait_for_selector("#live-sessions")
    item = page.locator(f'.queue-item[data-session="{req["session_id"]}"]')
    await item.wait_for()
    assert await item.locator("button.observe").is_visible()
    await page.screenshot(path=str(artifacts_dir / "supervisor-queue.png"))
    await item.locator("button.observe").click()
    await page.wait_for_url("**/#/session/*?as=observer")
    await page.wait_for_selector("#session-role")
    assert await page.text_content("#session-role") == "Observer"
    assert await page.is_hidden("#btn-control")
    assert await page.is_hidden("#btn-end")


async def test_logged_out_redirect_returns_to_the_asked_page(broker: Any, page: Any) -> None:
    user, password = await broker.create_user("erin", "engineer", [], organisations=["Acme"])
    await page.goto(f"{broker.base_url}/#/tickets")
    await page.wait_for_selector("#login-form")
    assert page.url.endswith("#/login")
    await page.fill("#login-username", user)
    await page.fill("#login-password", password)
    await page.click("#login-submit")
    await page.wait_for_url("**/#/tickets")
    await page.wait_for_selector("#tickets-body")
    await page.goto(f"{broker.base_url}/#/no/such/page")
    await page.wait_for_selector("text=Page not found")


async def test_navigation_follows_the_role(broker: Any, page: Any) -> None:
    user, password = await broker.create_user("rita", "reviewer", [], name="Rita Reviewer")
    await page.goto(f"{broker.base_url}/#/login")
    await page.fill("#login-username", user)
    await page.fill("#login-password", password)
    await page.click("#login-submit")
    await page.wait_for_url("**/#/review")
    assert await page.text_content("#user-role") == "Quality reviewer"
    assert await page.is_hidden('#nav a[data-route="queue"]')
    assert await page.is_visible('#nav a[data-route="review"]')
    assert await page.is_visible('#nav a[data-route="tickets"]')


async def test_login_asks_for_the_mfa_code_when_the_account_has_mfa(broker: Any, page: Any) -> None:
    """Issue 14, item 9: the login form's second step."""
    import pyotp

    user, password = await broker.create_user("erin", "engineer", [], name="Erin Engineer")
    token = await broker.login(user, password)
    _, setup, _ = await broker.request("POST", "/api/v1/auth/mfa/setup", token=token)
    totp = pyotp.TOTP(setup["secret"])
    status, _, _ = await broker.request(
        "POST",
        "/api/v1/auth/mfa/enable",
        token=token,
        json={"secret": setup["secret"], "code": totp.now()},
    )
    assert status == 200
    await page.goto(f"{broker.base_url}/#/login")
    await page.wait_for_selector("#login-form")
    assert await page.is_hidden("#login-otp")
    await page.fill("#login-username", user)
    await page.fill("#login-password", password)
    await page.click("#login-submit")
    await page.locator("#login-otp").wait_for(state="visible")
    assert "authenticator" in (await page.text_content("#login-error") or "")
    await page.fill("#login-otp", totp.now())
    await page.click("#login-submit")
    await page.wait_for_selector("#queue-list")
    assert await page.text_content("#user-name") == "Erin Engineer"
