"""A broker SIGKILLed and restarted (issue 13, finding 6): the agent re-attaches and the
log records that as ``session.reattached`` — not a second ``session.requested`` — and
the client's copy goes on, complete and in order (the log stream resumes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
from pathlib import Path

from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import RecordingInjector, RecordingObserver
from agent.ui.bridge import SessionThread
from tests.helpers import broker_process, eventually, stop_process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _events(path: Path) -> list[str]:
    return [json.loads(x)["event"] for x in path.read_text().splitlines() if x.strip()]


async def test_a_restarted_broker_logs_the_reattach(tmp_path: Path) -> None:
    data, port = tmp_path / "data", _free_port()
    extra = ["--port", str(port)]
    with contextlib.ExitStack() as processes:
        bp = await asyncio.to_thread(processes.enter_context, broker_process(data, 60, extra=extra))
        config = AgentConfig(
            broker_url=bp.url,
            ca_pem=bp.root_ca.read_text(),
            client_name="Bob",
            describe="restart test",
            headless=True,
            source="pattern:320x200",
            log_dir=tmp_path / "agent-logs",
            injector="none",
            reconnect_max_s=0.5,
        ).check()
        observer = RecordingObserver()
        session = AgentSession(config, observer, injector=RecordingInjector())
        thread = SessionThread(session.run)
        thread.start()
        try:
            await eventually(lambda: session.connected, timeout=20, what="the agent's connection")
            sid = session.session_id
            log = data / "sessions" / sid / "log.jsonl"
            local = session.local_log
            assert local is not None
            await eventually(lambda: local.last_broker_seq >= 1, what="the first record")
            stop_process(bp.proc, signal.SIGKILL)  # no shutdown, no final checkpoint
            await eventually(lambda: not session.connected, what="the agent sees it go")
            bp2 = await asyncio.to_thread(
                processes.enter_context, broker_process(data, 60, extra=extra)
            )
            assert bp2.url == bp.url
            await eventually(
                lambda: "session.reattached" in _events(log), timeout=30, what="the re-attach"
            )
            events = _events(log)
            assert events.count("session.requested") == 1, events
            await eventually(
                lambda: local.last_broker_seq >= len(events), what="the copy catches up"
            )
            seqs = [r["seq"] for r in local.broker_records]
            assert seqs == list(range(1, len(seqs) + 1)), seqs
        finally:
            session.kill("test teardown")
            await asyncio.to_thread(thread.join, 15.0)
