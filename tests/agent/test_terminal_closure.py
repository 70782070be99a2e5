"""The closure question in terminal mode (review of 2026-12-04: the window asked "Is
your problem solved?" after a resolved ticket, the terminal did not), against the REAL
broker with the real session: the terminal waits for the engineer's resolution (Enter
leaves), asks, and ``n`` reopens / ``y`` closes the ticket, as the history shows."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from agent.headless import TerminalUI
from broker.testing import running_broker
from tests.agent.conftest import live, start_agent, stop
from tests.helpers import eventually

FAST = {"watch_s": 30.0, "poll_s": 0.1, "prompt_s": 30.0}


async def test_the_terminal_asks_whether_the_problem_is_solved(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        r = start_agent(b, tmp_path)
        try:
            await eventually(lambda: r.session.connected, what="the agent's connection")
            viewer = await live(r, "view")
            ticket_id = r.session.ticket.ticket_id if r.session.ticket else None
            assert ticket_id is not None
            await viewer.close()
            assert r.session.kill("button") is not None
            await eventually(lambda: r.observer.outcome is not None, what="the outcome")
            outcome = r.observer.outcome
            assert outcome is not None
            out = io.StringIO()
            ui = TerminalUI(out)
            ui.session = r.session
            ui.ended(outcome)
            # Not an interactive terminal (the headless rule): nothing is asked.
            await asyncio.to_thread(ui.wait_for_closure, **FAST)
            assert "Is your problem solved?" not in out.getvalue()
            ui.closure_enabled = True

            admin = await b.login(b.admin_username, b.admin_password)

            async def patch(body: dict[str, str]) -> None:
                code, got, _ = await b.request(
                    "PATCH", f"/api/v1/tickets/{ticket_id}", token=admin, json=body
                )
                assert code == 200, got

            async def status() -> str:
                _, got, _ = await b.request("GET", f"/api/v1/tickets/{ticket_id}", token=admin)
                return str(got["status"])

            if await status() != "in_progress":
                await patch({"status": "in_progress"})
            # Not resolved yet: the terminal waits and says so; Enter leaves.
            waiting = asyncio.create_task(asyncio.to_thread(ui.wait_for_closure, **FAST))
            await eventually(lambda: "Waiting for the engineer" in out.getvalue(), what="wait")
            ui.handle_line("\n")
            await asyncio.wait_for(waiting, 10)
            assert "Is your problem solved?" not in out.getvalue()

            # Resolved while the terminal waits: asked, a stray word re-explains, n reopens.
            asking = asyncio.create_task(asyncio.to_thread(ui.wait_for_closure, **FAST))
            resolved = {"status": "resolved", "resolution": "Printer driver reinstalled"}
            await patch(resolved)
            await eventually(lambda: "Is your problem solved?" in out.getvalue(), what="asked")
            assert "Resolution: Printer driver reinstalled" in out.getvalue()
            ui.handle_line("maybe\n")
            assert out.getvalue().count("n to reopen it") == 2
            ui.handle_line("n\n")
            await asyncio.wait_for(asking, 10)
            assert await status() == "in_progress"

            # Resolved again: y closes it.
            await patch(resolved)
            asking = asyncio.create_task(asyncio.to_thread(ui.wait_for_closure, **FAST))
            await eventually(
                lambda: out.getvalue().count("Is your problem solved?") == 2, what="asked again"
            )
            ui.handle_line("y\n")
            await asyncio.wait_for(asking, 10)
            assert await status() == "closed"
            _, history, _ = await b.request(
                "GET", f"/api/v1/tickets/{ticket_id}/history", token=admin
            )
            moves = [h["to"] for h in history["history"] if h["field"] == "status"]
            assert moves[-4:] == ["resolved", "in_progress", "resolved", "closed"]
            assert [t.status for t in r.observer.closure_answers] == ["in_progress", "closed"]
            # Closed: nothing more is asked, the terminal does not wait.
            await asyncio.wait_for(asyncio.to_thread(ui.wait_for_closure, **FAST), 10)
            assert out.getvalue().count("Is your problem solved?") == 2
        finally:
            await stop(r)
