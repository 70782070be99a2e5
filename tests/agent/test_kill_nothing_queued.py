"""Kill leaves nothing queued (G5, issue 13 finding 7): with the agent's send queue
full (a TCP proxy the test controls stops reading from the agent), a kill resets the
connection — no byte of it leaves the agent after the kill — and the kill still reaches
the broker, over a fresh connection."""

from __future__ import annotations

from pathlib import Path

from agent.abort import queued_bytes
from agent.capture import open_source
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import CountingSource, RecordingInjector, RecordingObserver
from agent.ui.bridge import SessionThread
from broker.pki import PKI
from broker.testing import running_broker
from tests.agent.conftest import Rig, live, stop
from tests.faults import ControlledProxy
from tests.helpers import eventually


async def test_no_screen_byte_leaves_after_a_kill_with_a_full_send_queue(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b, ControlledProxy(b.server.port) as proxy:
        proxy.rcvbuf = 4096
        config = AgentConfig(
            broker_url=f"https://127.0.0.1:{proxy.port}",
            ca_pem=b.ca_cert_path.read_text(),
            checkpoint_signer_pem=b.app[PKI].signing_cert_path.read_text(),
            client_name="Carol Client",
            describe="kill with a full queue",
            source="pattern:1280x720",
            log_dir=tmp_path / "client-logs",
            max_fps=30,
        ).check()
        observer = RecordingObserver()
        source = CountingSource(open_source("pattern:1280x720"))
        session = AgentSession(
            config, observer, source_factory=lambda: source, injector=RecordingInjector()
        )
        thread = SessionThread(session.run)
        thread.start()
        rig = Rig(b, session, observer, source, RecordingInjector(), thread)
        try:
            await eventually(lambda: session.connected, what="the agent's connection")
            await live(rig, "view")
            conn = next(c for c in proxy.connections if c.from_broker > 0 and c.from_agent > 20_000)
            proxy.stop_reading_agent(conn)
            await eventually(
                lambda: (
                    session._core.ws is not None and queued_bytes(session._core.ws.transport) > 0
                ),
                what="screen bytes queued in the agent",
            )
            bound = conn.from_agent + conn.agent_inq()  # everything that left before the kill
            session.kill("test")
            await eventually(lambda: not thread.is_alive(), timeout=15, what="the agent to finish")
            proxy.read_agent_again(conn)
            await eventually(lambda: conn.closed.is_set(), what="the old connection to end")
            assert conn.from_agent <= bound, f"{conn.from_agent - bound} bytes left after the kill"
            assert conn.reset_by_agent  # RST: the kernel's send queue was discarded
            assert observer.outcome is not None and observer.outcome.reason == "killed_by_client"
            # The kill reached the broker anyway (a fresh connection), and the log says so.
            log = (b.data_dir / "sessions" / session.session_id / "log.jsonl").read_text()
            assert '"event":"kill.triggered"' in log and '"reason":"killed_by_client"' in log
        finally:
            await stop(rig)
