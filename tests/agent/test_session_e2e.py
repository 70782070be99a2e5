"""The agent against the REAL broker with a scripted engineer's viewer (G1, G2, G4, G5, G7, G8, G10)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.capture import CaptureError, open_source
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import (
    CountingSource,
    FreezableProxy,
    RecordingInjector,
    RecordingObserver,
    ScriptedViewer,
)
from agent.ui.bridge import SessionThread
from broker.pki import PKI
from broker.testing import RunningBroker, running_broker
from protocol.media import ButtonDown, ButtonUp, KeyDown
from protocol.messages import End, SessionEnded


async def until(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Rig:
    broker: RunningBroker
    session: AgentSession
    observer: RecordingObserver
    source: CountingSource
    injector: RecordingInjector
    thread: SessionThread

    async def join(
        self, username: str, name: str, *perms: str, role: str = "engineer"
    ) -> ScriptedViewer:
        await self.broker.create_user(username, role, name=name, password="pw-" + username * 3)
        token = await self.broker.login(username, "pw-" + username * 3)
        sid = self.session.session_id
        status, body, _ = await self.broker.request(
            "POST", f"/api/v1/sessions/{sid}/join", token=token,
            json={"as": "engineer" if role == "engineer" else "observer", "permissions": list(perms)},
        )  # fmt: skip
        assert status == 200, body
        viewer = ScriptedViewer(
            self.broker.ws_url + "/ws/viewer", self.broker.ssl_context(), self.broker.base_url
        )
        await viewer.connect(body["ws_token"])
        await viewer.start_keys()
        return viewer

    def answer(self, index: int, *allowed: str) -> None:
        prompt = self.observer.prompts[index]
        self.session.mark_shown(prompt.request_id)
        self.session.answer(prompt.request_id, list(allowed))


def start_agent(b: RunningBroker, tmp_path: Path, broker_url: str | None = None, **cfg: Any) -> Rig:
    cfg.setdefault("describe", "My printer is offline")
    config = AgentConfig(
        broker_url=broker_url or b.base_url,
        ca_pem=b.ca_cert_path.read_text(),
        checkpoint_signer_pem=b.app[PKI].signing_cert_path.read_text(),
        client_name="Carol Client",
        source="pattern:320x240",
        log_dir=tmp_path / "client-logs",
        max_fps=30,
        **cfg,
    ).check()
    observer = RecordingObserver()
    source = CountingSource(open_source("pattern:320x240"))
    injector = RecordingInjector()
    session = AgentSession(config, observer, source_factory=lambda: source, injector=injector)
    thread = SessionThread(session.run)
    thread.start()
    return Rig(b, session, observer, source, injector, thread)


async def stop(r: Rig) -> None:
    r.session.kill("test_teardown")
    for _ in range(200):
        if not r.thread.is_alive():
            return
        await asyncio.sleep(0.05)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_broker(tmp_path) as b:
        r = start_agent(b, tmp_path)
        try:
            await until(lambda: r.session.connected, what="the agent's connection")
            yield r
        finally:
            await stop(r)


async def live(r: Rig, *perms: str) -> ScriptedViewer:
    viewer = await r.join("alice", "Alice Engineer", *perms)
    await until(lambda: r.observer.prompts, what="the consent prompt")
    r.answer(0, *perms)
    await viewer.wait_for(lambda: len(viewer.updates) >= 2)
    return viewer


async def test_consent_first_stream_input_and_kill(rig: Rig) -> None:
    viewer = await rig.join("alice", "Alice Engineer", "view", "control")
    await until(lambda: rig.observer.prompts, what="the consent prompt")
    prompt = rig.observer.prompts[0]
    assert prompt.user_name == "Alice Engineer" and set(prompt.permissions) == {"view", "control"}
    # G2: nothing grabbed, nothing sent before the client says yes
    await asyncio.sleep(0.4)
    assert rig.source.grabs == 0 and rig.session.frames_sent == 0 and viewer.binary_bytes == 0
    # input before a grant is not applied (the broker drops it too)
    await until(lambda: viewer.sealer is not None, what="key agreement")
    await viewer.send_input(ButtonDown(1, 1, 1))
    rig.answer(0, "view")
    await viewer.wait_for(lambda: len(viewer.updates) >= 3)
    frame, update = viewer.updates[0]
    assert frame.full and (update.width, update.height) == (320, 240)
    assert viewer.viewer_id in rig.observer.codes  # verification code shown to the client
    assert rig.observer.codes[viewer.viewer_id] == viewer.keys.verification_code  # type: ignore[union-attr]
    assert rig.injector.calls == []
    # the company's recording key: certificate checked against the org CA, key wrapped
    log = rig.session.local_log
    assert log is not None
    await until(
        lambda: any(r["event"] == "audit.wrapped" for r in log.broker_records), what="key.audit"
    )
    assert not any("could not be verified" in n for n in rig.observer.notices)
    # control was denied: input is still refused
    await viewer.send_input(ButtonDown(2, 2, 1))
    await asyncio.sleep(0.3)
    assert rig.injector.calls == []
    # the engineer asks for control; the client allows; input is applied and logged
    await viewer.ask("control")
    await until(lambda: len(rig.observer.prompts) >= 2, what="the control prompt")
    rig.answer(1, "control")
    await until(lambda: rig.session.consent.may(viewer.viewer_id, "control"), what="control")
    await asyncio.sleep(0.2)
    await viewer.send_input(ButtonDown(5, 6, 1), ButtonUp(5, 6, 1), KeyDown(0xFF0D, 0))
    await until(lambda: len(rig.injector.calls) >= 3, what="input applied")
    assert rig.injector.calls[0] == ("button", 5, 6, 1, True)
    await until(
        lambda: any(line.event == "input.applied" for line in rig.observer.lines), what="log"
    )
    # revoke: the next event is not applied
    rig.session.revoke(viewer.viewer_id, ["control"])
    await until(lambda: not rig.session.consent.may(viewer.viewer_id, "control"), what="revoke")
    n = len(rig.injector.calls)
    await viewer.send_input(ButtonDown(7, 7, 1))
    await asyncio.sleep(0.3)
    assert len(rig.injector.calls) == n
    # G5: kill — capture stops in this thread, no frame is committed after it
    grabs_before = rig.source.grabs
    t0 = time.monotonic()
    record = rig.session.kill("button")
    assert record is not None and time.monotonic() - t0 < 0.1
    assert not rig.session.killswitch.capture_allowed()
    seq_at_kill = rig.session.seq_at_kill
    assert seq_at_kill is not None and seq_at_kill >= 3
    await viewer.wait_for(lambda: viewer.of_type(SessionEnded))
    assert viewer.of_type(SessionEnded)[0].reason == "killed_by_client"
    await asyncio.sleep(0.3)
    assert max(f.seq for f, _ in viewer.updates) <= seq_at_kill
    assert rig.source.grabs <= grabs_before + 1 and rig.source.closed_at is not None
    await until(lambda: rig.observer.outcome is not None, what="the outcome")
    outcome = rig.observer.outcome
    assert outcome is not None and outcome.reason == "killed_by_client"
    # G10: the client's copy verifies against the broker's signed checkpoint
    assert outcome.verification is not None and outcome.verification.ok, outcome.verification
    assert "signature not checked" not in outcome.verification.summary
    assert outcome.log_dir is not None and (Path(outcome.log_dir) / "broker.jsonl").exists()
    await viewer.close()


async def test_kill_stops_screen_grabs_within_100ms_with_the_broker_frozen(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        proxy = FreezableProxy("127.0.0.1", int(b.base_url.rsplit(":", 1)[1]))
        port = await proxy.start()
        r = start_agent(b, tmp_path, broker_url=f"https://127.0.0.1:{port}")
        try:
            await until(lambda: r.session.connected, what="the agent's connection")
            viewer = await live(r, "view")
            proxy.freeze()  # the broker no longer hears the agent, nor answers it
            # with no acks the agent keeps (slowly) grabbing: in-flight updates expire
            grabs = r.source.grabs
            await until(lambda: r.source.grabs > grabs, timeout=8, what="capture while frozen")
            t_kill = time.monotonic()
            assert r.session.kill("button") is not None
            assert time.monotonic() - t_kill < 0.1  # never blocks on the network
            await until(lambda: r.source.closed_at is not None, timeout=1, what="source closed")
            assert r.source.closed_at is not None and r.source.closed_at - t_kill < 0.1
            assert all(t < t_kill for t in r.source.grab_times[:-1])
            late = [t for t in r.source.grab_times if t > t_kill]
            assert late == []
            # the notification and the close time out quickly; the session is over
            await until(lambda: r.observer.outcome is not None, timeout=6, what="the outcome")
            assert r.observer.outcome is not None
            assert r.observer.outcome.reason == "killed_by_client"
            assert max(f.seq for f, _ in viewer.updates) <= (r.session.seq_at_kill or 0)
            await viewer.close()
        finally:
            await stop(r)
            await proxy.close()


def _socket_states(pid: int) -> dict[int, str]:
    """TCP state (hex, '0A' = LISTEN) of every socket the process holds, by inode."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    states: dict[int, str] = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        for line in path.read_text().splitlines()[1:]:
            cols = line.split()
            inode = int(cols[9])
            if inode in inodes:
                states[inode] = ("udp:" if table.startswith("udp") else "") + cols[3]
    return states


async def test_headless_agent_process_only_dials_out(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "agent",
            "--enrollment", str(b.enrollment_path),
            "--headless", "--describe", "disk full", "--name", "Dave",
            "--source", "pattern:320x240", "--injector", "none",
            "--log-dir", str(tmp_path / "logs"),
            "--auto-consent-for-tests", "view",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=str(Path(__file__).resolve().parents[2]),
        )  # fmt: skip
        try:
            body: Any = None
            # the request shows up in the engineer's queue once the agent is connected
            await b.create_user("erin", "engineer", name="Erin Engineer", password="pw-erin-erin")
            token = await b.login("erin", "pw-erin-erin")
            sid = None
            deadline = time.monotonic() + 15
            while sid is None and time.monotonic() < deadline:
                status, body, _ = await b.request("GET", "/api/v1/queue", token=token)
                for item in body["queue"]:
                    if item["client_name"] == "Dave" and item["state"] == "waiting":
                        sid = item["session_id"]
                await asyncio.sleep(0.1)
            assert sid, f"no waiting session in the queue: {body}"
            viewer = ScriptedViewer(b.ws_url + "/ws/viewer", b.ssl_context(), b.base_url)
            for attempt in range(5):  # the queue can say "waiting" a moment early
                status, body, _ = await b.request(
                    "POST", f"/api/v1/sessions/{sid}/join", token=token,
                    json={"as": "engineer", "permissions": ["view"]},
                )  # fmt: skip
                assert status == 200, body
                try:
                    await viewer.connect(body["ws_token"])
                    break
                except AssertionError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.5)
            await viewer.start_keys()
            await viewer.wait_for(lambda: len(viewer.updates) >= 2, timeout=15)
            # G1: the agent process holds sockets, all connected out; none listens
            states = _socket_states(proc.pid)
            assert "01" in states.values()  # ESTABLISHED: the check does see its sockets
            assert "0A" not in states.values(), states
            assert not any(s.startswith("udp:") for s in states.values()), states
            proc.send_signal(signal.SIGTERM)  # the kill switch in headless mode
            out, _ = await asyncio.wait_for(proc.communicate(), 15)
            text = out.decode()
            assert proc.returncode == 3, text
            assert "TEST MODE" in text and "kill switch" in text
            # the viewer is told the session ended, then closed with 4000 (SPEC §7)
            await viewer.wait_for(lambda: viewer.close_code is not None)
            assert viewer.close_code == 4000 and viewer.of_type(SessionEnded)
            await viewer.close()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_second_viewer_asks_again_and_a_leaver_loses_the_key(rig: Rig) -> None:
    alice = await live(rig, "view")
    bob = await rig.join("bob", "Bob Observer", "view", role="supervisor")
    await until(lambda: len(rig.observer.prompts) >= 2, what="Bob's own prompt")
    assert rig.observer.prompts[1].user_name == "Bob Observer"
    await asyncio.sleep(0.3)
    assert bob.updates == [] and bob.binary_bytes == 0  # no consent yet: nothing
    rig.answer(1, "view")
    await bob.wait_for(lambda: len(bob.updates) >= 1)
    assert bob.updates[0][0].full  # a newcomer starts from a complete picture
    epoch_before = alice.updates[-1][0].epoch
    # Bob leaves: later frames use a new content key that Bob never receives
    await bob.close()
    await alice.wait_for(lambda: alice.updates[-1][0].epoch > epoch_before)
    assert rig.session.consent.viewers_with("view") == (alice.viewer_id,)
    new_epoch = alice.updates[-1][0].epoch
    wraps_for_bob = [m for m in bob.messages if m.type == "key.wrap" and m.epoch >= new_epoch]
    assert wraps_for_bob == []


async def test_engineer_ends_log_verified_and_rating_sent(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        r = start_agent(b, tmp_path, rating_wait_s=10.0)
        try:
            await until(lambda: r.session.connected, what="the agent's connection")
            viewer = await live(r, "view")
            await viewer.send(End(resolution="Printer driver reinstalled"))
            await until(lambda: r.observer.outcome is not None, what="the outcome")
            outcome = r.observer.outcome
            assert outcome is not None and outcome.reason == "ended_by_engineer"
            assert outcome.verification is not None and outcome.verification.ok, outcome
            assert "signature not checked" not in outcome.verification.summary
            assert r.source.closed_at is not None  # the screen is no longer read
            r.session.rate(5, "very helpful")
            token = await b.login(b.admin_username, b.admin_password)
            sid = r.session.session_id

            async def rating() -> Any:
                _, body, _ = await b.request("GET", f"/api/v1/sessions/{sid}", token=token)
                return body

            deadline = time.monotonic() + 10
            body = await rating()
            while "5" not in str(body.get("rating", body.get("session", {}).get("rating"))):
                assert time.monotonic() < deadline, body
                await asyncio.sleep(0.1)
                body = await rating()
            await viewer.close()
        finally:
            await stop(r)


async def test_pause_resume_and_masks(rig: Rig) -> None:
    viewer = await live(rig, "view")
    rig.session.pause()
    assert not rig.session.killswitch.capture_allowed()  # stopped before returning
    await viewer.wait_for(lambda: any(m.type == "pause" for m in viewer.messages))
    await asyncio.sleep(0.2)
    n = len(viewer.updates)
    await asyncio.sleep(0.5)
    assert len(viewer.updates) == n  # nothing while paused
    rig.session.resume()
    await viewer.wait_for(lambda: len(viewer.updates) > n)
    assert viewer.updates[n][0].full  # resuming starts from a complete picture
    rig.session.set_masks([(0, 0, 100, 100)])
    await viewer.wait_for(lambda: any(m.type == "mask.update" for m in viewer.messages))
    mask_msg = next(m for m in viewer.messages if m.type == "mask.update")
    assert (mask_msg.regions, mask_msg.windows) == (1, 0)


async def test_network_drop_reconnects_with_backoff(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        proxy = FreezableProxy("127.0.0.1", int(b.base_url.rsplit(":", 1)[1]))
        port = await proxy.start()
        r = start_agent(b, tmp_path, broker_url=f"https://127.0.0.1:{port}")
        try:
            await until(lambda: r.session.connected, what="the agent's connection")
            viewer = await live(r, "view")
            assert r.session.connections == 1
            await proxy.drop()  # the network fails: every connection is cut
            await until(lambda: r.session.connections >= 2, timeout=15, what="the reconnection")
            n = len(viewer.updates)
            await viewer.wait_for(lambda: len(viewer.updates) > n, timeout=10)
            assert r.observer.outcome is None  # a network error is not the end
            await viewer.close()
        finally:
            await stop(r)
            await proxy.close()


async def test_wrong_code_is_final(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        r = start_agent(b, tmp_path, describe=None, code="0000-0000")
        await until(lambda: r.observer.outcome is not None, what="the refusal")
        assert r.observer.outcome is not None and r.observer.outcome.reason == "auth_failed"
        assert r.source.grabs == 0
        r.thread.join(2)
        assert not r.thread.is_alive()


async def test_kill_while_the_broker_hangs_before_the_session(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        proxy = FreezableProxy("127.0.0.1", int(b.base_url.rsplit(":", 1)[1]))
        port = await proxy.start()
        proxy.freeze()  # the request for help never gets an answer
        r = start_agent(b, tmp_path, broker_url=f"https://127.0.0.1:{port}")
        try:
            await asyncio.sleep(0.5)
            assert r.observer.outcome is None and r.session.session_id is None
            t0 = time.monotonic()
            r.session.kill("button")
            await until(lambda: r.observer.outcome is not None, timeout=2, what="the end")
            assert time.monotonic() - t0 < 1.0
            assert r.observer.outcome is not None
            assert r.observer.outcome.reason == "killed_by_client"
            assert r.source.grabs == 0
        finally:
            await stop(r)
            await proxy.close()


async def test_screen_failure_ends_the_session_cleanly(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        r = start_agent(b, tmp_path)

        def broken() -> Any:
            raise CaptureError("no display")

        r.session._core.source_factory = broken  # the screen cannot be opened
        try:
            await until(lambda: r.session.connected, what="the agent's connection")
            viewer = await r.join("alice", "Alice Engineer", "view")
            await until(lambda: r.observer.prompts, what="the consent prompt")
            r.answer(0, "view")
            await until(lambda: r.observer.outcome is not None, what="the outcome")
            outcome = r.observer.outcome
            assert outcome is not None and outcome.reason == "failed"
            assert "screen capture failed: no display" in outcome.details[0]
            assert any("Screen capture failed" in n for n in r.observer.notices)
            assert viewer.binary_bytes == 0
            await viewer.close()
        finally:
            await stop(r)
