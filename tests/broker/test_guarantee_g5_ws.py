"""G5 (a killed session cannot be resumed) at the WebSocket door.

Written by the guarantee verifier (docs/GUARANTEES.md): removing the store check in
``broker.ws`` (``row.state == "ended"`` → refuse) let every other broker test pass,
because those tests end sessions through the running relay, which also remembers
them in memory. After a broker restart only the store knows: an agent (or viewer)
holding a still-valid token for an ended session must be refused with
``session_ended`` and close code 4000, and the session must stay ended.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from broker.store import queries
from broker.store.db import DB
from broker.testing import running_broker
from protocol import messages as m


async def test_an_agent_token_for_a_session_ended_in_the_store_is_refused(
    tmp_path: Path,
) -> None:
    async with running_broker(tmp_path) as b:
        status, body, _ = await b.request(
            "POST",
            "/api/v1/agent/requests",
            json={"description": "Screen flickers", "client_name": "Alice"},
        )
        assert status == 201, body
        sid, token = body["session_id"], body["token"]
        db = b.app[DB]
        await queries.mark_ended(db, sid, "killed_by_client", at=1)  # e.g. before a restart

        async with connect(
            b.ws_url + "/ws/agent",
            ssl=b.ssl_context(),
            subprotocols=[Subprotocol("clearpane.v1")],
            open_timeout=5,
            close_timeout=2,
        ) as ws:
            await ws.send(m.serialize_control(m.Hello(token=token, client="test-agent/0.1")))
            seen: list[m.ControlMessage] = []
            async with asyncio.timeout(5):
                try:
                    while True:
                        raw = await ws.recv()
                        if isinstance(raw, str):
                            seen.append(m.parse_control(raw))
                except ConnectionClosed as exc:
                    assert exc.rcvd is not None
                    code = exc.rcvd.code
        assert code == 4000
        assert [x.code for x in seen if isinstance(x, m.ErrorMessage)] == ["session_ended"]
        assert not any(x.type == "welcome" for x in seen)
        row = await queries.get_session(db, sid)
        assert row is not None and row.state == "ended"
