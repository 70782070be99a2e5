"""After the end, complete the client's copy of the log over REST (issue 13, G10).

The connection may have died before the last records and the final checkpoint arrived
(a kill while the broker hung, an outage). ``GET /api/v1/agent/log?after=N`` with the
session's agent token returns what is missing; the records are merged into the copy in
seq order and the checkpoint kept, so the copy ends complete and signed whenever the
broker is reachable again (for a week after the end).
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

import aiohttp

from agent.locallog import LocalLog

__all__ = ["complete_log", "missing_after"]

log = logging.getLogger(__name__)


def missing_after(local: LocalLog, checkpoint: dict[str, Any] | None) -> int | None:
    """The seq after which the copy is incomplete (None: complete and sealed)."""
    seqs = sorted(r["seq"] for r in local.broker_records if isinstance(r.get("seq"), int))
    contiguous = 0
    for s in seqs:
        if s != contiguous + 1:
            break
        contiguous = s
    sealed = checkpoint.get("seq") if isinstance(checkpoint, dict) else None
    if contiguous == len(seqs) and isinstance(sealed, int) and sealed <= contiguous:
        return None
    return contiguous


async def complete_log(
    local: LocalLog,
    checkpoint: dict[str, Any] | None,
    broker_url: str,
    ssl_ctx: ssl.SSLContext,
    token: str,
    timeout_s: float,
) -> dict[str, Any] | None:
    """Fetch what the copy lacks; return the newest checkpoint (the one given when
    nothing could be fetched). Never raises: the verification says what is missing."""
    after = missing_after(local, checkpoint)
    if after is None:
        return checkpoint
    url = broker_url.rstrip("/") + f"/api/v1/agent/log?after={after}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http,
            http.get(url, ssl=ssl_ctx, headers={"Authorization": f"Bearer {token}"}) as resp,
        ):
            data = await resp.json(content_type=None)
            if resp.status != 200 or not isinstance(data, dict):
                log.info("the broker did not give the rest of the log: HTTP %s", resp.status)
                return checkpoint
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.info("the rest of the log could not be fetched: %s", exc)
        return checkpoint
    records = [r for r in data.get("records") or [] if isinstance(r, dict)]
    local.merge_broker(records)
    fetched = data.get("checkpoint")
    if isinstance(fetched, dict):
        local.save_checkpoint(fetched)
        return fetched
    return checkpoint
