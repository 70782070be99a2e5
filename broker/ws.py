"""WebSocket endpoints ``/ws/agent`` and ``/ws/viewer`` (SPEC §1, §3.1, §7).

The I/O layer around the relay core: it accepts a WebSocket, waits for the
``hello`` (``HANDSHAKE_TIMEOUT_S``), verifies the token, parses every frame with
``protocol`` and hands the result to the :class:`broker.relay.RelayBackend`
(the in-process default here). Protocol mistakes become an ``error`` message or
a close with the SPEC §7 code; nothing a peer sends raises out of a handler.

Sending never blocks a reader: every connection has one sender task fed by a
bounded queue (:class:`WsEndpoint`). Screen updates are bounded by the relay's
per-viewer credit (SPEC §6); anything else that piles up past the bound (a peer
that stopped reading its socket) closes that peer with 1008, so memory stays
bounded whatever a peer does.

``setup(app)`` adds the routes, ``app[RELAY]`` (a :class:`RelayService`, which
the REST end endpoint calls), a cleanup context that runs the relay's timers
and store writer, and an ``on_shutdown`` hook that ends live sessions with
``broker_shutdown``, seals their logs and closes every socket with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import types
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from broker.auth.setup import TOKENS
from broker.auth.tokens import AuthError, Claims
from broker.clock import CLOCK
from broker.config import CONFIG
from broker.pki import PKI
from broker.recording import RECORDER
from broker.relay import InProcessRelay, RelayTimings, SessionInfo, ViewerUser
from broker.relay.actions import (
    EventLog,
    MarkAnswered,
    MarkEnded,
    PersistState,
    Record,
    SaveRating,
)
from broker.relay.backend import PersistAction
from broker.relay.control import RELAY
from broker.session_log import SessionLog
from broker.store import queries
from broker.store.db import DB
from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import (
    CONTROL_BURST,
    HANDSHAKE_TIMEOUT_S,
    HEARTBEAT_INTERVAL_S,
    MAX_BINARY_MESSAGE,
    MAX_CONTROL_RATE,
)
from protocol.media import BinaryMessage, parse_binary
from protocol.messages import (
    ControlMessage,
    ErrorMessage,
    Hello,
    parse_control,
    serialize_control,
)

if TYPE_CHECKING:
    from broker.store.queries import User

__all__ = ["RelayService", "TokenBucket", "WsEndpoint", "setup"]

log = logging.getLogger(__name__)

SUBPROTOCOL = "clearpane.v1"
TICK_S = 0.25
"""How often the relay's timers run (consent deadlines, input counts, checkpoints)."""
MAX_QUEUED_FRAMES = 2048
"""Frames waiting for one peer's socket before the peer counts as stalled."""
MAX_QUEUED_BYTES = 3 * MAX_BINARY_MESSAGE
"""Bytes waiting for one peer's socket (≈ the SPEC §6 bound of updates) before 1008."""
VIEWER_BINARY_RATE = 250.0
"""Input batches + acks per second a viewer may send (burst twice that)."""
CLOSE_TIMEOUT_S = 2.0
KEYFRAME_ASK_MS = 5_000
"""How often, at most, the relay asks an agent for a FULL update for the recorder."""


class TokenBucket:
    """A token bucket (``rate`` per second, ``burst`` deep), time passed in."""

    __slots__ = ("_at", "_level", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self._level, self._at = burst, now

    def take(self, now: float) -> bool:
        """Spend one token; False when the bucket is empty."""
        self._level = min(self.burst, self._level + (now - self._at) * self.rate)
        self._at = now
        if self._level < 1:
            return False
        self._level -= 1
        return True


class WsEndpoint:
    """One peer's outgoing side: a bounded queue drained by one sender task."""

    direct_write: ClassVar[bool] = True
    """Write at once when nothing is queued (see ``_put``); bench/relay.py turns it off
    to measure the broker without it, side by side."""

    def __init__(self, ws: web.WebSocketResponse, label: str) -> None:
        self.ws = ws
        self.label = label
        self._queue: deque[tuple[str | bytes, int]] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._closing: tuple[int, str] | None = None
        # Fast path (P2): while the sender task sleeps with nothing queued, a frame is
        # written at once instead of waking the task (one event-loop hop less per
        # frame). ``_idle``: the task is parked on ``_wake``; ``_draining``: a direct
        # write the transport asked to wait on, which the task finishes before anything
        # queued after it, so order and back-pressure stay as they were.
        self._idle = False
        self._draining: tuple[Coroutine[Any, Any, None], Any] | None = None
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"send {label}")

    @property
    def queued(self) -> int:
        """Frames waiting to be sent."""
        return len(self._queue)

    def send_text(self, text: str) -> None:
        """Queue a text frame (counted in UTF-8 bytes, as it goes on the wire)."""
        self._put(text, len(text.encode()))

    def send_binary(self, data: bytes) -> None:
        """Queue a binary frame (the bytes object is shared, not copied)."""
        self._put(data, len(data))

    def close(self, code: int, reason: str) -> None:
        """Close after what is queued has been sent."""
        if self._closing is None:
            self._closing = (code, reason)
            self._wake.set()

    async def wait_closed(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Wait for the sender task to finish (then cancel it)."""
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def stop(self) -> None:
        """The connection is gone: drop the queue and end the sender."""
        self._queue.clear()
        self._bytes = 0
        if self._closing is None:
            self._closing = (1000, "")
        self._wake.set()

    def _put(self, item: str | bytes, size: int) -> None:
        if self._closing is not None:
            return
        if self._idle and self.direct_write and not self._queue and self._draining is None:
            self._write_now(item)
            return
        if len(self._queue) >= MAX_QUEUED_FRAMES or self._bytes + size > MAX_QUEUED_BYTES:
            log.warning("%s is not reading its socket: closing it", self.label)
            self._queue.clear()
            self._bytes = 0
            self.close(1008, "too slow: not reading")
            return
        self._queue.append((item, size))
        self._bytes += size
        self._wake.set()

    def _write_now(self, item: str | bytes) -> None:
        """Write one frame without the sender task (the fast path of ``_put``).

        aiohttp writes an uncompressed frame to the transport synchronously and only
        suspends to wait for a paused transport to drain; that wait is handed to the
        sender task, and frames that come meanwhile are queued behind it."""
        ws = self.ws
        if ws.closed:
            return  # as the sender task does: nothing more goes to a closed socket
        coro = ws.send_str(item) if isinstance(item, str) else ws.send_bytes(item)
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return
        except (ConnectionError, RuntimeError) as exc:
            log.debug("%s: send failed: %s", self.label, exc)
            self.stop()
            return
        except Exception:
            log.exception("%s: send failed; closing the connection", self.label)
            self._queue.clear()
            self._bytes = 0
            self.close(1011, "internal error")
            return
        self._draining = (coro, waiting_on)
        self._wake.set()

    async def _run(self) -> None:
        ws = self.ws
        try:
            while True:
                if self._draining is not None:
                    coro, waiting_on = self._draining
                    try:
                        await _resume(coro, waiting_on)
                    finally:
                        self._draining = None
                while self._queue:
                    item, size = self._queue.popleft()
                    self._bytes -= size
                    if ws.closed:
                        return
                    if isinstance(item, str):
                        await ws.send_str(item)
                    else:
                        await ws.send_bytes(item)
                if self._closing is not None:
                    if not ws.closed:
                        code, reason = self._closing
                        await ws.close(code=code, message=reason.encode()[:120])
                    return
                self._wake.clear()
                self._idle = True
                try:
                    await self._wake.wait()
                finally:
                    self._idle = False
        except (ConnectionError, RuntimeError) as exc:
            log.debug("%s: send failed: %s", self.label, exc)
        except Exception:
            # Never die silently: a dead sender with a live queue would cut the
            # peer off from log events, consent requests and the end (G7).
            log.exception("%s: sender failed; closing the connection", self.label)
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close(code=1011, message=b"internal error")
        finally:
            self._idle = False
            self._queue.clear()
            self._bytes = 0
            if self._draining is not None:
                self._draining[0].close()
                self._draining = None


@types.coroutine
def _resume(coro: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    """Finish, inside the calling task, a coroutine that was started outside any task
    and suspended on ``waiting_on`` (a future; the task waits on it as usual)."""
    while True:
        try:
            value = yield waiting_on
        except BaseException as exc:  # cancellation: pass it in
            try:
                waiting_on = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_on = coro.send(value)
            except StopIteration:
                return


class RelayService:
    """``app[RELAY]``: the relay backend plus the sockets it serves."""

    def __init__(self, app: web.Application, timings: RelayTimings | None = None) -> None:
        self._app = app
        self.timings = timings or RelayTimings()
        self._backend: InProcessRelay | None = None
        self.sockets: set[web.WebSocketResponse] = set()
        self.endpoints: set[WsEndpoint] = set()
        self.shutting_down = False

    @property
    def backend(self) -> InProcessRelay:
        """The running backend (set while the app runs)."""
        if self._backend is None:
            raise RuntimeError("the relay is not running")
        return self._backend

    # -- RelayControl (broker.relay.control) -----------------------------------------------

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

    # -- lifecycle ---------------------------------------------------------------

    async def ctx(self, app: web.Application) -> AsyncIterator[None]:
        """Cleanup context: the backend, its store writer and its timer task."""
        pki = app[PKI]
        data_dir = app[CONFIG].data_dir
        clock = app[CLOCK]

        def open_log(info: SessionInfo) -> EventLog:
            return SessionLog(data_dir, info.session_id, pki.signing_key, pki.signing_key_id)

        backend = InProcessRelay(
            open_log,
            clock.now_ms,
            self._persist,
            self.timings,
            record=self._record,
            on_closed=self._closed,
        )
        backend.start()
        self._backend = backend
        ticker = asyncio.get_running_loop().create_task(self._ticker(backend), name="relay tick")
        try:
            yield
        finally:
            await self.shutdown()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await backend.shutdown()
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

    async def _ticker(self, backend: InProcessRelay) -> None:
        asked: dict[str, int] = {}
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await backend.tick()
                await self._keyframes(backend, asked)
            except Exception:
                log.exception("relay tick failed")

    async def _keyframes(self, backend: InProcessRelay, asked: dict[str, int]) -> None:
        """Ask for a FULL update when the recorder needs a seek point (P8)."""
        recorder = self._app.get(RECORDER)
        if recorder is None:
            return
        now = self._app[CLOCK].now_ms()
        for session in backend.core:
            sid = session.session_id
            if (
                session.state.value == "live"
                and now - asked.get(sid, 0) >= KEYFRAME_ASK_MS
                and recorder.wants_keyframe(sid, now)
            ):
                asked[sid] = now
                await backend.request_keyframe(sid)
        for sid in [s for s in asked if backend.core.get(s) is None]:
            del asked[sid]

    def _record(self, action: Record) -> None:
        """The relay's recording hook (``broker.recording``; never raises)."""
        recorder = self._app.get(RECORDER)
        if recorder is not None:
            recorder.record(action.session_id, action.direction, action.data, action.at_ms)

    def _closed(self, sid: str) -> None:
        recorder = self._app.get(RECORDER)
        if recorder is not None:
            recorder.finish(sid)

    async def _persist(self, action: PersistAction) -> None:
        # An end must reach the store (the ticket shows it, and a restart must not
        # reopen the session): retry it a few times; other updates are superseded.
        attempts = 3 if isinstance(action, MarkEnded) else 1
        for attempt in range(attempts):
            if await self._persist_once(action, last=attempt == attempts - 1):
                return
            await asyncio.sleep(0.2 * (attempt + 1))

    async def _persist_once(self, action: PersistAction, *, last: bool) -> bool:
        db = self._app[DB]
        try:
            if isinstance(action, PersistState):
                await queries.set_session_state(
                    db, action.session_id, action.state, at=action.at_ms
                )
            elif isinstance(action, MarkAnswered):
                await queries.mark_answered(db, action.session_id, action.engineer_id, action.at_ms)
            elif isinstance(action, MarkEnded):
                await queries.mark_ended(
                    db, action.session_id, action.reason, action.at_ms, action.resolution
                )
            elif isinstance(action, SaveRating):
                # A session is rated once, over the socket or over REST after a kill.
                await queries.set_rating(
                    db, action.session_id, action.score, action.comment, once=True
                )
        except Exception as exc:  # Conflict after the end, NotFound: nothing to undo
            if last:
                log.warning(
                    "session %s: store update %s failed: %s",
                    action.session_id,
                    type(action).__name__,
                    exc,
                )
            return False
        return True

    # -- handlers ------------------------------------------------------------------

    async def agent_handler(self, request: web.Request) -> web.StreamResponse:
        """``/ws/agent``: the client's agent (no Origin: it is not a browser)."""
        ws = await self._accept(request)
        if ws is None:
            return web.Response(status=503, text="shutting down")
        endpoint: WsEndpoint | None = None
        sid = ""
        try:
            claims = await self._hello(ws, "agent")
            if claims is None or claims.sid is None:
                return ws
            sid = claims.sid
            info = await self._session_info(ws, sid)
            if info is None:
                return ws
            tokens = request.app[TOKENS]
            resume = tokens.issue(claims.sub, claims.role, "agent", session_id=sid)
            endpoint = self._endpoint(ws, f"agent of {sid}")
            try:
                await self.backend.attach_agent(info, endpoint, resume)
            except ProtocolError as exc:
                await self._fail(ws, exc)
                return ws
            log.info("session %s: agent connected", sid)
            backend = self.backend
            await self._read_loop(
                ws,
                endpoint,
                lambda msg: backend.agent_control(sid, msg),
                lambda frame, data: backend.agent_binary(sid, frame, data),
                binary_bucket=None,
            )
            return ws
        finally:
            if endpoint is not None:
                if self._backend is not None:
                    await self._backend.detach_agent(sid, endpoint)
                await self._release(endpoint)
            self.sockets.discard(ws)
            log.info("session %s: agent connection closed", sid or "?")

    async def viewer_handler(self, request: web.Request) -> web.StreamResponse:
        """``/ws/viewer``: an engineer's or observer's browser (Origin checked)."""
        ws = await self._accept(request)
        if ws is None:
            return web.Response(status=503, text="shutting down")
        endpoint: WsEndpoint | None = None
        sid, viewer_id = "", ""
        try:
            if not self._origin_ok(request):
                await self._fail(ws, ProtocolError.of(ErrorCode.FORBIDDEN, "origin not allowed"))
                return ws
            claims = await self._hello(ws, "viewer")
            if claims is None or claims.sid is None:
                return ws
            sid = claims.sid
            role = claims.as_ or "engineer"
            user = await queries.get_user(request.app[DB], claims.sub)
            if user is None or user.disabled:
                await self._fail(ws, ProtocolError.of(ErrorCode.UNAUTHORIZED, "unknown user"))
                return ws
            endpoint = self._endpoint(ws, f"viewer of {sid}")
            try:
                viewer_id = await self.backend.attach_viewer(
                    sid, ViewerUser(user.id, user.name, role), claims.perms, endpoint
                )
            except ProtocolError as exc:
                await self._fail(ws, exc)
                return ws
            endpoint.label = f"{viewer_id} of {sid}"
            log.info("session %s: viewer %s (%s) joined", sid, viewer_id, role)
            backend = self.backend
            vid = viewer_id
            await self._read_loop(
                ws,
                endpoint,
                lambda msg: backend.viewer_control(sid, vid, msg),
                lambda frame, data: backend.viewer_binary(sid, vid, frame, data),
                binary_bucket=TokenBucket(
                    VIEWER_BINARY_RATE, 2 * VIEWER_BINARY_RATE, time.monotonic()
                ),
            )
            return ws
        finally:
            if endpoint is not None:
                if viewer_id and self._backend is not None:
                    reason = "closed" if ws.close_code in (1000, 1001, None) else "disconnected"
                    await self._backend.detach_viewer(sid, viewer_id, reason)
                await self._release(endpoint)
            self.sockets.discard(ws)

    # -- handler helpers -----------------------------------------------------------

    async def _accept(self, request: web.Request) -> web.WebSocketResponse | None:
        if self.shutting_down or self._backend is None:
            return None
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,),
            heartbeat=HEARTBEAT_INTERVAL_S,
            compress=False,
            max_msg_size=MAX_BINARY_MESSAGE,
        )
        await ws.prepare(request)
        self.sockets.add(ws)
        return ws

    def _endpoint(self, ws: web.WebSocketResponse, label: str) -> WsEndpoint:
        endpoint = WsEndpoint(ws, label)
        self.endpoints.add(endpoint)
        return endpoint

    async def _release(self, endpoint: WsEndpoint) -> None:
        endpoint.stop()
        await endpoint.wait_closed()
        self.endpoints.discard(endpoint)

    def _origin_ok(self, request: web.Request) -> bool:
        """SPEC §1: the viewer's Origin must be the broker's own origin."""
        origin = request.headers.get("Origin")
        if not origin:
            return False
        config = request.app[CONFIG]
        allowed = {f"{request.scheme}://{request.host}".lower()}
        allowed.update(o.lower() for o in config.allowed_origins)
        if config.public_url:
            parts = urlsplit(config.public_url)
            allowed.add(f"{parts.scheme}://{parts.netloc}".lower())
        return origin.lower() in allowed

    async def _hello(self, ws: web.WebSocketResponse, typ: str) -> Claims | None:
        """Wait for ``hello`` and verify its token; on failure close 4401 and return None."""
        if ws.ws_protocol != SUBPROTOCOL:
            await self._fail(
                ws, ProtocolError.of(ErrorCode.UNAUTHORIZED, f"subprotocol {SUBPROTOCOL} required")
            )
            return None
        try:
            msg = await ws.receive(timeout=HANDSHAKE_TIMEOUT_S)
        except TimeoutError:
            await self._fail(ws, ProtocolError.of(ErrorCode.UNAUTHORIZED, "no hello in time"))
            return None
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return None
        if msg.type is not WSMsgType.TEXT:
            await self._fail(
                ws, ProtocolError.of(ErrorCode.UNAUTHORIZED, "hello must be the first message")
            )
            return None
        try:
            hello = parse_control(msg.data)
        except ProtocolError as exc:
            if exc.close_code is None:  # unknown type or bad field: still not a hello
                exc = ProtocolError.of(ErrorCode.UNAUTHORIZED, f"bad hello: {exc.message}")
            await self._fail(ws, exc)
            return None
        if not isinstance(hello, Hello):
            await self._fail(
                ws, ProtocolError.of(ErrorCode.UNAUTHORIZED, "hello must be the first message")
            )
            return None
        try:
            claims = self._app[TOKENS].verify(hello.token, typ)
        except AuthError as exc:
            await self._fail(ws, ProtocolError.of(ErrorCode.UNAUTHORIZED, f"token: {exc}"))
            return None
        if claims.sid is None:
            await self._fail(ws, ProtocolError.of(ErrorCode.UNAUTHORIZED, "token has no session"))
            return None
        return claims

    async def _session_info(self, ws: web.WebSocketResponse, sid: str) -> SessionInfo | None:
        db = self._app[DB]
        row = await queries.get_session(db, sid)
        if row is None:
            await self._fail(ws, ProtocolError.of(ErrorCode.UNAUTHORIZED, "no such session"))
            return None
        if row.state == "ended":
            await self._fail(ws, ProtocolError.of(ErrorCode.SESSION_ENDED, "the session has ended"))
            return None
        ticket = await queries.get_ticket(db, row.ticket_id)
        pki = self._app[PKI]
        try:
            audit_pem: str | None = pki.audit_recipient_pem()
        except OSError:
            audit_pem = None
        return SessionInfo(
            session_id=sid,
            ticket_id=row.ticket_id,
            ticket_title=ticket.title if ticket is not None else "",
            client_name=row.client_name or "client",
            audit_recipient_pem=audit_pem,
        )

    async def _fail(self, ws: web.WebSocketResponse, exc: ProtocolError) -> None:
        """Send ``error`` and close with its SPEC §7 code (1008 when it has none)."""
        if ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(
                serialize_control(ErrorMessage(code=exc.code, message=exc.message[:1000]))
            )
            await asyncio.wait_for(
                ws.close(code=exc.close_code or 1008, message=exc.message.encode()[:120]),
                CLOSE_TIMEOUT_S,
            )

    async def _read_loop(
        self,
        ws: web.WebSocketResponse,
        endpoint: WsEndpoint,
        on_text: Callable[[ControlMessage], Awaitable[None]],
        on_binary: Callable[[BinaryMessage, bytes], Awaitable[None]],
        *,
        binary_bucket: TokenBucket | None,
    ) -> None:
        control_bucket = TokenBucket(MAX_CONTROL_RATE, CONTROL_BURST, time.monotonic())
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.TEXT:
                if not control_bucket.take(time.monotonic()):
                    await self._fatal(
                        endpoint, ProtocolError.of(ErrorCode.RATE_LIMITED, "slow down")
                    )
                    return
                try:
                    control = parse_control(msg.data)
                except ProtocolError as exc:
                    if await self._report(endpoint, exc):
                        return
                    continue
                if isinstance(control, Hello):
                    self._error(
                        endpoint, ProtocolError.of(ErrorCode.WRONG_STATE, "already said hello")
                    )
                    continue
                await on_text(control)
            elif msg.type is WSMsgType.BINARY:
                data: bytes = msg.data
                if binary_bucket is not None and not binary_bucket.take(time.monotonic()):
                    await self._fatal(
                        endpoint, ProtocolError.of(ErrorCode.RATE_LIMITED, "slow down")
                    )
                    return
                try:
                    frame = parse_binary(data)
                except ProtocolError as exc:
                    if await self._report(endpoint, exc):
                        return
                    continue
                await on_binary(frame, data)
            else:  # CLOSE, CLOSING, CLOSED, ERROR (aiohttp already closed with 1009 if too big)
                return

    def _error(self, endpoint: WsEndpoint, exc: ProtocolError) -> None:
        endpoint.send_text(
            serialize_control(ErrorMessage(code=exc.code, message=exc.message[:1000]))
        )

    async def _report(self, endpoint: WsEndpoint, exc: ProtocolError) -> bool:
        """Send ``error``; close if the error is fatal. Returns whether it was."""
        if exc.close_code is None:
            self._error(endpoint, exc)
            return False
        await self._fatal(endpoint, exc)
        return True

    async def _fatal(self, endpoint: WsEndpoint, exc: ProtocolError) -> None:
        self._error(endpoint, exc)
        endpoint.close(exc.close_code or 1008, exc.message[:120])
        await endpoint.wait_closed()


def setup(app: web.Application, timings: RelayTimings | None = None) -> RelayService:
    """Add ``/ws/agent``, ``/ws/viewer``, ``app[RELAY]`` and the relay's lifecycle."""
    service = RelayService(app, timings)
    app[RELAY] = service
    app.router.add_get("/ws/agent", service.agent_handler)
    app.router.add_get("/ws/viewer", service.viewer_handler)
    app.cleanup_ctx.append(service.ctx)
    app.on_shutdown.append(service.on_shutdown)
    return service
