"""How this broker process relays: alone (in-process) or in a cluster over NATS.

``CLEARPANE_RELAY_BACKEND=nats`` (docs/operations.md §6) makes :func:`open_backend`
return a :class:`broker.relay.nats.NatsRelay` connected to ``CLEARPANE_NATS_URL``;
otherwise the in-process default. Either way the WebSocket layer sees an
:class:`~broker.relay.backend.InProcessRelay` (the NATS one is a subclass).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web

from broker.config import CONFIG
from broker.relay import InProcessRelay, RelayTimings, SessionInfo
from broker.relay.actions import Record
from broker.relay.backend import PersistAction
from broker.relay.core import LogFactory
from broker.store import queries
from broker.store.db import DB
from broker.wsio import admission
from protocol.errors import ProtocolError

__all__ = ["close_backend", "node_id", "open_backend"]


def node_id(configured: str | None) -> str:
    """This process's name in the cluster: configured, or host name and pid."""
    return configured or f"{socket.gethostname()}-{os.getpid()}"


async def open_backend(
    app: web.Application,
    log_factory: LogFactory,
    now_ms: Callable[[], int],
    persist: Callable[[PersistAction], Awaitable[None]],
    timings: RelayTimings,
    *,
    record: Callable[[Record], bool | None],
    on_closed: Callable[[str], None],
    allow_unrecorded: bool = False,
) -> InProcessRelay:
    """The configured relay backend (the caller calls its ``start()``)."""
    config = app[CONFIG]
    if config.relay_backend != "nats":
        return InProcessRelay(
            log_factory,
            now_ms,
            persist,
            timings,
            record=record,
            on_closed=on_closed,
            allow_unrecorded=allow_unrecorded,
        )
    from broker.relay.nats import NatsRelay

    async def load_info(sid: str) -> SessionInfo | ProtocolError:
        return await admission.session_info(app, sid)

    async def stored_state(sid: str) -> str | None:
        row = await queries.get_session(app[DB], sid)
        return row.state if row is not None else None

    relay = await NatsRelay.connect(
        config.nats_url,
        log_factory=log_factory,
        now_ms=now_ms,
        persist=persist,
        timings=timings,
        node_id=node_id(config.node_id),
        load_info=load_info,
        stored_state=stored_state,
        record=record,
        on_closed=on_closed,
        allow_unrecorded=allow_unrecorded,
    )
    return relay


async def close_backend(backend: InProcessRelay) -> None:
    """Leave the cluster (after :meth:`shutdown`)."""
    close = getattr(backend, "close", None)
    if close is not None:
        await close()
