"""A video call through a real TURN server (Debian's coturn, ``use-auth-secret``) with
the short-lived REST credentials the broker hands the agent (broker/ice.py): the agent
takes the broker's ``ice_servers`` from its request's answer, goes relay-only as G1
requires, and media flows both ways through coturn (aiortc ↔ aiortc).

``make system-deps`` installs coturn (Makefile SYSTEM_PACKAGES); the test starts its own
``turnserver`` on 127.0.0.1 with its own secret and stops it after. Also here: a call
from a machine without a camera still carries sound one way and video the other."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiortc import RTCIceTransportPolicy

from agent.call.testing import CountingMediaFactory
from agent.connection import make_ssl_context, request_help
from broker.testing import running_broker
from tests.agent.conftest import Engineer, pump, wired
from tests.helpers import eventually

TURN_SECRET = "coturn-test-secret-0123456789"
TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Coturn:
    """A ``turnserver`` child process and what it logged."""

    def __init__(self, port: int, log: list[str]) -> None:
        self.port = port
        self.log = log

    def logged(self, text: str) -> bool:
        return any(text in line for line in list(self.log))


@pytest.fixture
def coturn() -> Iterator[Coturn]:
    if not Path(TURNSERVER).exists():
        pytest.skip("coturn is not installed here (make system-deps installs it)")
    port = _free_udp_port()
    proc = subprocess.Popen(
        [
            TURNSERVER, "-n",  # no config file: everything is on this line
            "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
            "--min-port=40000", "--max-port=40999",
            "--use-auth-secret", f"--static-auth-secret={TURN_SECRET}",
            "--realm=clearpane.test", "--allow-loopback-peers", "--no-tls", "--no-dtls",
            "--no-cli", "--no-multicast-peers", "--log-file=stdout", "--simple-log", "--verbose",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    log: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    server = Coturn(port, log)
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        reader.join(timeout=5)


async def test_a_call_relays_both_ways_through_coturn_with_the_brokers_credentials(
    tmp_path: Path, coturn: Coturn, engineer: Engineer
) -> None:
    await eventually(
        lambda: coturn.logged("listener opened") or coturn.logged("Total UDP servers"),
        timeout=10,
        what="coturn listening",
    )
    turn_url = f"turn:127.0.0.1:{coturn.port}?transport=udp"
    async with running_broker(
        tmp_path,
        ice_servers=f'[{{"urls": ["{turn_url}"]}}]',
        turn_secret=TURN_SECRET,
    ) as b:
        ticket = await request_help(
            b.base_url, make_ssl_context(b.ca_cert_path.read_text()), "camera test", "Carol"
        )
    # The broker's list, with REST credentials it made from the secret (EXPIRY:USER).
    (server,) = ticket.ice_servers
    assert server.urls == (turn_url,) and server.is_usable_relay
    assert server.username is not None and server.username.endswith(f":agent-{ticket.session_id}")

    runner, _, _ = wired(engineer, CountingMediaFactory())
    runner.use_servers(ticket.ice_servers)  # what the session does with its ticket
    runner.client_start()
    peer = runner.peer
    assert peer is not None
    assert peer.configuration.iceTransportPolicy is RTCIceTransportPolicy.RELAY  # G1
    await eventually(lambda: bool(engineer.to_agent), timeout=20, what="the engineer's answer")
    await pump(runner, engineer)
    await eventually(
        lambda: runner.stats.video_frames > 5 and engineer.frames["video"] > 5,
        timeout=30,
        what="video both ways",
    )
    assert runner.stats.audio_frames > 0 and engineer.frames["audio"] > 0
    # The relay carried it: coturn allocated for the broker-issued user and relayed.
    assert coturn.logged(f"agent-{ticket.session_id}"), "\n".join(coturn.log[-30:])
    runner.client_hangup()
    await runner.idle()


async def test_without_a_camera_the_call_is_audio_out_and_video_in(engineer: Engineer) -> None:
    """A client with no camera: the agent's offer receives video it does not send; the
    engineer hears the client, the client sees the engineer (issue 20 item 3)."""
    runner, _, _ = wired(engineer, CountingMediaFactory(video="none", audio="synthetic"))
    runner.client_start()
    await eventually(lambda: bool(engineer.to_agent), timeout=20, what="the engineer's answer")
    await pump(runner, engineer)
    await eventually(
        lambda: runner.stats.video_frames > 5 and engineer.frames["audio"] > 5,
        timeout=30,
        what="the engineer's video in, the client's sound out",
    )
    assert engineer.frames["video"] == 0  # nothing to send: no picture, not a test card
    runner.client_hangup()
    await runner.idle()
