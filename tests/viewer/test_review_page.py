"""The review page in real Chromium: filters, scoring, and the dashboard drawn as SVG
charts; an engineer sees only their own sessions and no dashboard."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from broker.store import queries
from broker.store.db import DB
from tests.viewer.conftest import login, watch_console


async def _ended(broker: Any, username: str, rating: int | None, wait_s: int, dur_s: int) -> str:
    db = broker.app[DB]
    eng = await queries.get_user_by_username(db, username)
    assert eng is not None
    t0 = int(time.time() * 1000) - 3_600_000
    _, s = await queries.create_request(
        db, description="Mail", client_name="Cli", organisation="Org", tier="standard", at=t0
    )
    await queries.mark_answered(db, s.id, eng.id, t0 + wait_s * 1000)
    await queries.mark_ended(db, s.id, "ended_by_engineer", t0 + (wait_s + dur_s) * 1000)
    if rating is not None:
        await queries.set_rating(db, s.id, rating, "thanks")
    return s.id


async def test_reviewer_scores_and_sees_the_dashboard(
    broker: Any, page: Any, artifacts_dir: Path
) -> None:
    problems = watch_console(page)
    await broker.create_user("alice", "engineer", name="Alice")
    await broker.create_user("bob", "engineer", name="Bob")
    user, password = await broker.create_user("rita", "reviewer", name="Rita Reviewer")
    a1 = await _ended(broker, "alice", 5, 20, 100)
    await _ended(broker, "alice", 3, 40, 300)
    b1 = await _ended(broker, "bob", 1, 60, 50)

    await login(page, broker.base_url, user, password)
    await page.goto(f"{broker.base_url}/#/review")
    await page.wait_for_selector(f"tr[data-session='{b1}']")
    assert await page.locator("#review-sessions tr[data-session]").count() == 3

    form = page.locator(f"form.score-form[data-session='{a1}']")
    await form.locator(".score-overall").select_option("4")
    await form.locator(".score-competence").select_option("5")
    await form.locator(".score-notes").fill("clear <b>explanations</b>")
    await form.locator("button").click()
    row = page.locator(f"tr[data-session='{a1}']")
    await row.filter(has_text="Rita Reviewer: overall 4, competence 5").wait_for()
    assert "clear <b>explanations</b>" in (await row.text_content() or "")  # text, not markup

    # Dashboard: one bar per engineer per chart; values drawn as text.
    await page.wait_for_selector("#chart-overall rect.chart-bar[data-value='4']")
    bars = await page.eval_on_selector_all(
        "#chart-sessions rect.chart-bar", "els => els.map(e => e.dataset.value)"
    )
    assert bars == ["2", "1"]  # Alice, Bob (sorted by name)
    ratings = await page.eval_on_selector_all(
        "#chart-rating text.chart-value", "els => els.map(e => e.textContent)"
    )
    assert ratings == ["4.0", "1.0"]
    answer = await page.eval_on_selector_all(
        "#chart-answer text.chart-value", "els => els.map(e => e.textContent)"
    )
    assert answer == ["30s", "1m 00s"]
    widths = await page.eval_on_selector_all(
        "#chart-rating rect.chart-bar", "els => els.map(e => Number(e.getAttribute('width')))"
    )
    assert widths[0] > 3 * widths[1]

    # Filter by engineer (chosen by name), then by rating.
    await page.select_option("#review-engineer", label="Bob")
    await page.click("#review-filters button[type=submit]")
    await page.wait_for_function(
        "() => document.querySelectorAll('#review-sessions tr[data-session]').length === 1"
    )
    assert await page.locator(f"tr[data-session='{b1}']").count() == 1
    await page.select_option("#review-engineer", "")

    # Filter by rating: only the 5-star session.
    await page.select_option("#review-rating", "5")
    await page.click("#review-filters button[type=submit]")
    await page.locator(f"tr[data-session='{a1}']").wait_for()  # the new list replaced Bob's
    assert await page.locator("#review-sessions tr[data-session]").count() == 1
    await page.screenshot(path=str(artifacts_dir / "review.png"), full_page=True)
    assert problems == []


async def test_engineer_sees_only_own_sessions_and_no_dashboard(broker: Any, page: Any) -> None:
    user, password = await broker.create_user("alice", "engineer", name="Alice")
    await broker.create_user("bob", "engineer", name="Bob")
    mine = await _ended(broker, "alice", 4, 10, 10)
    await _ended(broker, "bob", 2, 10, 10)
    await login(page, broker.base_url, user, password)
    await page.goto(f"{broker.base_url}/#/review")
    await page.wait_for_selector(f"tr[data-session='{mine}']")
    assert await page.locator("#review-sessions tr[data-session]").count() == 1
    assert await page.locator("form.score-form").count() == 0
    assert await page.locator("#review-charts").count() == 0
