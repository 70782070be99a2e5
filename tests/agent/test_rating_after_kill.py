"""The client rates the help after a kill (DESIGN §1): the socket is closed at once
(G5), so the rating goes over REST with the session token, against the REAL broker."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from pathlib import Path

import pytest

from agent.errors import FinalError
from agent.headless import TerminalUI
from agent.observer import SessionOutcome
from audit.bundle import REVIEW, export_bundle, verify_bundle
from audit.jsonl import read_jsonl
from broker.store import queries
from broker.store.db import DB
from broker.testing import running_broker
from certs.verify import verify_checkpoint_signer
from tests.agent.conftest import live, start_agent, stop
from tests.helpers import eventually


async def test_kill_then_rate_reaches_the_broker(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        r = start_agent(b, tmp_path)
        try:
            await eventually(lambda: r.session.connected, what="the agent's connection")
            viewer = await live(r, "view")
            assert r.session.kill("button") is not None
            await eventually(lambda: r.observer.outcome is not None, what="the outcome")
            outcome = r.observer.outcome
            assert outcome is not None and outcome.reason == "killed_by_client"
            assert outcome.rest_rating and outcome.can_rate
            assert not r.session.connected
            sid = r.session.session_id
            assert sid is not None
            session_log = b.data_dir / "sessions" / sid / "log.jsonl"
            await eventually(lambda: session_log.exists(), what="the session log")
            sealed = session_log.read_bytes()

            r.session.rate(2, "I had to stop it")
            r.session.rate(5, "second thoughts")  # only the first rating counts
            assert await asyncio.to_thread(r.session.wait_rating, 15.0)

            row = await queries.get_session(b.app[DB], sid)
            assert row is not None and row.state == "ended"
            assert (row.rating_score, row.rating_comment) == (2, "I had to stop it")
            review = read_jsonl(b.data_dir / "sessions" / sid / REVIEW).records
            given = [(x.actor, dict(x.detail)) for x in review if x.event == "rating.given"]
            assert given == [("client", {"score": 2})]
            assert session_log.read_bytes() == sealed  # the sealed session log is untouched
            # The evidence (sealed session log + signed review log) still verifies.
            report = verify_bundle(
                export_bundle(b.data_dir, sid, tmp_path / "evidence.zip"),
                signer_check=verify_checkpoint_signer,
            )
            assert report.ok and report.review_records == len(review), str(report)
            assert "Your rating was sent. Thank you." in r.observer.notices
            # The broker takes one rating per session.
            with pytest.raises(FinalError) as refused:
                await r.session.rate_over_rest(4)
            assert refused.value.reason == "conflict"
            await viewer.close()
        finally:
            await stop(r)


def test_can_rate_after_a_kill_only_with_a_session_token() -> None:
    assert SessionOutcome("killed_by_client", "client", "s1", rest_rating=True).can_rate
    assert not SessionOutcome("killed_by_client", "client").can_rate  # before any session
    assert not SessionOutcome("auth_failed", rest_rating=True).can_rate
    assert SessionOutcome("ended_by_engineer", "engineer", "s1").can_rate


class _RatingSession:
    """Records what the terminal asks of the session (the REST call is tested above)."""

    def __init__(self) -> None:
        self.ratings: list[int] = []

    def rate(self, score: int, comment: str = "") -> None:
        self.ratings.append(score)

    def wait_rating(self, timeout: float) -> bool:
        return True


def _terminal_after_kill() -> tuple[TerminalUI, _RatingSession, io.StringIO]:
    out = io.StringIO()
    ui = TerminalUI(out)
    session = _RatingSession()
    ui.session = session  # type: ignore[assignment]
    ui.rating_enabled = True
    ui.ended(SessionOutcome("killed_by_client", "client", "s1", rest_rating=True))
    assert "Type 1 to 5" in out.getvalue()
    return ui, session, out


def test_headless_asks_for_the_rating_after_a_kill() -> None:
    ui, session, out = _terminal_after_kill()
    threading.Timer(0.05, ui.handle_line, args=("4\n",)).start()
    ui.wait_for_rating(timeout=5.0)
    assert session.ratings == [4] and "Thank you." in out.getvalue()


def test_headless_rating_is_skippable_and_times_out() -> None:
    ui, session, out = _terminal_after_kill()
    ui.handle_line("\n")  # Enter skips
    ui.wait_for_rating(timeout=5.0)
    assert session.ratings == []
    ui, session, out = _terminal_after_kill()
    started = time.monotonic()
    ui.wait_for_rating(timeout=0.2)
    assert time.monotonic() - started < 2.0
    assert session.ratings == [] and "No rating given." in out.getvalue()
    ui.handle_line("5\n")  # too late: the question is closed, no rating
    assert session.ratings == []
