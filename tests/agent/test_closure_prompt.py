"""Closure confirmed by the client in the agent (issue 19, docs/workflow.md), against
the REAL broker: after the session the agent asks the broker about its ticket with the
session token; once the engineer resolves it the client is asked, and the answer —
reopen, then confirm — reaches the ticket's history."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import FinalError
from broker.testing import running_broker
from tests.agent.conftest import live, start_agent, stop
from tests.helpers import eventually


async def test_the_client_is_asked_after_the_engineer_resolves(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        r = start_agent(b, tmp_path, closure_watch_s=60.0, closure_poll_s=0.2)
        try:
            await eventually(lambda: r.session.connected, what="the agent's connection")
            viewer = await live(r, "view")
            ticket_id = r.session.ticket.ticket_id if r.session.ticket else None
            assert ticket_id is not None
            admin = await b.login(b.admin_username, b.admin_password)
            await viewer.close()
            assert r.session.kill("button") is not None  # the session ends; the agent stays
            await eventually(lambda: r.observer.outcome is not None, what="the outcome")
            # Not resolved yet: the agent keeps asking, the client sees nothing.
            status = await r.session.ticket_status()
            assert status.status in ("in_progress", "assigned", "new")
            assert r.observer.closure_questions == []
            resolved = {"status": "resolved", "resolution": "Printer driver reinstalled"}
            for step in ({"status": "in_progress"}, resolved):
                if step["status"] == status.status:
                    continue
                code, body, _ = await b.request(
                    "PATCH", f"/api/v1/tickets/{ticket_id}", token=admin, json=step
                )
                assert code == 200, body
            await eventually(lambda: r.observer.closure_questions, what="the closure question")
            [asked] = r.observer.closure_questions
            assert asked.status == "resolved" and asked.resolution == "Printer driver reinstalled"
            assert asked.auto_close_at is not None

            r.session.answer_closure(False, "The page is still blank")
            await eventually(lambda: r.observer.closure_answers, what="the reopen")
            assert r.observer.closure_answers[-1].status == "in_progress"
            assert "Your request was reopened: the help desk will get back to you." in (
                r.observer.notices
            )
            code, _, _ = await b.request(
                "PATCH", f"/api/v1/tickets/{ticket_id}", token=admin, json=resolved
            )
            assert code == 200
            closed = await r.session.closure_over_rest(True)
            assert closed.status == "closed"
            with pytest.raises(FinalError) as refused:  # nothing left to confirm
                await r.session.closure_over_rest(True)
            assert refused.value.reason == "conflict"
            _, history, _ = await b.request(
                "GET", f"/api/v1/tickets/{ticket_id}/history", token=admin
            )
            moves = [(h["field"], h["to"]) for h in history["history"]]
            assert ("client_comment", "The page is still blank") in moves
            assert moves[-1] == ("status", "closed")
        finally:
            await stop(r)
