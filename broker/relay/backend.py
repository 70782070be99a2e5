"""The relay seam: :class:`RelayBackend` and its in-process default (DESIGN §8).

The WebSocket layer (:mod:`broker.ws`) never touches the core directly; it
hands what each connection said to a :class:`RelayBackend` and registers an
:class:`Endpoint` through which the backend delivers to that connection.

:class:`InProcessRelay` runs the pure :class:`broker.relay.core.RelayCore` in
this process and delivers actions to local endpoints. A multi-node backend
(NATS or Redis) implements the same methods: it runs the session's core on the
node that holds the agent and publishes the actions addressed to endpoints
connected elsewhere on a per-session subject, where the other node's backend
delivers them to its local endpoint (and forwards that endpoint's input the
other way). Nothing above this interface changes.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, Protocol

from broker.relay.actions import (
    AGENT,
    Action,
    Close,
    HandoverAnswered,
    MarkAnswered,
    MarkEnded,
    PersistState,
    Record,
    SaveRating,
    SendBinary,
    SendText,
    SessionClosed,
)
from broker.relay.core import LogFactory, RelayCore
from broker.relay.session import RelayTimings, SessionInfo, SessionRelay, ViewerUser
from protocol.errors import ErrorCode, ProtocolError
from protocol.media import BinaryMessage
from protocol.messages import ControlMessage

__all__ = ["Endpoint", "InProcessRelay", "PersistAction", "RelayBackend"]

log = logging.getLogger(__name__)

PersistAction = PersistState | MarkAnswered | MarkEnded | SaveRating | HandoverAnswered
"""Actions that change the store."""


class Endpoint(Protocol):
    """One local WebSocket as the backend sees it. Every method returns at once."""

    def send_text(self, text: str) -> None:
        """Queue a text frame (never blocks; a bounded queue closes a stalled peer)."""
        ...

    def send_binary(self, data: bytes) -> None:
        """Queue a binary frame (shared bytes; never copied)."""
        ...

    def close(self, code: int, reason: str) -> None:
        """Close after the queued frames are sent."""
        ...


class _Held:
    """Stands in for a just-attached endpoint while the attach waits for the store.

    Deliveries made meanwhile (a periodic checkpoint, a log event) are kept and
    forwarded *after* the attach's own messages, so ``welcome`` is always first.
    """

    def __init__(self) -> None:
        self._items: list[tuple[str, str | bytes | tuple[int, str]]] = []

    def send_text(self, text: str) -> None:
        self._items.append(("text", text))

    def send_binary(self, data: bytes) -> None:
        self._items.append(("binary", data))

    def close(self, code: int, reason: str) -> None:
        self._items.append(("close", (code, reason)))

    def release_into(self, endpoint: Endpoint) -> None:
        """Forward what was held, in order."""
        for kind, item in self._items:
            if kind == "text" and isinstance(item, str):
                endpoint.send_text(item)
            elif kind == "binary" and isinstance(item, bytes):
                endpoint.send_binary(item)
            elif kind == "close" and isinstance(item, tuple):
                endpoint.close(*item)
        self._items.clear()


class RelayBackend(abc.ABC):
    """What the WebSocket layer needs from a relay (in-process or distributed)."""

    @abc.abstractmethod
    async def attach_agent(
        self,
        info: SessionInfo,
        endpoint: Endpoint,
        resume_token: str | None,
        log_seq: int | None = None,
    ) -> None:
        """A verified agent connected (raises ``ProtocolError`` if it may not);
        ``log_seq``: the last log record it holds (SPEC §3.1 ``hello``)."""

    @abc.abstractmethod
    async def attach_viewer(
        self, session_id: str, user: ViewerUser, permissions: Iterable[str], endpoint: Endpoint
    ) -> str:
        """A verified viewer connected; returns its ``viewer_id`` (raises ``ProtocolError``)."""

    @abc.abstractmethod
    async def agent_control(self, session_id: str, msg: ControlMessage) -> None:
        """A control message from the session's agent."""

    @abc.abstractmethod
    async def viewer_control(self, session_id: str, viewer_id: str, msg: ControlMessage) -> None:
        """A control message from a viewer."""

    @abc.abstractmethod
    async def agent_binary(self, session_id: str, frame: BinaryMessage, data: bytes) -> None:
        """A binary frame from the agent (``data`` as received)."""

    @abc.abstractmethod
    async def viewer_binary(
        self, session_id: str, viewer_id: str, frame: BinaryMessage, data: bytes
    ) -> None:
        """A binary frame from a viewer (``data`` as received)."""

    @abc.abstractmethod
    async def detach_agent(self, session_id: str, endpoint: Endpoint) -> None:
        """The agent's WebSocket closed."""

    @abc.abstractmethod
    async def detach_viewer(self, session_id: str, viewer_id: str, reason: str) -> None:
        """A viewer's WebSocket closed."""

    @abc.abstractmethod
    async def end_session(
        self, session_id: str, *, reason: str, by: str, resolution: str | None
    ) -> bool:
        """End a session from outside (REST); False if this relay does not hold it."""

    @abc.abstractmethod
    async def tick(self) -> None:
        """Run timers (consent deadlines, checkpoints, input counts)."""

    @abc.abstractmethod
    async def request_keyframe(self, session_id: str) -> None:
        """Ask a live session's agent for a FULL update (recording seek points)."""

    async def notice(self, session_id: str, event: str, detail: dict[str, Any]) -> bool:
        """Put a broker notice in a live session's log (the client sees it); False if
        this relay does not hold the session. Backends that cannot say nothing."""
        return False

    @abc.abstractmethod
    async def shutdown(self) -> None:
        """End every live session with ``broker_shutdown``, seal logs, flush the store."""


class InProcessRelay(RelayBackend):
    """The default backend: the whole relay in this process."""

    def __init__(
        self,
        log_factory: LogFactory,
        now_ms: Callable[[], int],
        persist: Callable[[PersistAction], Awaitable[None]],
        timings: RelayTimings | None = None,
        *,
        record: Callable[[Record], bool | None] | None = None,
        on_closed: Callable[[str], None] | None = None,
        allow_unrecorded: bool = False,
    ) -> None:
        self.core = RelayCore(log_factory, timings)
        self._record = record
        self.allow_unrecorded = allow_unrecorded
        self._on_closed = on_closed
        self._now_ms = now_ms
        self._persist = persist
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        self._store_queue: asyncio.Queue[PersistAction | asyncio.Event | None] = asyncio.Queue()
        self._store_task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Start the store writer (store changes are applied in order)."""
        if self._store_task is None:
            self._store_task = asyncio.get_running_loop().create_task(self._store_writer())

    async def _store_writer(self) -> None:
        while True:
            item = await self._store_queue.get()
            if item is None:
                return
            if isinstance(item, asyncio.Event):
                item.set()
                continue
            try:
                await self._persist(item)
            except Exception:  # the store must not take the relay down
                log.exception("store update failed: %s", type(item).__name__)

    async def flush_store(self) -> None:
        """Wait until every queued store change has been applied (in order)."""
        if self._store_task is None or self._store_task.done():
            while not self._store_queue.empty():
                item = self._store_queue.get_nowait()
                if item is not None and not isinstance(item, asyncio.Event):
                    await self._persist(item)
            return
        done = asyncio.Event()
        await self._store_queue.put(done)
        await done.wait()

    # -- RelayBackend --------------------------------------------------------------

    async def attach_agent(
        self,
        info: SessionInfo,
        endpoint: Endpoint,
        resume_token: str | None,
        log_seq: int | None = None,
    ) -> None:
        """See :meth:`RelayBackend.attach_agent`."""
        now = self._now_ms()
        session = self.core.open(info)
        old = self._endpoints.get((info.session_id, AGENT))
        if old is not None and old is not endpoint:
            old.close(1008, "replaced by a new agent connection")
        held = _Held()
        self._endpoints[(info.session_id, AGENT)] = held
        try:
            actions = self.core.run(
                session, lambda: session.attach_agent(now, resume_token, log_seq), now
            )
        except ProtocolError:
            self._endpoints.pop((info.session_id, AGENT), None)
            raise
        await self._execute_stored_first(actions, ((info.session_id, AGENT), held, endpoint))

    async def attach_viewer(
        self, session_id: str, user: ViewerUser, permissions: Iterable[str], endpoint: Endpoint
    ) -> str:
        """See :meth:`RelayBackend.attach_viewer`."""
        now = self._now_ms()
        session = self._session(session_id)
        result: list[str] = []
        held = _Held()

        def step() -> list[Action]:
            viewer_id, actions = session.attach_viewer(user, permissions, now)
            result.append(viewer_id)
            self._endpoints[(session_id, viewer_id)] = held
            return actions

        actions = self.core.run(session, step, now)
        hold = ((session_id, result[0]), held, endpoint) if result else None
        await self._execute_stored_first(actions, hold)
        if not result:
            raise ProtocolError(ErrorCode.SESSION_ENDED, "the session failed", 4000)
        return result[0]

    async def agent_control(self, session_id: str, msg: ControlMessage) -> None:
        """See :meth:`RelayBackend.agent_control`."""
        now = self._now_ms()
        session = self.core.get(session_id)
        if session is not None:
            self._execute(self.core.run(session, lambda: session.agent_control(msg, now), now))

    async def viewer_control(self, session_id: str, viewer_id: str, msg: ControlMessage) -> None:
        """See :meth:`RelayBackend.viewer_control`."""
        now = self._now_ms()
        session = self.core.get(session_id)
        if session is not None:
            self._execute(
                self.core.run(session, lambda: session.viewer_control(viewer_id, msg, now), now)
            )

    async def agent_binary(self, session_id: str, frame: BinaryMessage, data: bytes) -> None:
        """See :meth:`RelayBackend.agent_binary`."""
        now = self._now_ms()
        session = self.core.get(session_id)
        if session is not None:
            self._execute(
                self.core.run(session, lambda: session.agent_binary(frame, data, now), now)
            )

    async def viewer_binary(
        self, session_id: str, viewer_id: str, frame: BinaryMessage, data: bytes
    ) -> None:
        """See :meth:`RelayBackend.viewer_binary`."""
        now = self._now_ms()
        session = self.core.get(session_id)
        if session is not None:
            self._execute(
                self.core.run(
                    session, lambda: session.viewer_binary(viewer_id, frame, data, now), now
                )
            )

    async def detach_agent(self, session_id: str, endpoint: Endpoint) -> None:
        """See :meth:`RelayBackend.detach_agent`."""
        if self._endpoints.get((session_id, AGENT)) is not endpoint:
            return  # an old, replaced connection
        del self._endpoints[(session_id, AGENT)]
        now = self._now_ms()
        session = self.core.get(session_id)
        if session is not None:
            self._execute(self.core.run(session, lambda: session.detach_agent(now), now))

    async def detach_viewer(self, session_id: str, viewer_id: str, reason: str) -> None:
        """See :meth:`RelayBackend.detach_viewer`."""
        self._endpoints.pop((session_id, viewer_id), None)
        now = self._now_ms()
        session = self.core.get(session_id)
        if session is not None:
            self._execute(
                self.core.run(session, lambda: session.detach_viewer(viewer_id, now, reason), now)
            )

    async def end_session(
        self, session_id: str, *, reason: str, by: str, resolution: str | None
    ) -> bool:
        """See :meth:`RelayBackend.end_session`."""
        now = self._now_ms()
        session = self.core.get(session_id)
        if session is None or session.machine.ended:
            return False
        self._execute(self.core.run(session, lambda: session.end(reason, by, resolution, now), now))
        return True

    async def tick(self) -> None:
        """See :meth:`RelayBackend.tick`."""
        self._execute(self.core.tick(self._now_ms()))

    async def request_keyframe(self, session_id: str) -> None:
        """See :meth:`RelayBackend.request_keyframe`."""
        now = self._now_ms()
        session = self.core.get(session_id)
        if session is not None:
            self._execute(self.core.run(session, lambda: session.request_keyframe(now), now))

    async def notice(self, session_id: str, event: str, detail: dict[str, Any]) -> bool:
        """See :meth:`RelayBackend.notice`."""
        now = self._now_ms()
        session = self.core.get(session_id)
        if session is None or session.machine.ended:
            return False
        self._execute(self.core.run(session, lambda: session.notice(event, detail, now), now))
        return True

    def recording_changed(self, session_id: str, ok: bool) -> None:
        """The recorder could not write ``session_id``'s recording (``ok`` False) or can
        again: the session pauses its screen updates (fail closed, G10) or resumes."""
        now = self._now_ms()
        session = self.core.get(session_id)
        if session is not None:
            step = partial(session.recording_changed, ok, now, allowed=self.allow_unrecorded)
            self._execute(self.core.run(session, step, now))

    async def shutdown(self) -> None:
        """See :meth:`RelayBackend.shutdown`."""
        self._execute(self.core.shutdown(self._now_ms()))
        await self.flush_store()
        if self._store_task is not None:
            await self._store_queue.put(None)
            await self._store_task
            self._store_task = None

    # -- helpers ---------------------------------------------------------------

    def agent_endpoint(self, session_id: str) -> Endpoint | None:
        """The agent's socket of ``session_id`` on this node once its attach finished
        (None while absent or still attaching)."""
        endpoint = self._endpoints.get((session_id, AGENT))
        return None if isinstance(endpoint, _Held) else endpoint

    def session(self, session_id: str) -> SessionRelay | None:
        """The core of a live session (for the REST API and tests)."""
        return self.core.get(session_id)

    def _session(self, session_id: str) -> SessionRelay:
        session = self.core.get(session_id)
        if session is None:
            raise ProtocolError(ErrorCode.WRONG_STATE, "the client is not connected", 1013)
        return session

    async def _execute_stored_first(
        self,
        actions: list[Action],
        hold: tuple[tuple[str, str], _Held, Endpoint] | None = None,
    ) -> None:
        """Apply the store changes, then deliver: whoever hears of a join (the
        agent, the REST API) then finds it stored (who answered, the state).

        ``hold`` is a just-attached endpoint that a :class:`_Held` stood in for
        while the store was written: its own messages (``welcome`` first) go out
        before anything delivered to it meanwhile.
        """
        for action in actions:
            if isinstance(
                action, PersistState | MarkAnswered | MarkEnded | SaveRating | HandoverAnswered
            ):
                self._store_queue.put_nowait(action)
        await self.flush_store()
        if hold is None:
            self._execute(actions, store=False)
            return
        key, held, endpoint = hold
        if self._endpoints.get(key) is held:  # not closed or replaced meanwhile
            self._endpoints[key] = endpoint
        for action in actions:  # the attach's own messages go to the real socket
            if (
                isinstance(action, SendText | SendBinary | Close)
                and (
                    action.session_id,
                    action.to,
                )
                == key
            ):
                if isinstance(action, SendText):
                    endpoint.send_text(action.text)
                elif isinstance(action, SendBinary):
                    endpoint.send_binary(action.data)
                else:
                    endpoint.close(action.code, action.reason)
        self._execute(
            [
                a
                for a in actions
                if not (
                    isinstance(a, SendText | SendBinary | Close) and (a.session_id, a.to) == key
                )
            ],
            store=False,
        )
        held.release_into(endpoint)

    def _execute(self, actions: list[Action], *, store: bool = True) -> None:
        unrecorded: set[str] = set()  # sessions whose update could not be recorded
        failed: set[str] = set()
        for action in actions:
            if isinstance(action, SendBinary) and action.update and action.session_id in unrecorded:
                continue  # G10 fail closed: an update not recorded is not relayed
            if isinstance(action, SendText):
                ep = self._endpoints.get((action.session_id, action.to))
                if ep is not None:
                    ep.send_text(action.text)
            elif isinstance(action, SendBinary):
                ep = self._endpoints.get((action.session_id, action.to))
                if ep is not None:
                    ep.send_binary(action.data)
            elif isinstance(action, Close):
                ep = self._endpoints.get((action.session_id, action.to))
                if ep is not None:
                    ep.close(action.code, action.reason)
            elif isinstance(action, Record):
                recorded = self._record is None or self._record(action) is not False
                if not recorded:
                    failed.add(action.session_id)
                    if not self.allow_unrecorded:
                        unrecorded.add(action.session_id)
            elif isinstance(action, SessionClosed):
                for key in [k for k in self._endpoints if k[0] == action.session_id]:
                    del self._endpoints[key]
                if self._on_closed is not None:
                    self._on_closed(action.session_id)
            elif store:
                self._store_queue.put_nowait(action)
        for sid in failed:  # pause the session (or note it goes on unrecorded), once
            session = self.core.get(sid)
            if session is not None and session.recording_since_ms is None:
                self.recording_changed(sid, False)
