"""Half-open links are noticed by both ends within DEAD_LINK_S (P10, issue 13 finding 2).

A TCP proxy the test controls sits between the agent and the real broker: ``half_open``
stops forwarding without closing anything (what a dead NAT or a pulled cable looks like),
``cut`` closes both sockets, ``delay_s`` slows every byte. Measured: the time from the
fault to the broker dropping the agent, and to the agent giving up its connection.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from broker.relay.control import RELAY
from broker.testing import running_broker
from protocol.limits import DEAD_LINK_S
from protocol.messages import Chat
from tests.agent.conftest import live, start_agent, stop
from tests.faults import ControlledProxy
from tests.helpers import eventually


async def test_half_open_cut_and_delay(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b, ControlledProxy(b.server.port) as proxy:
        rig = start_agent(b, tmp_path, broker_url=f"https://127.0.0.1:{proxy.port}")
        try:
            await eventually(lambda: rig.session.connected, what="the agent's connection")
            viewer = await live(rig, "view")
            core = b.app[RELAY].backend.session(rig.session.session_id)
            assert core is not None

            # -- delay: a slow link is not a dead one ------------------------------------
            proxy.delay_s = 0.4
            first = rig.session.connections
            at = len(viewer.updates)
            await viewer.wait_for(lambda: len(viewer.updates) >= at + 12, timeout=20)
            assert rig.session.connections == first and core.agent_connected
            proxy.delay_s = 0.0

            # -- half-open: packets stop, nothing closes ---------------------------------
            t0 = time.monotonic()
            proxy.half_open()
            # Logged and streamed into the dead socket: must not be lost (the log resumes).
            await viewer.send(Chat(text="are you still there?"))
            broker_s = agent_s = None
            while broker_s is None or agent_s is None:
                now = time.monotonic() - t0
                assert now < DEAD_LINK_S + 2, f"not noticed: broker {broker_s}, agent {agent_s}"
                if broker_s is None and not core.agent_connected:
                    broker_s = now
                if agent_s is None and not rig.session.connected:
                    agent_s = now
                await asyncio.sleep(0.05)  # sleep-ok: sampling both clocks, not one event
            print(f"P10 half-open noticed: broker {broker_s:.1f} s, agent {agent_s:.1f} s")
            assert broker_s <= DEAD_LINK_S and agent_s <= DEAD_LINK_S

            # -- it comes back, and a cut is noticed at once -----------------------------
            proxy.forward()
            await eventually(lambda: core.agent_connected, timeout=20, what="the reconnect")
            # The agent said the last seq it held; the broker re-sent the rest, in order.
            log = rig.session.local_log
            assert log is not None
            broker_log = b.data_dir / "sessions" / rig.session.session_id / "log.jsonl"
            chat_seq = next(
                json.loads(x)["seq"]
                for x in broker_log.read_text().splitlines()
                if '"event":"chat.sent"' in x
            )
            await eventually(lambda: log.last_broker_seq >= chat_seq, what="the resent records")
            seqs = [r["seq"] for r in log.broker_records]
            assert seqs == list(range(1, len(seqs) + 1)), seqs  # complete, no gap, in order
            # ...and the chat that arrived while the agent was away is shown as chat.
            await eventually(
                lambda: ("Alice Engineer", "are you still there?") in rig.observer.chats,
                what="the chat shown",
            )
            at = len(viewer.updates)
            await viewer.wait_for(lambda: len(viewer.updates) >= at + 2, timeout=10)
            t0 = time.monotonic()
            proxy.cut()
            await eventually(lambda: not core.agent_connected, timeout=3, what="broker: cut")
            cut_s = time.monotonic() - t0
            await eventually(lambda: core.agent_connected, timeout=20, what="the reconnect")
            print(f"P10 cut noticed by the broker in {cut_s:.2f} s")
        finally:
            await stop(rig)
