"""WebSocket endpoints ``/ws/agent`` and ``/ws/viewer`` (SPEC §1, §3.1, §7).

A thin loop over aiohttp's public API around one :class:`protocol.Connection`
per socket, which holds the connection rules (``hello`` first and once, the
handshake timeout, limits, rate limits, error → close code and reason). Frames go
in, events come out: a ``hello`` is checked (:mod:`broker.wsio.admission`), then
every control message and binary frame goes to the :class:`broker.relay.RelayBackend`
(the in-process default here); what the connection wants sent or closed goes out
through the peer's :class:`broker.wsio.WsEndpoint`, whose own task writes it, so
sending never blocks a reader. Nothing a peer sends raises out of a handler.

``setup(app)`` adds the routes, ``app[RELAY]`` (a :class:`RelayService`, which
the REST end endpoint calls), a cleanup context that runs the relay's timers
and store writer, and an ``on_shutdown`` hook that ends live sessions with
``broker_shutdown``, seals their logs and closes every socket with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from broker import queue_notice
from broker.auth.policy import client_address
from broker.auth.setup import TOKENS
from broker.auth.tokens import Claims
from broker.clock import CLOCK
from broker.cluster import close_backend, open_backend
from broker.config import CONFIG
from broker.pki import PKI
from broker.relay import InProcessRelay, RelayTimings, SessionInfo, ViewerUser
from broker.relay.actions import EventLog
from broker.relay.backend import PersistAction
from broker.relay.control import RELAY
from broker.relay.handover import handover_from_claims
from broker.session_log import SessionLog
from broker.store.db import DB
from broker.webhooks.relay_events import observe
from broker.wsio import admission
from broker.wsio.peer import Peer, now_ms
from broker.wsio.persist import persist
from broker.wsio.preauth import PreAuthGate
from broker.wsio.record_hooks import RecorderHooks, run_ticker
from broker.wsio.sender import CLOSE_TIMEOUT_S, WsEndpoint
from protocol.connection import Connection
from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import HANDSHAKE_TIMEOUT_S, HEARTBEAT_TIMEOUT_S, MAX_BINARY_MESSAGE

if TYPE_CHECKING:
    from broker.store.queries import User

__all__ = ["RelayService", "WsEndpoint", "setup"]

log = logging.getLogger(__name__)

SUBPROTOCOL = "clearpane.v1"
TICK_S = 0.25
"""How often the relay's timers run (consent deadlines, input counts, checkpoints)."""
VIEWER_BINARY_RATE = 250.0
"""Input batches + acks per second a viewer may send (burst twice that)."""


class RelayService:
    """``app[RELAY]``: the relay backend plus the sockets it serves."""

    def __init__(self, app: web.Application, timings: RelayTimings | None = None) -> None:
        self._app = app
        self.timings = timings or RelayTimings()
        self._backend: InProcessRelay | None = None
        self.sockets: set[web.WebSocketResponse] = set()
        self.endpoints: set[WsEndpoint] = set()
        self.shutting_down = False
        config = app[CONFIG]
        self.preauth = PreAuthGate(
            per_address=config.ws_preauth_per_address, total=config.ws_preauth_total
        )

    @property
    def backend(self) -> InProcessRelay:
        """The running backend (set while the app runs)."""
        if self._backend is None:
            raise RuntimeError("the relay is not running")
        return self._backend

    async def end_session(
        self, sid: str, *, reason: str, by: User | None, resolution: str | None
    ) -> bool:
        """End ``sid`` for everyone (REST end); False if no live relay session."""
        if self._backend is None:
            return False
        who = by.name if by is not None else "broker"
        ended = await self._backend.end_session(sid, reason=reason, by=who, resolution=resolution)
        if ended:
            await self._backend.flush_store()
        return ended

    async def notice(self, sid: str, event: str, detail: dict[str, Any]) -> bool:
        """Put a broker notice in ``sid``'s log for the client (False: not live here)."""
        if self._backend is None:
            return False
        return await self._backend.notice(sid, event, detail)

    # -- lifecycle ---------------------------------------------------------------

    async def ctx(self, app: web.Application) -> AsyncIterator[None]:
        """Cleanup context: the backend, its store writer and its timer task."""
        pki, data_dir, clock = app[PKI], app[CONFIG].data_dir, app[CLOCK]

        def open_log(info: SessionInfo) -> EventLog:
            session_log = SessionLog(data_dir, info.session_id, pki.signing_key, pki.signing_key_id)
            return observe(app, info, session_log)  # consent records → webhook events

        async def store(action: PersistAction) -> None:
            await persist(app[DB], action)
            queue_notice.kick(app)  # answered, ended, state: places in line move

        hooks = RecorderHooks(app)

        backend = await open_backend(  # cluster: in-process or NATS (CLEARPANE_RELAY_BACKEND)
            app,
            open_log,
            clock.now_ms,
            store,
            self.timings,
            record=hooks.record,
            on_closed=hooks.closed,
            allow_unrecorded=app[CONFIG].allow_unrecorded_sessions,
        )
        hooks.attach(backend)
        backend.start()
        self._backend = backend
        app[queue_notice.QUEUE_NOTICES] = notices = queue_notice.QueueNotices(app, backend)
        pusher = notices.start()
        ticker = asyncio.get_running_loop().create_task(
            run_ticker(backend, hooks, TICK_S), name="relay tick"
        )
        try:
            yield
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
            await self.shutdown()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await backend.shutdown()
            await close_backend(backend)
            self._backend = None

    async def on_shutdown(self, app: web.Application) -> None:
        """Before aiohttp waits for handlers: end sessions, seal logs, close sockets."""
        await self.shutdown()

    async def shutdown(self) -> None:
        """End every live session (``broker_shutdown``) and close every socket (1001)."""
        if self.shutting_down:
            return
        self.shutting_down = True
        if self._backend is not None:
            await self._backend.shutdown()
            self._backend.start()  # keep a writer for late store changes
        for endpoint in list(self.endpoints):
            endpoint.close(1001, "broker shutdown")
        await asyncio.gather(*(e.wait_closed() for e in list(self.endpoints)))
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    ws.close(code=1001, message=b"broker shutdown"), CLOSE_TIMEOUT_S
                )

    # -- handlers ------------------------------------------------------------------

    async def agent_handler(self, request: web.Request) -> web.StreamResponse:
        """``/ws/agent``: the client's agent (no Origin: it is not a browser)."""
        peer = await self._accept(request, binary_rate=None)
        if peer is None:
            return web.Response(status=503, text="shutting down")
        ws, endpoint = peer.ws, peer.endpoint
        sid, attached = "", False
        try:
            claims = await self._claims(peer, "agent")
            if claims is None or claims.sid is None:
                return ws
            sid = claims.sid
            info = await admission.session_info(request.app, sid)
            if isinstance(info, ProtocolError):
                return await peer.refuse(info)
            resume = request.app[TOKENS].issue(claims.sub, claims.role, "agent", session_id=sid)
            endpoint.label = f"agent of {sid}"
            try:
                await self.backend.attach_agent(info, endpoint, resume, peer.log_seq)
            except ProtocolError as exc:
                return await peer.refuse(exc)
            attached = True
            queue_notice.kick(self._app)  # the agent learns its place in line
            log.info("session %s: agent connected", sid)
            backend = self.backend
            await peer.serve(
                lambda msg: backend.agent_control(sid, msg),
                lambda frame, data: backend.agent_binary(sid, frame, data),
            )
            return ws
        finally:
            if attached and self._backend is not None:
                await self._backend.detach_agent(sid, endpoint)
            await self._release(peer)
            log.info("session %s: agent connection closed", sid or "?")

    async def viewer_handler(self, request: web.Request) -> web.StreamResponse:
        """``/ws/viewer``: an engineer's or observer's browser (Origin checked)."""
        peer = await self._accept(request, binary_rate=VIEWER_BINARY_RATE)
        if peer is None:
            return web.Response(status=503, text="shutting down")
        ws, endpoint = peer.ws, peer.endpoint
        sid, viewer_id = "", ""
        try:
            if not admission.origin_ok(request):
                return await peer.refuse(
                    ProtocolError.of(ErrorCode.FORBIDDEN, "origin not allowed")
                )
            claims = await self._claims(peer, "viewer")
            if claims is None or claims.sid is None:
                return ws
            sid = claims.sid
            user = await admission.viewer_user(request.app, claims)
            if isinstance(user, ProtocolError):
                return await peer.refuse(user)
            role = claims.as_ or "engineer"
            viewer = ViewerUser(user.id, user.name, role, handover_from_claims(claims.extra))
            if role == "engineer" and viewer.handover is None:
                stale = await admission.engineer_still_may_join(request.app, sid, user.id)
                if stale is not None:
                    return await peer.refuse(stale)
            try:
                viewer_id = await self.backend.attach_viewer(sid, viewer, claims.perms, endpoint)
            except ProtocolError as exc:
                return await peer.refuse(exc)
            endpoint.label = f"{viewer_id} of {sid}"
            log.info("session %s: viewer %s (%s) joined", sid, viewer_id, role)
            backend, vid = self.backend, viewer_id
            await peer.serve(
                lambda msg: backend.viewer_control(sid, vid, msg),
                lambda frame, data: backend.viewer_binary(sid, vid, frame, data),
            )
            return ws
        finally:
            if viewer_id and self._backend is not None:
                reason = "closed" if ws.close_code in (1000, 1001, None) else "disconnected"
                await self._backend.detach_viewer(sid, viewer_id, reason)
            await self._release(peer)

    # -- helpers -------------------------------------------------------------------

    async def _accept(self, request: web.Request, binary_rate: float | None) -> Peer | None:
        if self.shutting_down or self._backend is None:
            return None
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,),
            # aiohttp pings after this much silence (any data resets it) and closes when
            # the pong is not back within half of it: ≤ 7.5 s for a dead link (P10).
            heartbeat=HEARTBEAT_TIMEOUT_S,
            compress=False,
            max_msg_size=MAX_BINARY_MESSAGE,
        )
        if not self.preauth.enter(ws, client_address(request)):  # issue 14: pre-auth cap
            raise web.HTTPTooManyRequests(
                text="too many connections without hello", headers={"Retry-After": "10"}
            )
        try:
            await ws.prepare(request)
        except BaseException:
            self.preauth.leave(ws)
            raise
        self.sockets.add(ws)
        conn = Connection(
            now_ms=now_ms(),
            require_hello=True,
            binary_rate=binary_rate,
            handshake_timeout_ms=int(HANDSHAKE_TIMEOUT_S * 1000),
        )
        endpoint = WsEndpoint(ws, f"{request.path} peer")
        self.endpoints.add(endpoint)
        return Peer(ws, conn, endpoint)

    async def _release(self, peer: Peer) -> None:
        self.preauth.leave(peer.ws)
        peer.endpoint.stop()
        await peer.endpoint.wait_closed()
        self.endpoints.discard(peer.endpoint)
        self.sockets.discard(peer.ws)

    async def _claims(self, peer: Peer, typ: str) -> Claims | None:
        """The verified claims of the peer's ``hello``; None once refused or gone."""
        if peer.ws.ws_protocol != SUBPROTOCOL:
            await peer.refuse(
                ProtocolError.of(ErrorCode.UNAUTHORIZED, f"subprotocol {SUBPROTOCOL} required")
            )
            return None
        hello = await peer.hello()
        if hello is None:
            return None
        peer.log_seq = hello.log_seq
        claims = admission.verify_hello(self._app, hello, typ)
        if isinstance(claims, ProtocolError):
            await peer.refuse(claims)
            return None
        self.preauth.leave(peer.ws)  # a verified hello: no longer a pre-auth socket
        return claims


def setup(app: web.Application, timings: RelayTimings | None = None) -> RelayService:
    """Add ``/ws/agent``, ``/ws/viewer``, ``app[RELAY]`` and the relay's lifecycle."""
    service = RelayService(app, timings)
    app[RELAY] = service
    app.router.add_get("/ws/agent", service.agent_handler)
    app.router.add_get("/ws/viewer", service.viewer_handler)
    app.cleanup_ctx.append(service.ctx)
    app.on_shutdown.append(service.on_shutdown)
    return service
