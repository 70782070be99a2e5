"""Liveness of the NATS relay: heartbeats, node failure and fencing (issue 15).

:class:`LinkedRelay` is the state and the timers :class:`~broker.relay.nats.NatsRelay`
builds on: every process publishes ``cp.hb.<node>`` every :data:`HEARTBEAT_S` and
listens to everyone's (its own included).

* A home silent for :data:`HOME_TIMEOUT_S`: the endpoints held here for its sessions are
  told ``session.ended`` (``failed``) and the session is ended from the shared store
  (:meth:`LinkedRelay._end_orphan`).
* A process holding endpoints of a session homed here, silent as long: those endpoints
  are detached (a viewer leaves with its consent; an agent is gone).
* Our own heartbeat silent for :data:`FENCE_S`: this process lost NATS and **fences**
  itself (:meth:`LinkedRelay._fence`): the WebSockets held here for sessions homed
  elsewhere are closed with :data:`RETRY_CLOSE` (the client reconnects through the load
  balancer to a healthy process); sessions homed here with endpoints elsewhere are ended
  cleanly (those endpoints' processes tell them ``failed``); new attaches that need the
  other processes are refused, and the health check answers 503, until the link is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from broker.relay.actions import AGENT, Record
from broker.relay.backend import InProcessRelay, PersistAction
from broker.relay.base import BROKER
from broker.relay.core import LogFactory
from broker.relay.nats import wire
from broker.relay.nats.remote import Attachment, Outbox, RemoteEndpoint
from broker.relay.session import RelayTimings, SessionInfo
from protocol import messages as m
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import serialize_control

__all__ = [
    "FENCE_S",
    "HEARTBEAT_S",
    "HOME_TIMEOUT_S",
    "LINK_LOST",
    "NODE_FAILED",
    "RETRY_CLOSE",
    "LinkedRelay",
    "Served",
]

log = logging.getLogger(__name__)

HEARTBEAT_S = 0.5
HOME_TIMEOUT_S = 3.0
"""Silence after which a session's home counts as failed."""
FENCE_S = 2.0
"""Silence of our own heartbeat after which this process counts as cut off from NATS
(shorter than :data:`HOME_TIMEOUT_S`: it fences itself before the others give up on it)."""
CLAIM_WAIT_S = 5.0
"""How long a process that lost a claim waits for the winner to answer."""
LINK_LOST = "the broker process holding the session lost its link to the other processes"
RETRY_CLOSE = 1013
"""Close code "try again later": the client reconnects through the load balancer."""
REQUEST_TIMEOUT_S = 5.0
NODE_FAILED = "the broker process holding the session failed"
FIRST_STATES = frozenset({"requested"})
"""Stored states of a session no process has held yet (its agent's first connection)."""

LoadInfo = Callable[[str], Awaitable[SessionInfo | ProtocolError]]
StoredState = Callable[[str], Awaitable[str | None]]
Claim = Callable[[str, str | None], Awaitable[str]]
"""``claim(session_id, takeover_from)`` → the node holding the session afterwards."""
Release = Callable[[str], Awaitable[None]]


class Served:
    """On the home: the session's subscriptions and its remote endpoints by id."""

    def __init__(self) -> None:
        self.subs: list[Any] = []
        self.eps: dict[str, tuple[str, RemoteEndpoint, str]] = {}
        """Endpoint id → (``agent`` or viewer id, its endpoint, the node holding it)."""


class LinkedRelay(InProcessRelay):
    """The cluster state of one process and its liveness timers (module docstring)."""

    def __init__(
        self,
        log_factory: LogFactory,
        now_ms: Callable[[], int],
        persist: Callable[[PersistAction], Awaitable[None]],
        timings: RelayTimings | None = None,
        *,
        nc: Any,
        node_id: str,
        load_info: LoadInfo,
        stored_state: StoredState,
        record: Callable[[Record], bool | None] | None = None,
        on_closed: Callable[[str], None] | None = None,
        allow_unrecorded: bool = False,
        heartbeat_s: float = HEARTBEAT_S,
        home_timeout_s: float = HOME_TIMEOUT_S,
        fence_s: float = FENCE_S,
        claim: Claim | None = None,
        release: Release | None = None,
        node_url: str | None = None,
        on_node_url: Callable[[str], None] | None = None,
    ) -> None:
        self._user_closed = on_closed
        self.heartbeat_s = heartbeat_s
        self.node_timeout_s = home_timeout_s
        super().__init__(
            log_factory,
            now_ms,
            persist,
            timings,
            record=record,
            on_closed=self._session_closed,
            allow_unrecorded=allow_unrecorded,
        )
        self._nc = nc
        self.node_id = node_id
        self._load_info = load_info
        self._stored_state = stored_state
        self._outbox = Outbox(nc)
        self._served: dict[str, Served] = {}
        self._attached: dict[tuple[str, str], Attachment] = {}
        self._seen: dict[str, float] = {}
        self._ending: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._hb_sub: Any = None
        self._hb_task: asyncio.Task[None] | None = None
        self._claim = claim
        self._release = release
        self.node_url = node_url
        self._on_node_url = on_node_url
        self.fence_s = fence_s
        self.fenced = False
        """True while this process is cut off from NATS (see the module docstring)."""
        self._started = time.monotonic()
        self._self_seen = self._started

    def _session_closed(self, sid: str) -> None:
        """A session's core closed here (the subclass also leaves its subjects)."""
        if self._user_closed is not None:
            self._user_closed(sid)

    async def tick(self) -> None:
        """Timers of the sessions homed here, our link, and the heartbeats of others."""
        await super().tick()
        await self._check_link()
        now = time.monotonic()
        for key, att in list(self._attached.items()):
            if now - self._seen.get(wire.token(att.home), 0.0) > self.node_timeout_s:
                self._home_lost(key, att)
        for sid, served in list(self._served.items()):
            for ep, (to, remote, node) in list(served.eps.items()):
                if now - self._seen.get(wire.token(node), 0.0) > self.node_timeout_s:
                    # The process holding this WebSocket is gone: it will never say
                    # detach, and a ghost viewer must not keep its consent (G2).
                    log.warning("session %s: %s's node %s is gone; detaching", sid, to, node)
                    served.eps.pop(ep, None)
                    if to == AGENT:
                        await InProcessRelay.detach_agent(self, sid, remote)
                    else:
                        await InProcessRelay.detach_viewer(self, sid, to, "disconnected")

    def node_alive(self, node: str) -> bool:
        """Whether ``node``'s heartbeat was heard lately (unknown nodes count as alive
        until this process has listened for a whole timeout)."""
        now = time.monotonic()
        seen = self._seen.get(wire.token(node))
        if seen is None:
            return now - self._started < self.node_timeout_s
        return node == self.node_id or now - seen <= self.node_timeout_s

    def _refuse_if_fenced(self) -> None:
        if self.fenced:
            raise ProtocolError(
                ErrorCode.SHUTTING_DOWN,
                "this broker process lost its link to the others; reconnect",
                RETRY_CLOSE,
            )

    async def _heartbeat(self) -> None:
        subject = wire.heartbeat(self.node_id)
        body = (self.node_url or "").encode()
        while True:
            with contextlib.suppress(Exception):
                await self._nc.publish(subject, body)
            await asyncio.sleep(self.heartbeat_s)

    async def _on_heartbeat(self, msg: Any) -> None:
        node = msg.subject.rsplit(".", 1)[-1]
        now = time.monotonic()
        self._seen[node] = now
        if node == wire.token(self.node_id):
            self._self_seen = now
        if msg.data and self._on_node_url is not None:
            self._on_node_url(msg.data.decode(errors="replace"))

    async def _check_link(self) -> None:
        """Fence this process while its own heartbeat does not come back (NATS lost)."""
        cut_off = time.monotonic() - self._self_seen > self.fence_s
        if cut_off and not self.fenced:
            self.fenced = True
            log.error("lost the NATS link for %.1f s: fencing this process", self.fence_s)
            await self._fence()
        elif not cut_off and self.fenced:
            self.fenced = False
            log.warning("the NATS link is back: serving again")

    async def _fence(self) -> None:
        """Close what needs the other processes; end what they can no longer reach."""
        for key, att in list(self._attached.items()):
            del self._attached[key]
            att.endpoint.close(RETRY_CLOSE, "the broker lost its link to the cluster; reconnect")
            if att.sub is not None:
                self._spawn(att.sub.unsubscribe())
        for sid, served in list(self._served.items()):
            if served.eps and self.core.get(sid) is not None:
                served.eps.clear()  # unreachable now: their processes tell them "failed"
                await InProcessRelay.end_session(
                    self, sid, reason="failed", by=BROKER, resolution=LINK_LOST
                )
        await self.flush_store()

    def _home_lost(self, key: tuple[str, str], att: Attachment) -> None:
        """The session's home went silent: tell the local WebSocket, end the session."""
        sid = att.session_id
        log.warning("session %s: its home %s is gone; ending the session", sid, att.home)
        del self._attached[key]
        att.endpoint.send_text(serialize_control(m.SessionEnded(reason="failed", by=BROKER)))
        att.endpoint.close(4000, "session ended: its broker node failed")
        if att.sub is not None:
            self._spawn(att.sub.unsubscribe())
        self._spawn(self._end_orphan(sid))

    async def _end_orphan(self, sid: str) -> None:
        """End a session whose home is gone: log, seal and store the end here."""
        if sid in self._ending or self.core.get(sid) is not None:
            return
        self._ending.add(sid)
        try:
            info = await self._load_info(sid)
            if isinstance(info, ProtocolError):
                return  # already ended in the store
            now = self._now_ms()
            try:
                session = self.core.open(info)
            except (ProtocolError, OSError) as exc:  # sealed, or its writer is still alive
                log.info("session %s: not taken over: %s", sid, exc)
                return
            self._execute(
                self.core.run(session, lambda: session.end("failed", BROKER, NODE_FAILED, now), now)
            )
            await self.flush_store()
            log.warning("session %s: ended here (%s)", sid, NODE_FAILED)
        finally:
            self._ending.discard(sid)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
