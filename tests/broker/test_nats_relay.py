"""The NATS relay backend with a real nats-server and two relays (two "processes" in
one event loop, each with its own NATS connection): attaching through the home, order,
the per-viewer credit across processes, and a viewer's process going silent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from broker.relay import SessionInfo, ViewerUser
from broker.relay.nats import NatsRelay
from broker.relay.testing import MemoryLog
from protocol import messages as m
from protocol.errors import ProtocolError
from protocol.media import FLAG_FULL, AckFrame, ScreenUpdateFrame, parse_binary
from tests.helpers import eventually

INFO = SessionInfo("s1", "t1", "Printer", "Alice")
ENGINEER = ViewerUser("u1", "Eve Engineer", "engineer")


class Box:
    """An endpoint that keeps what it was sent."""

    def __init__(self) -> None:
        self.texts: list[m.ControlMessage] = []
        self.binary: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def send_text(self, text: str) -> None:
        self.texts.append(m.parse_control(text))

    def send_binary(self, data: bytes) -> None:
        self.binary.append(bytes(data))

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def types(self) -> list[str]:
        return [t.type for t in self.texts]


@pytest.fixture
async def relays(nats_url: str) -> AsyncIterator[tuple[NatsRelay, NatsRelay]]:
    states: dict[str, str] = {"s1": "requested"}

    async def persist(action: Any) -> None:
        if getattr(action, "state", None):
            states[action.session_id] = action.state

    async def load_info(sid: str) -> SessionInfo | ProtocolError:
        return INFO

    async def stored_state(sid: str) -> str | None:
        return states.get(sid)

    def make(node: str) -> Any:
        return NatsRelay.connect(
            nats_url,
            log_factory=lambda info: MemoryLog(),
            now_ms=lambda: int(time.time() * 1000),
            persist=persist,
            node_id=node,
            load_info=load_info,
            stored_state=stored_state,
            heartbeat_s=0.1,
            home_timeout_s=0.6,
        )

    a, b = await make("a"), await make("b")
    a.start()
    b.start()
    yield a, b
    for relay in (a, b):
        await relay.shutdown()
        await relay.close()


def update(seq: int) -> tuple[Any, bytes]:
    data = bytes(ScreenUpdateFrame(FLAG_FULL, 1, seq, b"\xab" * 32))
    return parse_binary(data), data


async def test_a_viewer_on_another_process(relays: tuple[NatsRelay, NatsRelay]) -> None:
    a, b = relays
    agent, viewer = Box(), Box()
    await a.attach_agent(INFO, agent, None)  # a is the home
    vid = await b.attach_viewer("s1", ENGINEER, ["view"], viewer)
    await eventually(lambda: "consent.request" in agent.types() and "welcome" in viewer.types())
    assert viewer.types()[0] == "welcome" and a.core.get("s1") is not None
    assert b.core.get("s1") is None  # the core runs in one process only
    request = next(t for t in agent.texts if isinstance(t, m.ConsentRequest))
    await a.agent_control("s1", m.ConsentGrant(request.request_id, vid, ("view",)))
    await eventually(lambda: "consent.grant" in viewer.types())

    # Credit holds across processes: two updates in flight, then the latest wins.
    for seq in range(1, 8):
        await a.agent_binary("s1", *update(seq))
    await eventually(lambda: len(viewer.binary) >= 2)
    # A chat said after the updates travels the same subject, in order: once it is
    # there, any update the credit let through would be there too.
    await a.agent_control("s1", m.Chat(text="after the updates"))
    await eventually(lambda: any(isinstance(t, m.Chat) for t in viewer.texts))
    assert [parse_binary(x).seq for x in viewer.binary] == [1, 2]  # type: ignore[union-attr]
    ack = bytes(AckFrame(2))
    await b.viewer_binary("s1", vid, parse_binary(ack), ack)
    await eventually(lambda: len(viewer.binary) == 3 and len(agent.binary) == 1)
    assert parse_binary(viewer.binary[-1]).seq == 7  # type: ignore[union-attr]

    # Order: chat both ways arrives in the order it was said.
    for i in range(20):
        await b.viewer_control("s1", vid, m.Chat(text=f"v{i}"))
    await eventually(lambda: sum(isinstance(t, m.Chat) for t in agent.texts) == 20)
    assert [t.text for t in agent.texts if isinstance(t, m.Chat)] == [f"v{i}" for i in range(20)]

    await b.detach_viewer("s1", vid, "closed")
    await eventually(lambda: "viewer.left" in agent.types())


async def test_a_viewers_process_goes_silent(relays: tuple[NatsRelay, NatsRelay]) -> None:
    """The home detaches a viewer whose process stopped (no ghost keeps consent)."""
    a, b = relays
    agent, viewer = Box(), Box()
    await a.attach_agent(INFO, agent, None)
    vid = await b.attach_viewer("s1", ENGINEER, ["view"], viewer)
    await eventually(lambda: "consent.request" in agent.types())
    await b.close()  # the viewer's process is gone: no detach, no heartbeat
    t0 = time.monotonic()

    async def left() -> bool:
        await a.tick()  # the home's liveness check runs on its tick
        return "viewer.left" in agent.types()

    await eventually(left, timeout=5, interval=0.05, what="the silent viewer detached")
    assert time.monotonic() - t0 < 3
    session = a.core.get("s1")
    assert session is not None and vid not in session.viewer_ids


@pytest.fixture
async def claiming(
    nats_url: str, database_url: str
) -> AsyncIterator[tuple[NatsRelay, NatsRelay, Any]]:
    """Two relays whose homes are claimed in one real store (as two nodes do)."""
    from broker.store import cluster_models
    from broker.store.db import Database

    dbs = [Database.open(database_url), Database.open(database_url)]
    await dbs[0].migrate()

    async def persist(action: Any) -> None:
        return None

    async def load_info(sid: str) -> SessionInfo | ProtocolError:
        return INFO

    async def stored_state(sid: str) -> str | None:
        return "requested"

    def make(node: str, db: Database) -> Any:
        async def claim(sid: str, takeover_from: str | None) -> str:
            return await cluster_models.claim_home(
                db, sid, node, None, at=1, takeover_from=takeover_from
            )

        async def release(sid: str) -> None:
            await cluster_models.release_home(db, sid, node)

        return NatsRelay.connect(
            nats_url,
            log_factory=lambda info: MemoryLog(),
            now_ms=lambda: int(time.time() * 1000),
            persist=persist,
            node_id=node,
            load_info=load_info,
            stored_state=stored_state,
            claim=claim,
            release=release,
        )

    a, b = await make("a", dbs[0]), await make("b", dbs[1])
    a.start()
    b.start()
    yield a, b, dbs[0]
    for relay in (a, b):
        await relay.shutdown()
        await relay.close()
    for db in dbs:
        await db.close()


async def test_two_processes_racing_for_one_session_run_one_core(
    claiming: tuple[NatsRelay, NatsRelay, Any],
) -> None:
    """The agent's first connection seen by two processes at once (a reconnect race):
    the claim in the store lets exactly one become the home; the other attaches
    through it. Without the claim both would run a core and split the session."""
    from broker.store import cluster_models

    a, b, db = claiming
    first, second = Box(), Box()
    await asyncio.gather(a.attach_agent(INFO, first, None), b.attach_agent(INFO, second, None))
    homes = [r.node_id for r in (a, b) if r.core.get("s1") is not None]
    assert len(homes) == 1, homes
    home = await cluster_models.get_home(db, "s1")
    assert home is not None and home.node_id == homes[0]
    # The other process reaches the one core: a viewer there is asked about by it.
    other = b if homes == ["a"] else a
    viewer = Box()
    await other.attach_viewer("s1", ENGINEER, ["view"], viewer)
    await eventually(lambda: "welcome" in viewer.types())
    # The session closes at its home: the claim is released.
    winner = a if homes == ["a"] else b
    await winner.end_session("s1", reason="ended_by_engineer", by="Eve", resolution="done")
    await eventually(lambda: "session.ended" in viewer.types())
    await a.detach_agent("s1", first)  # their sockets close after session.ended
    await b.detach_agent("s1", second)

    async def released() -> bool:
        await winner.tick()  # the relay's timers close the ended session's core
        return await cluster_models.get_home(db, "s1") is None

    await eventually(released, what="the claim released")
