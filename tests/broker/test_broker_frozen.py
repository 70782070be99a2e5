"""A broker process frozen by a real SIGSTOP while the client kills the session (issue
13, finding 4): the kill never waits on the frozen broker, and once the broker runs
again (SIGCONT) and ends the session, the client's kept copy and the broker's log
compare as identical or as an honest complete prefix — never as a gap or diverged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import RecordingInjector, RecordingObserver
from agent.ui.bridge import SessionThread
from audit.compare import Verdict, compare_copies
from tests.helpers import broker_process, eventually, stop_process


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


async def test_a_kill_while_the_broker_is_sigstopped_leaves_an_honest_copy(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with contextlib.ExitStack() as processes:
        bp = await asyncio.to_thread(processes.enter_context, broker_process(data, 60))
        config = AgentConfig(
            broker_url=bp.url,
            ca_pem=bp.root_ca.read_text(),
            client_name="Bob",
            describe="frozen broker",
            headless=True,
            source="pattern:320x200",
            log_dir=tmp_path / "agent-logs",
            injector="none",
            reconnect_max_s=0.5,
        ).check()
        session = AgentSession(config, RecordingObserver(), injector=RecordingInjector())
        thread = SessionThread(session.run)
        thread.start()
        frozen = False
        try:
            await eventually(lambda: session.connected, timeout=20, what="the agent's connection")
            sid = session.session_id
            local = session.local_log
            assert local is not None and sid
            await eventually(lambda: local.last_broker_seq >= 1, what="the first record")
            bp.proc.send_signal(signal.SIGSTOP)  # a real freeze: nothing answers, nothing closes
            frozen = True
            started = time.monotonic()
            assert session.kill("button") is not None
            assert time.monotonic() - started < 0.1  # the client's stop never waits on it
            await asyncio.to_thread(thread.join, 30.0)
            assert not thread.is_alive(), "the agent ended without the broker"
            bp.proc.send_signal(signal.SIGCONT)
            frozen = False
            log = data / "sessions" / sid / "log.jsonl"
            await eventually(
                lambda: any(r["event"] == "session.ended" for r in _records(log)),
                # the kill may have died with the agent's reset connection: then the
                # broker ends the session after the agent's 30 s reconnect grace
                timeout=75,
                what="the broker ends the session once it runs again",
            )
            stop_process(bp.proc)  # a clean stop seals the log
            report = compare_copies(local.broker_records, _records(log), session_id=sid)
            assert report.verdict in (Verdict.IDENTICAL, Verdict.PREFIX), report.conclusion
            assert report.client_last >= 1 and report.common_seq == report.client_last
        finally:
            if frozen:
                bp.proc.send_signal(signal.SIGCONT)
            session.kill("test teardown")
            await asyncio.to_thread(thread.join, 15.0)
