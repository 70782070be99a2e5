"""The service dashboard (issue 19) in real Chromium against the real broker: the
charts carry their figures as text for screen readers, the table repeats them, the
grouping switch works, and the CSV link downloads the report — in English and Russian."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from broker.clock import CLOCK
from broker.store import queries
from broker.store.db import DB
from tests.viewer.conftest import login, watch_console


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_dashboard_charts_table_and_csv(
    browser: Any, broker: Any, lang: str, artifacts_dir: Path
) -> None:
    await broker.create_user("ann", "engineer", name="Ann Engineer")
    ann = await queries.get_user_by_username(broker.app[DB], "ann")
    assert ann is not None
    sup, sup_pw = await broker.create_user("sue", "supervisor", name="Sue Supervisor")
    status, body, _ = await broker.request(
        "POST", "/api/v1/agent/requests", json={"description": "VPN", "client_name": "C"}
    )
    assert status == 201, body
    await queries.mark_answered(
        broker.app[DB], body["session_id"], ann.id, at=broker.app[CLOCK].now_ms()
    )
    context = await browser.new_context(
        ignore_https_errors=True, locale=lang, viewport={"width": 1280, "height": 900}
    )
    page = await context.new_page()
    problems = watch_console(page)
    try:
        await login(page, broker.base_url, sup, sup_pw)
        await page.goto(f"{broker.base_url}/#/dashboard")
        await page.wait_for_selector("#report-charts[data-loaded] #chart-sla")
        # the chart's accessible name and description (values in words) and the table
        desc = await page.text_content("#chart-sla-desc") or ""
        assert "100" in desc and "%" in desc, desc
        assert await page.get_attribute("#chart-sla", "role") == "img"
        total = await page.text_content("#report-rows tr[data-key='total']") or ""
        assert "1" in total and "100" in total
        # per engineer: Ann's row, by name
        await page.select_option("#report-by", "engineer")
        await page.click("#report-show")
        await page.wait_for_selector(f"#report-rows tr[data-key='{ann.id}']")
        assert "Ann Engineer" in (
            await page.text_content(f"#report-rows tr[data-key='{ann.id}']") or ""
        )
        await page.screenshot(path=str(artifacts_dir / f"dashboard-{lang}.png"))
        # the CSV link downloads the same report (cookie auth, same origin)
        href = await page.get_attribute("#report-csv", "href")
        assert href is not None and "format=csv" in href and "by=engineer" in href
        text = await page.evaluate("async (u) => (await fetch(u)).text()", href)
        lines = text.strip().splitlines()
        assert lines[0].startswith("key,label,sessions") and "Ann Engineer" in text
        assert lines[-1].split(",")[1] == "total"
        assert problems == []
    finally:
        await context.close()
