"""Accessibility (issue 22): axe-core (npm, tools/axe, installed by `make test`) run in
real Chromium on the viewer's page states as each role sees them — in English and
Russian, light and dark theme — with WCAG 2.x A/AA rules. Zero violations; an exception
would be listed in EXCEPTIONS with its reason. The live session runs with a real agent
(consent pending, live, chat, call requested, under control, paused, ended) and the
replay with its recording; the Qt window has its own test (tests/agent/test_qt_a11y.py)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from agent.capture.pattern import PatternSource
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import RecordingInjector, RecordingObserver
from broker.recording import RECORDER
from broker.sla.scheduler import SlaScheduler
from broker.store.db import DB
from broker.testing import FakeClock
from cli.audit import main as audit_main
from tests.helpers import eventually

AXE = (
    Path(__file__).resolve().parents[2]
    / "tools"
    / "axe"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: rule id -> why it is accepted (none so far).
EXCEPTIONS: dict[str, str] = {}

pytestmark = pytest.mark.skipif(
    not AXE.exists(), reason="axe-core is not installed here (make test runs npm ci in tools/axe)"
)


async def _violations(page: Any) -> list[str]:
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3)"
        ".map(n => n.target.join(' ')).join(' | '))",
        TAGS,
    )
    return [v for v in result if v.split(" ")[0] not in EXCEPTIONS]


async def _login(page: Any, base: str, user: str, password: str) -> None:
    await page.goto(f"{base}/#/login")
    await page.wait_for_selector("#login-form")
    await page.fill("#login-username", user)
    await page.fill("#login-password", password)
    await page.click("#login-submit")
    await page.wait_for_selector("#whoami:not([hidden])")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_page_states_have_no_axe_violations(
    browser: Any, broker: Any, lang: str, scheme: str
) -> None:
    # The page's own CSP forbids injected scripts: the checker's context bypasses it.
    context = await browser.new_context(
        ignore_https_errors=True,
        bypass_csp=True,
        locale=lang,
        color_scheme=scheme,
        reduced_motion="reduce",  # colours measured at rest, not mid-transition
        viewport={"width": 1280, "height": 800},
    )
    page = await context.new_page()
    found: dict[str, list[str]] = {}

    async def check(state: str, selector: str) -> None:
        await page.wait_for_selector(selector)
        bad = await _violations(page)
        if bad:
            found[state] = bad

    try:
        eng, eng_pw = await broker.create_user(
            "erin", "engineer", name="Erin Engineer", organisations=["Acme"]
        )
        rev, rev_pw = await broker.create_user("rita", "reviewer", name="Rita Reviewer")
        status, body, _ = await broker.request(
            "POST",
            "/api/v1/agent/requests",
            json={"description": "VPN drops", "client_name": "Bob", "organisation": "Acme"},
        )
        assert status == 201, body
        admin = await broker.login(broker.admin_username, broker.admin_password)
        status, body, _ = await broker.request(
            "PUT", "/api/v1/organisations/Acme", token=admin, json={"tier": "standard"}
        )
        assert status == 200, body
        await page.goto(f"{broker.base_url}/#/login")
        await check("login", "#login-form")
        await _login(page, broker.base_url, eng, eng_pw)
        await check("queue", ".queue-item")
        await page.goto(f"{broker.base_url}/#/tickets")
        await check("tickets", "#tickets-body tr[data-ticket]")
        await page.click("#tickets-body a.ticket-link")
        await page.click("#invite-client")
        await check("ticket with invitation", "#invite-code")
        await page.goto(f"{broker.base_url}/#/password")
        await check("password", "#pw-form")
        await page.click("#logout")
        await page.wait_for_selector("#login-form")  # the logout answered: no race
        await _login(page, broker.base_url, rev, rev_pw)
        await check("review", "#review-page")
        await page.goto(f"{broker.base_url}/#/dashboard")  # issue 19: charts and table
        await check("service dashboard", "#report-charts[data-loaded] #chart-sla")
        await page.click("#logout")
        await page.wait_for_selector("#login-form")  # the logout answered: no race
        await _login(page, broker.base_url, broker.admin_username, broker.admin_password)
        await check("admin users", "#users-body tr[data-user]")
        await page.goto(f"{broker.base_url}/#/admin/certs")
        await check("admin certificates", "#certs-body tr[data-serial]")
        await page.goto(f"{broker.base_url}/#/admin/organisations")
        await check("admin organisations", "#orgs-body tr[data-org='Acme']")
        # Issue 18: the webhooks page with an endpoint and its (pending) delivery.
        status, body, _ = await broker.request(
            "POST",
            "/api/v1/webhooks",
            token=admin,
            json={"url": "https://helpdesk.invalid/hook", "events": ["ticket.created"]},
        )
        assert status == 201, body
        await broker.request("POST", "/api/v1/tickets", token=admin, json={"title": "Axe"})
        await page.goto(f"{broker.base_url}/#/admin/webhooks")
        await check("admin webhooks", "#deliveries-body tr[data-delivery]")
        # API keys (issue 18): an integration account, one key listed, one just shown.
        await broker.create_user("desk", "integration", name="Service desk")
        await page.goto(f"{broker.base_url}/#/admin/api-keys")
        await page.wait_for_selector("#key-form:not([hidden])")
        await page.fill("#key-name", "Production")
        await page.click("#key-create")
        await page.wait_for_selector("#key-secret")
        await check("admin API keys", "#keys-body tr.key-row[data-state='active']")
        # Issue 19: the SLA page, and a supervisor's queue with open escalations.
        await page.goto(f"{broker.base_url}/#/admin/sla")
        await check("admin SLA", "#sla-contracts-body tr[data-tier='premium'] .sla-edit")
        sup, sup_pw = await broker.create_user("sam", "supervisor", name="Sam Supervisor")
        ahead = SlaScheduler(broker.app[DB], FakeClock(10**13), mail=False)  # far ahead
        assert (await ahead.run_once()).raised
        await page.click("#logout")
        await page.wait_for_selector("#login-form")  # the logout answered: no race
        await _login(page, broker.base_url, sup, sup_pw)
        await check("queue with escalations", ".sla-banner .sla-escalation .sla-ack")
    finally:
        await context.close()
    assert not found, "\n".join(f"{state}: {v}" for state, vs in found.items() for v in vs)


async def _answer(
    observer: RecordingObserver, session: AgentSession, n: int, *allowed: str
) -> None:
    """The client answers the ``n``-th consent prompt (0-based) with ``allowed``."""
    await eventually(lambda: len(observer.prompts) > n, what=f"consent prompt {n + 1}")
    prompt = observer.prompts[n]
    session.mark_shown(prompt.request_id)
    session.answer(prompt.request_id, list(allowed))


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_live_session_and_replay_states_have_no_axe_violations(
    browser: Any, broker: Any, tmp_path: Path, lang: str, scheme: str
) -> None:
    """A real agent answering by hand (as the client would) and the engineer's page in
    each state of the session, then the reviewer's replay of its recording."""
    context = await browser.new_context(
        ignore_https_errors=True,
        bypass_csp=True,
        locale=lang,
        color_scheme=scheme,
        reduced_motion="reduce",  # colours measured at rest, not mid-transition
        viewport={"width": 1280, "height": 800},
    )
    page = await context.new_page()
    found: dict[str, list[str]] = {}

    async def check(state: str, selector: str, wait: str = "visible") -> None:
        await page.wait_for_selector(selector, state=wait)
        bad = await _violations(page)
        if bad:
            found[state] = bad

    config = AgentConfig(
        broker_url=broker.base_url,
        ca_pem=broker.ca_cert_path.read_text(),
        client_name="Bob Client",
        describe="VPN drops",
        source="pattern",
        log_dir=tmp_path / "agent-logs",
        injector="none",
    ).check()
    observer = RecordingObserver()
    session = AgentSession(
        config,
        observer,
        source_factory=lambda: PatternSource(480, 300, motion=False),
        injector=RecordingInjector(),
    )
    task = asyncio.create_task(session.run())
    try:
        sid = await eventually(lambda: session.session_id, timeout=15, what="the request")
        eng, eng_pw = await broker.create_user("erin", "engineer", name="Erin Engineer")
        await _login(page, broker.base_url, eng, eng_pw)
        item = page.locator(f'.queue-item[data-session="{sid}"]')
        await item.wait_for(timeout=10_000)
        await item.locator("button.join").click()
        await check("session: consent pending", '#overlay[data-kind="consent"]')
        await _answer(observer, session, 0, "view")
        await page.wait_for_function(
            "() => Number(document.querySelector('#screen')?.dataset.frames || 0) >= 1"
        )
        await check("session: live", "#overlay[hidden]", "attached")
        session.send_chat("Hello, it is the blue icon")
        await check("session: chat", ".chat-msg.theirs")
        await page.click("#call-box .call-ask")  # asks for the video permission
        await check("session: call requested", "#call-box .call-panel")
        await _answer(observer, session, 1)  # the client declines the call
        await page.click("#btn-control")
        await _answer(observer, session, 2, "control")
        await check("session: under control", "#control-banner:not([hidden])")
        session.pause()
        await check("session: paused", '#overlay[data-kind="paused"]')
        session.resume()
        await page.wait_for_selector("#overlay", state="hidden")
        session.kill("button")
        await check("session: ended", '#overlay[data-kind="killed"]')
        await asyncio.wait_for(task, 10)

        # The reviewer's replay of that session: before and after the audit key.
        broker.app[RECORDER].flush_all()
        key_file = tmp_path / "audit-key.json"
        assert (
            audit_main(["reviewer-key", "--data-dir", str(broker.data_dir), "-o", str(key_file)])
            == 0
        )
        rev, rev_pw = await broker.create_user("rita", "reviewer", name="Rita Reviewer")
        await page.click("#logout")
        await page.wait_for_selector("#login-form")
        await _login(page, broker.base_url, rev, rev_pw)
        await page.goto(f"{broker.base_url}/#/replay/{sid}")
        await check("replay: audit key needed", "#replay-key-box:not([hidden])")
        await page.set_input_files("#replay-key", str(key_file))
        await check("replay: playing", "#app[data-ready='1']")
    finally:
        if not task.done():
            session.kill("test teardown")
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 10)
        await context.close()
    assert not found, "\n".join(f"{state}: {v}" for state, vs in found.items() for v in vs)
