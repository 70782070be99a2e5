"""The agent against the REAL broker with a scripted engineer's viewer (G1, G2, G4, G5, G7, G8, G10)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from agent.capture import CaptureError
from agent.testing import (
    FreezableProxy,
    ScriptedViewer,
)
from broker.testing import running_broker
from protocol.media import ButtonDown, ButtonUp, KeyDown
from protocol.messages import ConsentGrant, End, SessionEnded
from tests.agent.conftest import Rig, barrier, live, start_agent, stop
from tests.helpers import eventually


async def test_consent_first_stream_input_and_kill(rig: Rig) -> None:
    viewer = await rig.join("alice", "Alice Engineer", "view", "control")
    await eventually(lambda: rig.observer.prompts, what="the consent prompt")
    prompt = rig.observer.prompts[0]
    assert prompt.user_name == "Alice Engineer" and set(prompt.permissions) == {"view", "control"}
    # G2: nothing grabbed, nothing sent before the client says yes — checked after the
    # agent has finished the key agreement, which follows the prompt
    await eventually(lambda: viewer.viewer_id in rig.observer.codes, what="key agreement")
    assert rig.source.grabs == 0 and rig.session.frames_sent == 0 and viewer.binary_bytes == 0
    # input before a grant is not applied (the broker drops it too)
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
    await eventually(
        lambda: any(r["event"] == "audit.wrapped" for r in log.broker_records), what="key.audit"
    )
    assert not any("could not be verified" in n for n in rig.observer.notices)
    # control was denied: input is still refused
    await viewer.send_input(ButtonDown(2, 2, 1))
    await barrier(rig, viewer)
    assert rig.injector.calls == []
    # the engineer asks for control; the client allows; input is applied and logged
    await viewer.ask("control")
    await eventually(lambda: len(rig.observer.prompts) >= 2, what="the control prompt")
    rig.answer(1, "control")
    await eventually(lambda: rig.session.consent.may(viewer.viewer_id, "control"), what="control")
    # the broker has the grant too once it forwarded it to the viewer (it gates input)
    await viewer.wait_for(
        lambda: any("control" in g.permissions for g in viewer.of_type(ConsentGrant))
    )
    await viewer.send_input(ButtonDown(5, 6, 1), ButtonUp(5, 6, 1), KeyDown(0xFF0D, 0))
    await eventually(lambda: len(rig.injector.calls) >= 3, what="input applied")
    assert rig.injector.calls[0] == ("button", 5, 6, 1, True)
    await eventually(
        lambda: any(line.event == "input.applied" for line in rig.observer.lines), what="log"
    )
    # revoke: the next event is not applied
    rig.session.revoke(viewer.viewer_id, ["control"])
    await eventually(
        lambda: not rig.session.consent.may(viewer.viewer_id, "control"), what="revoke"
    )
    n = len(rig.injector.calls)
    await viewer.send_input(ButtonDown(7, 7, 1))
    await barrier(rig, viewer)
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
    await viewer.wait_for(lambda: viewer.close_code is not None)  # nothing can follow
    assert max(f.seq for f, _ in viewer.updates) <= seq_at_kill
    assert rig.source.grabs <= grabs_before + 1 and rig.source.closed_at is not None
    await eventually(lambda: rig.observer.outcome is not None, what="the outcome")
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
            await eventually(lambda: r.session.connected, what="the agent's connection")
            viewer = await live(r, "view")
            proxy.freeze()  # the broker no longer hears the agent, nor answers it
            # with no acks the agent keeps (slowly) grabbing: in-flight updates expire
            grabs = r.source.grabs
            await eventually(lambda: r.source.grabs > grabs, timeout=8, what="capture while frozen")
            t_kill = time.monotonic()
            assert r.session.kill("button") is not None
            assert time.monotonic() - t_kill < 0.1  # never blocks on the network
            await eventually(
                lambda: r.source.closed_at is not None, timeout=1, what="source closed"
            )
            assert r.source.closed_at is not None and r.source.closed_at - t_kill < 0.1
            assert all(t < t_kill for t in r.source.grab_times[:-1])
            late = [t for t in r.source.grab_times if t > t_kill]
            assert late == []
            # the notification and the close time out quickly; the session is over. The
            # end is reported after the kill's bounded notification (<= 6 s: a fresh
            # connection 2 s, kill 1 s, checkpoint 2 s, drain 1 s) and, when the copy
            # lacks records, up to three REST attempts to complete it (3 x 2 s + 0.6 s).
            await eventually(lambda: r.observer.outcome is not None, timeout=15, what="the outcome")
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
            # the request shows up in the engineer's queue once the agent is connected
            await b.create_user("erin", "engineer", name="Erin Engineer", password="pw-erin-erin")
            token = await b.login("erin", "pw-erin-erin")

            async def waiting() -> Any:
                _, queue, _ = await b.request("GET", "/api/v1/queue", token=token)
                return next(
                    (
                        i["session_id"]
                        for i in queue["queue"]
                        if i["client_name"] == "Dave" and i["state"] == "waiting"
                    ),
                    None,
                )

            sid = await eventually(waiting, timeout=30, what="a waiting session in the queue")
            viewer = ScriptedViewer(b.ws_url + "/ws/viewer", b.ssl_context(), b.base_url)

            async def joined() -> bool:  # the queue can say "waiting" a moment early
                status, body, _ = await b.request(
                    "POST", f"/api/v1/sessions/{sid}/join", token=token,
                    json={"as": "engineer", "permissions": ["view"]},
                )  # fmt: skip
                assert status == 200, body
                try:
                    await viewer.connect(body["ws_token"])
                except AssertionError:
                    return False
                return True

            await eventually(joined, timeout=5, interval=0.2, what="the viewer's welcome")
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
    await eventually(lambda: len(rig.observer.prompts) >= 2, what="Bob's own prompt")
    assert rig.observer.prompts[1].user_name == "Bob Observer"
    # updates fanned out after Bob's prompt reach Alice but not Bob: no consent yet
    seen = len(alice.updates)
    await alice.wait_for(lambda: len(alice.updates) >= seen + 2)
    assert bob.updates == [] and bob.binary_bytes == 0
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
            await eventually(lambda: r.session.connected, what="the agent's connection")
            viewer = await live(r, "view")
            await viewer.send(End(resolution="Printer driver reinstalled"))
            await eventually(lambda: r.observer.outcome is not None, what="the outcome")
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

            async def rated() -> bool:
                body = await rating()
                return "5" in str(body.get("rating", body.get("session", {}).get("rating")))

            await eventually(rated, what="the rating at the broker")
            await viewer.close()
        finally:
            await stop(r)


async def test_pause_resume_and_masks(rig: Rig) -> None:
    viewer = await live(rig, "view")
    rig.session.pause()
    assert not rig.session.killswitch.capture_allowed()  # stopped before returning
    paused_at = rig.session.committed_seq  # no frame commits while paused (the gate)
    await viewer.wait_for(lambda: any(m.type == "pause" for m in viewer.messages))
    # a round trip through the broker both ways while paused: updates sent before the
    # pause have arrived, the capture loop has ticked, and nothing new was committed
    await barrier(rig, viewer)
    assert rig.session.committed_seq == paused_at
    assert max(f.seq for f, _ in viewer.updates) <= paused_at
    n = len(viewer.updates)
    rig.session.resume()
    await viewer.wait_for(lambda: len(viewer.updates) > n)
    first = viewer.updates[n][0]
    assert first.seq == paused_at + 1  # the first frame after the pause: none in between
    assert first.full  # resuming starts from a complete picture
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
            await eventually(lambda: r.session.connected, what="the agent's connection")
            viewer = await live(r, "view")
            assert r.session.connections == 1
            await proxy.drop()  # the network fails: every connection is cut
            await eventually(
                lambda: r.session.connections >= 2, timeout=15, what="the reconnection"
            )
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
        await eventually(lambda: r.observer.outcome is not None, what="the refusal")
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
            # the agent has dialed and its request hangs: no answer, no session yet
            await eventually(lambda: proxy.connections >= 1, what="the agent's request")
            assert r.observer.outcome is None and r.session.session_id is None
            t0 = time.monotonic()
            r.session.kill("button")
            await eventually(lambda: r.observer.outcome is not None, timeout=2, what="the end")
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
            await eventually(lambda: r.session.connected, what="the agent's connection")
            viewer = await r.join("alice", "Alice Engineer", "view")
            await eventually(lambda: r.observer.prompts, what="the consent prompt")
            r.answer(0, "view")
            await eventually(lambda: r.observer.outcome is not None, what="the outcome")
            outcome = r.observer.outcome
            assert outcome is not None and outcome.reason == "failed"
            assert "screen capture failed: no display" in outcome.details[0]
            assert any("Screen capture failed" in n for n in r.observer.notices)
            assert viewer.binary_bytes == 0
            await viewer.close()
        finally:
            await stop(r)
