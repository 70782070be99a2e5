"""G1 during a video call: no listening TCP port, relay-only media with TURN, and
every UDP socket the call opened is closed at hang-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiortc import RTCIceTransportPolicy

from agent.call.ice import IceServer
from agent.call.peer import CallPeer
from agent.call.testing import CountingMediaFactory
from tests.agent.conftest import Engineer, pump, wired
from tests.helpers import eventually


def _own_socket_inodes() -> set[int]:
    inodes: set[int] = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _sockets(table: str, *, listening_only: bool = False) -> set[int]:
    """This process's sockets in /proc/net/<table> (TCP LISTEN is state 0A)."""
    own = _own_socket_inodes()
    found: set[int] = set()
    for name in (table, table + "6"):
        path = Path("/proc/self/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            cols = line.split()
            if listening_only and cols[3] != "0A":
                continue
            inode = int(cols[9])
            if inode in own:
                found.add(inode)
    return found


def test_a_turn_server_makes_the_call_relay_only() -> None:
    turn = IceServer(urls=("turn:turn.example:3478",), username="u", credential="p")
    stun = IceServer(urls=("stun:stun.example:3478",))
    assert CallPeer([turn]).configuration.iceTransportPolicy is RTCIceTransportPolicy.RELAY
    assert CallPeer([stun]).configuration.iceTransportPolicy is RTCIceTransportPolicy.ALL
    no_credentials = IceServer(urls=("turn:turn.example:3478",))
    assert CallPeer([no_credentials]).configuration.iceTransportPolicy is RTCIceTransportPolicy.ALL


async def test_a_call_opens_no_listening_port_and_leaves_no_socket(
    engineer: Engineer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tcp_listening = _sockets("tcp", listening_only=True)
    udp_before = _sockets("udp")
    runner, _, _ = wired(engineer, CountingMediaFactory())
    runner.client_start()
    await eventually(lambda: bool(engineer.to_agent))
    await pump(runner, engineer)
    await eventually(lambda: runner.stats.video_frames > 2)
    assert _sockets("tcp", listening_only=True) == tcp_listening, "a call opened a TCP port"
    assert _sockets("udp") - udp_before, "the call uses UDP (ICE), as documented"
    runner.client_hangup()
    await runner.idle()
    await engineer.close()
    await eventually(lambda: not (_sockets("udp") - udp_before), timeout=5)
