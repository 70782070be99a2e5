"""``GET /api/v1/agent/log?after=N``: after the end, the agent fetches the log records
it missed and the final signed checkpoint (issue 13, G10), so the client's kept copy
ends complete and signed whenever the broker is reachable again.

Authenticated like the rating: an ``agent`` token of the session (its expiry is not
checked; the window is bounded by the session's end, :data:`AGENT_LOG_WINDOW_S`).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from broker.api.body import Query
from broker.auth.setup import TOKENS
from broker.auth.tokens import AuthError
from broker.clock import CLOCK
from broker.config import CONFIG
from broker.errors import Conflict, Gone, Unauthorized
from broker.session_log import session_dir
from broker.store import queries
from broker.store.db import DB

__all__ = ["AGENT_LOG_WINDOW_S", "agent_log"]

AGENT_LOG_WINDOW_S = 7 * 24 * 3600
"""How long after the end an agent may fetch its session's log (a week)."""


def _lines(path: Any) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text("utf-8").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a torn last line: not a record anyone was told of
        if isinstance(value, dict):
            out.append(value)
    return out


async def agent_log(request: web.Request) -> web.Response:
    """The session's log records after ``after`` and its last signed checkpoint."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <agent token>'")
    try:
        claims = request.app[TOKENS].verify(token.strip(), "agent", allow_expired=True)
    except AuthError as exc:
        raise Unauthorized(exc.message) from None
    assert claims.sid is not None
    after = Query(request, {"after"}).integer("after", default=0, low=0, high=2**53 - 1)
    session = await queries.get_session(request.app[DB], claims.sid)
    if session is None:
        raise Unauthorized("the token's session does not exist")
    if session.state != "ended" or session.ended_at_ms is None:
        raise Conflict("the session has not ended; its connection carries the log")
    if request.app[CLOCK].now_ms() - session.ended_at_ms > AGENT_LOG_WINDOW_S * 1000:
        raise Gone("the time to fetch this session's log is over")
    folder = session_dir(request.app[CONFIG].data_dir, session.id)
    records = _lines(folder / "log.jsonl")  # none: the agent never connected
    checkpoints = _lines(folder / "checkpoints.jsonl")
    return web.json_response(
        {
            "session_id": session.id,
            "records": [r for r in records if isinstance(r.get("seq"), int) and r["seq"] > after],
            "checkpoint": checkpoints[-1] if checkpoints else None,
        }
    )
