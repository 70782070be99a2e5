"""How this broker process relays: alone (in-process) or in a cluster over NATS.

``CLEARPANE_RELAY_BACKEND=nats`` (docs/operations.md §6) makes :func:`open_backend`
return a :class:`broker.relay.nats.NatsRelay` connected to ``CLEARPANE_NATS_URL``;
otherwise the in-process default. Either way the WebSocket layer sees an
:class:`~broker.relay.backend.InProcessRelay` (the NATS one is a subclass).

In a cluster, :func:`viewer_ws_url` is where a viewer's join sends its WebSocket: the
node holding the session (its ``CLEARPANE_NODE_URL``, from the claim in the shared
store) so that the session's frames stay in one process; the load balancer's own
address when that is unknown (the NATS path then carries the frames).
:func:`relay_healthy` is False while this process is cut off from NATS (the health
check answers 503 and HAProxy takes the node out of rotation).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from broker.config import CONFIG
from broker.middleware import CONNECT_ORIGINS
from broker.relay import InProcessRelay, RelayTimings, SessionInfo
from broker.relay.actions import Record
from broker.relay.backend import PersistAction
from broker.relay.control import RELAY
from broker.relay.core import LogFactory
from broker.store import cluster_models, queries
from broker.store.db import DB
from broker.wsio import admission
from protocol.errors import ProtocolError

__all__ = [
    "close_backend",
    "node_id",
    "open_backend",
    "relay_healthy",
    "this_node",
    "viewer_ws_url",
    "ws_origin",
]


def ws_origin(url: str) -> str:
    """``https://host:port/…`` → ``wss://host:port`` (``http`` → ``ws``)."""
    scheme, _, rest = url.partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest.split("/", 1)[0]


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

    db, me = app[DB], node_id(config.node_id)

    async def claim(sid: str, takeover_from: str | None) -> str:
        return await cluster_models.claim_home(
            db, sid, me, config.node_url, at=now_ms(), takeover_from=takeover_from
        )

    async def release(sid: str) -> None:
        await cluster_models.release_home(db, sid, me)

    origins = app[CONNECT_ORIGINS]

    def on_node_url(url: str) -> None:
        if url.startswith(("https://", "http://")):
            origins.add(ws_origin(url))

    relay = await NatsRelay.connect(
        config.nats_url,
        log_factory=log_factory,
        now_ms=now_ms,
        persist=persist,
        timings=timings,
        node_id=me,
        claim=claim,
        release=release,
        node_url=config.node_url,
        on_node_url=on_node_url,
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


async def viewer_ws_url(request: web.Request, session_id: str) -> str:
    """Where the viewer of ``session_id`` opens its WebSocket (module docstring)."""
    scheme = "wss" if request.scheme == "https" or not request.app[CONFIG].insecure_http else "ws"
    here = f"{scheme}://{request.host}/ws/viewer"
    if request.app[CONFIG].relay_backend != "nats":
        return here
    home = await cluster_models.get_home(request.app[DB], session_id)
    if home is None or not home.node_url:
        return here
    backend = _running_backend(request.app)
    alive = getattr(backend, "node_alive", None)
    # (A fenced process hears nobody: it cannot judge; the claim in the store stands.)
    if alive is not None and not getattr(backend, "fenced", False) and not alive(home.node_id):
        return here  # its node is gone: the session is being ended; NATS says so
    return ws_origin(home.node_url) + "/ws/viewer"


def this_node(app: web.Application) -> str | None:
    """This process's node id in a cluster (None for one broker)."""
    node = getattr(_running_backend(app), "node_id", None)
    return node if isinstance(node, str) else None


def relay_healthy(app: web.Application) -> bool:
    """False while this process is cut off from the cluster's NATS (fenced)."""
    return not getattr(_running_backend(app), "fenced", False)


def _running_backend(app: web.Application) -> Any:
    """The relay backend while it runs, else None."""
    service = app.get(RELAY)
    try:
        return getattr(service, "backend", None)
    except RuntimeError:  # not running yet or any more
        return None
