"""The in-process relay backend: deliveries around a slow store keep ``welcome`` first."""

from __future__ import annotations

import asyncio
import json

from broker.relay.backend import InProcessRelay
from broker.relay.base import RelayTimings, SessionInfo
from broker.relay.testing import MemoryLog


class RecordingEndpoint:
    """An endpoint that keeps what it was sent, in order."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.closed: tuple[int, str] | None = None

    def send_text(self, text: str) -> None:
        self.texts.append(text)

    def send_binary(self, data: bytes) -> None:
        self.texts.append(f"<binary {len(data)}>")

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def types(self) -> list[str]:
        return [json.loads(t)["type"] for t in self.texts if not t.startswith("<")]


async def test_welcome_precedes_anything_delivered_while_the_store_is_slow() -> None:
    # On a slow store (PostgreSQL under load) a periodic checkpoint fired while
    # the attach waited for the store and reached the agent before `welcome`.
    now = [1_700_000_000_000]
    gate = asyncio.Event()
    waiting = asyncio.Event()
    log = MemoryLog()

    async def slow_persist(action: object) -> None:
        waiting.set()
        await gate.wait()

    backend = InProcessRelay(
        lambda info: log, lambda: now[0], slow_persist, RelayTimings(checkpoint_interval_ms=10)
    )
    backend.start()
    agent = RecordingEndpoint()
    info = SessionInfo("s1", "t1", "Printer is broken", "Alice Client")
    attach = asyncio.create_task(backend.attach_agent(info, agent, None))
    await asyncio.wait_for(waiting.wait(), 5)  # the attach now waits for the store
    now[0] += 1_000
    await backend.tick()  # a checkpoint is due meanwhile
    gate.set()
    await asyncio.wait_for(attach, 5)
    types = agent.types()
    assert types[0] == "welcome", types
    assert "checkpoint" in types, "what was delivered meanwhile is not lost"
    await backend.shutdown()
