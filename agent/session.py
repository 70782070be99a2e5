"""One help session, from request to rating (DESIGN §4, SPEC §3–§8).

``AgentSession.run()`` runs on its own asyncio loop (the Qt window starts it in a
background thread; headless mode runs it in the main thread). The UI talks to it
through the thread-safe methods below and hears from it through a
``SessionObserver``. The pure state machines — ``ConsentMachine`` (who may do
what) and ``KillSwitch`` (kill, pause) — are owned here and consulted at every
step; whatever the broker says, nothing is sent or applied that they refuse:

- no screen byte before a viewer holds ``view`` and has the content key, none
  while paused, none after kill (G2, G5, G6); the capture source is opened only
  after the first ``view`` grant and closed on kill;
- input is applied only while the sending viewer holds ``control`` (G4,
  ``agent.input``);
- a kill stops capture in the caller's thread, then sends ``kill`` and closes the
  socket with short timeouts (G5);
- a viewer leaving or losing ``view`` starts a new content-key epoch (SPEC §8.2);
- the audit recipient's certificate is checked against the organisation CA
  before a content key is wrapped for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from agent.config import AgentConfig
from agent.connection import (
    FINAL_CLOSE_CODES,
    Backoff,
    ConnectionLost,
    SessionTicket,
    make_ssl_context,
    open_agent_socket,
    redeem_code,
    request_help,
)
from agent.consent import ConsentMachine, Decision, Permission, parse_permissions
from agent.e2ekeys import SessionKeys
from agent.errors import AgentError, ConsentError, FinalError, SessionKilled
from agent.inject import Injector
from agent.input import InputGate
from agent.killswitch import KillRecord, KillSwitch
from agent.locallog import LocalLog, default_session_dir
from agent.observer import (
    LogVerification,
    SessionObserver,
    SessionOutcome,
    SessionStatus,
    ViewerStatus,
)
from protocol.e2e import E2EError
from protocol.errors import ProtocolError
from protocol.limits import MAX_INFLIGHT_UPDATES
from protocol.media import AckFrame, InputFrame, ScreenUpdate, parse_binary
from protocol.messages import (
    AuditRecipient,
    CallRequest,
    Chat,
    CheckpointMessage,
    ConsentDeny,
    ConsentGrant,
    ConsentRequest,
    ConsentRevoke,
    ControlMessage,
    ErrorMessage,
    KeyCommit,
    KeyReveal,
    Kill,
    LogEvent,
    LogLocal,
    MaskUpdate,
    Pause,
    PermissionRelease,
    Rating,
    Refresh,
    Resume,
    SessionEnded,
    SessionStateMessage,
    ViewerJoined,
    ViewerLeft,
    Welcome,
    parse_control,
    serialize_control,
)

if TYPE_CHECKING:  # agent.call pulls in aiortc/PyAV: imported only when calls are on
    from agent.call.config import CallConfig
    from agent.call.runner import CallRunner

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: SPEC §3.6 signalling, handled by ``agent.call`` (same set as its CALL_MESSAGE_TYPES).
CALL_MESSAGE_TYPES = frozenset(
    {"call.request", "rtc.offer", "rtc.answer", "rtc.candidate", "rtc.mute", "rtc.hangup"}
)

FLAG_FULL = 0x01
#: Agent-side actions the broker records too (``log.local``); the broker logs
#: consent, pause and masks itself from the messages, so those are not repeated.
_FORWARDED_EVENTS = frozenset(
    {"input.applied", "input.dropped", "key.exchanged", "key.epoch", "audit.recipient_rejected"}
)
#: An update not acknowledged after this long no longer counts as in flight
#: (a lost ack must not stall the stream forever).
INFLIGHT_EXPIRY_S = 3.0

SourceFactory = Callable[[], Any]  # returns an agent.capture.CaptureSource
PipelineFactory = Callable[[Any], Any]  # source -> agent.pipeline.ScreenPipeline


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _default_source(spec: str) -> SourceFactory:
    def factory() -> Any:
        from agent.capture import open_source

        return open_source(spec)

    return factory


def _default_pipeline(source: Any) -> Any:
    from agent.pipeline import ScreenPipeline

    return ScreenPipeline(source)


class _Ended(Exception):
    """Internal: the session is over (reason in the outcome)."""


class AgentSession:
    """The agent side of one session. Thread-safe public methods; ``run()`` once."""

    def __init__(
        self,
        config: AgentConfig,
        observer: SessionObserver | None = None,
        *,
        source_factory: SourceFactory | None = None,
        pipeline_factory: PipelineFactory | None = None,
        injector: Injector | None = None,
        call_config: CallConfig | None = None,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.config = config
        self.observer = observer or SessionObserver()
        self._source_factory = source_factory or _default_source(config.source)
        self._pipeline_factory = pipeline_factory or _default_pipeline
        self._injector = injector
        self._call_config = call_config
        self._ca_pem = config.ca_pem  # the organisation roots (may grow by rotation)
        self._call: CallRunner | None = None
        self._clock = clock_ms
        self.consent = ConsentMachine(int(config.consent_timeout_s * 1000))
        self.killswitch = KillSwitch()
        self.session_id: str | None = None
        self.ticket: SessionTicket | None = None
        self.local_log: LocalLog | None = None
        self.outcome: SessionOutcome | None = None
        # Loop-thread state ---------------------------------------------------------
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._ws: ClientConnection | None = None
        self._welcome: Welcome | None = None
        self._skew_ms = 0
        self._ticket_title = ""
        self._keys: SessionKeys | None = None  # created at the first welcome
        self._gate: InputGate | None = None
        self._inflight: dict[int, float] = {}
        self._need_full = True
        self._wake: asyncio.Event | None = None
        self._killed_evt: asyncio.Event | None = None
        self._checkpoint: dict[str, Any] | None = None
        self._checkpoint_evt: asyncio.Event | None = None
        self._end_reason: tuple[str, str] | None = None
        self._ended_evt: asyncio.Event | None = None
        self._pipeline: Any = None
        self._source: Any = None
        self._mask_lock = threading.Lock()
        self._masks: tuple[tuple[tuple[int, int, int, int], ...], tuple[str, ...]] = ((), ())
        self._mask_gen = 0
        self._applied_mask_gen = 0
        self._rating_sent = False
        self._rating_evt: asyncio.Event | None = None
        self._linger_ws: ClientConnection | None = None
        self._phase = "connecting"
        self.frames_sent = 0
        #: WebSocket connections made (reconnects included)
        self.connections = 0
        #: seq of the last frame committed for sending, and its value at the kill
        self.committed_seq = 0
        self.seq_at_kill: int | None = None
        self.bytes_sent = 0
        self.grabs = 0
        self._capture_thread_busy = threading.Event()
        self._names: dict[str, str] = {}
        self._user_names: dict[str, str] = {}  # user id -> verified name

    # == thread-safe API for the UI ====================================================

    @property
    def connected(self) -> bool:
        """True while the WebSocket to the broker is up (after ``welcome``)."""
        return self._ws is not None

    def kill(self, source: str = "button") -> KillRecord | None:
        """THE kill switch: capture stops before this returns (any thread)."""
        return self.killswitch.kill(self._clock(), source)

    def answer(self, request_id: str, allowed: Sequence[str]) -> None:
        """The client's answer to a prompt: ``allowed`` ⊆ asked, the rest denied."""
        self._call_soon(self._answer, request_id, tuple(allowed))

    def mark_shown(self, request_id: str) -> None:
        """The UI has displayed the prompt (needed before a grant)."""
        self._call_soon(self._mark_shown, request_id)

    def revoke(self, viewer_id: str, permissions: Sequence[str]) -> None:
        """The client takes permissions back (takes effect before the next input)."""
        self._call_soon(self._revoke, viewer_id, tuple(permissions))

    def pause(self) -> None:
        """Pause the stream: capture stops in this thread, then the broker is told."""
        try:
            changed = self.killswitch.pause()
        except SessionKilled:
            return  # nothing is streamed after a kill anyway
        if changed:
            self._call_soon(self._after_pause)

    def resume(self) -> None:
        """Resume a paused stream (never after kill)."""
        try:
            changed = self.killswitch.resume()
        except SessionKilled:
            self.observer.notice("A stopped session cannot be resumed; ask for help again.")
            return
        if changed:
            self._call_soon(self._after_resume)

    def send_chat(self, text: str) -> None:
        """Send a chat line the client typed."""
        text = text.strip()
        if text:
            self._call_soon(self._send_chat, text[:4000])

    def set_masks(
        self, regions: Sequence[tuple[int, int, int, int]], windows: Sequence[str] = ()
    ) -> None:
        """Blank these screen regions ``(x, y, w, h)`` and windows (by title) from the
        next frame on; a frame grabbed before the change is discarded."""
        with self._mask_lock:
            self._masks = (tuple(tuple(r) for r in regions), tuple(windows))  # type: ignore[misc]
            self._mask_gen += 1
        self._call_soon(self._after_masks, len(regions), len(windows))

    def call_start(self) -> None:
        """The client starts a video call (camera and microphone open now)."""
        self._call_action("client_start")

    def call_accept(self) -> None:
        """The client accepts the engineer's call request."""
        self._call_action("client_accept")

    def call_decline(self) -> None:
        """The client declines the engineer's call request."""
        self._call_action("client_decline")

    def call_hangup(self) -> None:
        """The client hangs up (camera and microphone stop)."""
        self._call_action("client_hangup")

    def _call_action(self, name: str) -> None:
        def act() -> None:
            runner = self._call
            if runner is None:
                self.observer.notice("Video calls are not available.")
                return
            if name in ("client_start", "client_accept") and not self.consent.viewers_with("video"):
                self.observer.notice("Nobody has your permission for a video call.")
                return
            try:
                getattr(runner, name)()
            except Exception as exc:  # CallError: not allowed in this state
                self.observer.notice(f"Video call: {exc}")

        self._call_soon(act)

    def rate(self, score: int, comment: str = "") -> None:
        """The client's rating of the help (1–5)."""
        if not 1 <= score <= 5:
            raise ValueError("score must be 1..5")
        self._call_soon(self._send_rating, score, comment[:1000])

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(fn, *args)

    # == running =======================================================================

    async def run(self) -> SessionOutcome:
        """Request help (or redeem the code), connect, serve until the end."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._killed_evt = asyncio.Event()
        self._checkpoint_evt = asyncio.Event()
        self._rating_evt = asyncio.Event()
        self._ended_evt = asyncio.Event()
        loop = self._loop
        killed_evt = self._killed_evt

        def on_kill(_record: KillRecord) -> None:
            # Runs in the killing thread after the fence: nothing can be committed now.
            self.seq_at_kill = self.committed_seq
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(killed_evt.set)

        self.killswitch.on_kill(on_kill)
        if self._call_config is not None:
            self._call = self._call_config.make_runner(
                self._send,
                lambda event, detail: self._log_local(event, dict(detail), self._clock()),
                on_ring=self._on_ring,
            )
        try:
            outcome = await self._run()
        except Exception as exc:
            log.exception("session failed")
            outcome = SessionOutcome("failed", details=(str(exc),))
        finally:
            self._shutdown_local()
            if self._call is not None:
                with contextlib.suppress(Exception):
                    await self._call.aclose()
        verification = self._verify_log()
        self.outcome = SessionOutcome(
            outcome.reason,
            outcome.by,
            self.session_id,
            verification,
            str(self.local_log.directory) if self.local_log else None,
            outcome.details,
        )
        self._set_phase("ended")
        self.observer.ended(self.outcome)
        linger = self._linger_ws
        if linger is not None:
            # The broker keeps the socket a little after the end: the client may rate.
            assert self._rating_evt is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rating_evt.wait(), self.config.rating_wait_s)
            await asyncio.sleep(0.05)  # let the queued rating go out
            await self._close_ws(linger)
            self._linger_ws = None
        return self.outcome

    async def _run(self) -> SessionOutcome:
        cfg = self.config
        ssl_ctx = make_ssl_context(cfg.ca_pem)
        # A CA rotation endorsed by a pinned root extends the pin (agent.trust);
        # network or format problems leave the pin as it is.
        from agent.trust import refresh_trust

        with contextlib.suppress(Exception):
            update = await self._unless_killed(
                refresh_trust(cfg.broker_url, ssl_ctx, cfg.ca_pem, store=cfg.enrollment_path)
            )
            if update is not None:
                self._ca_pem = update.ca_pem
        backoff = Backoff(max_s=cfg.reconnect_max_s)
        # 1. REST (retry network errors; a refusal is final)
        while True:
            if self.killswitch.killed:
                return SessionOutcome("killed_by_client", "client")
            try:
                # A hung broker must not hold the client: the kill switch interrupts.
                if cfg.code is not None:
                    ticket = await self._unless_killed(
                        redeem_code(cfg.broker_url, ssl_ctx, cfg.code, cfg.client_name)
                    )
                else:
                    ticket = await self._unless_killed(
                        request_help(cfg.broker_url, ssl_ctx, cfg.describe or "", cfg.client_name)
                    )
                if ticket is None:
                    return SessionOutcome("killed_by_client", "client")
                self.ticket = ticket
                break
            except FinalError as exc:
                return SessionOutcome("auth_failed", details=(str(exc),))
            except ConnectionLost as exc:
                self.observer.notice(f"Cannot reach the help desk: {exc}. Retrying…")
                if await self._sleep_or_killed(backoff.next_delay()):
                    return SessionOutcome("killed_by_client", "client")
        self.session_id = self.ticket.session_id
        log_dir = default_session_dir(self.session_id, cfg.log_dir)
        self.local_log = LocalLog(log_dir, self.session_id, self._lookup_name)
        self.local_log.subscribe(self.observer.log_line)
        self.local_log.record_local(
            "session.requested",
            {"ticket": self.ticket.ticket_id, "mode": "code" if cfg.code else "request"},
            self._clock(),
        )
        token = self.ticket.token
        backoff.reset()
        # 2. WebSocket with reconnects
        while True:
            if self.killswitch.killed:
                return await self._finish_kill(None)
            try:
                opened = await self._unless_killed(open_agent_socket(cfg.ws_url, token, ssl_ctx))
                if opened is None:
                    return await self._finish_kill(None)
                ws, welcome = opened
            except FinalError as exc:
                return SessionOutcome("auth_failed", details=(str(exc),))
            except ConnectionLost as exc:
                self._set_phase("reconnecting", str(exc))
                if await self._sleep_or_killed(backoff.next_delay()):
                    return await self._finish_kill(None)
                continue
            backoff.reset()
            token = welcome.resume_token or token
            try:
                return await self._serve(ws, welcome)
            except ConnectionLost as exc:
                self._set_phase("reconnecting", str(exc))
                self._on_disconnect()
                if await self._sleep_or_killed(backoff.next_delay()):
                    return await self._finish_kill(None)
            finally:
                self._ws = None

    async def _unless_killed(self, awaitable: Awaitable[_T]) -> _T | None:
        """Await ``awaitable`` unless the kill switch is pressed first (then cancel it
        and return None): no network wait can delay the end of a killed session."""
        assert self._killed_evt is not None
        task = asyncio.ensure_future(awaitable)
        killed = asyncio.ensure_future(self._killed_evt.wait())
        try:
            await asyncio.wait({task, killed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            killed.cancel()
        if task.done() and not self.killswitch.killed:
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            result = await task
            ws = result[0] if isinstance(result, tuple) else None
            if isinstance(ws, ClientConnection) and ws.transport is not None:
                ws.transport.abort()  # opened just as the kill came: drop it
        return None

    async def _sleep_or_killed(self, delay: float) -> bool:
        assert self._killed_evt is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._killed_evt.wait(), delay)
        return self.killswitch.killed

    # == serving one connection ===========================================================

    async def _serve(self, ws: ClientConnection, welcome: Welcome) -> SessionOutcome:
        self._ws = ws
        self.connections += 1
        self._welcome = welcome
        self._skew_ms = welcome.server_time_ms - self._clock()
        self._ticket_title = welcome.ticket.title
        if self._keys is None:
            self._keys = SessionKeys(welcome.session_id)
            self._gate = InputGate(
                welcome.session_id, self.consent, self.killswitch, self._injector
            )
        else:
            # Reconnected: viewers kept their grants and keys at the broker; give them a
            # fresh epoch (whatever was in flight is lost) and start from a FULL frame.
            self._new_epoch()
        self._set_phase(welcome.state if welcome.state != "consent_pending" else "waiting")
        assert self._killed_evt is not None
        reader = asyncio.create_task(self._reader(ws), name="agent-reader")
        capture = asyncio.create_task(self._capture_loop(ws), name="agent-capture")
        timer = asyncio.create_task(self._consent_timer(), name="agent-consent-timer")
        killed = asyncio.create_task(self._killed_evt.wait(), name="agent-kill-wait")
        assert self._ended_evt is not None
        ended = asyncio.create_task(self._ended_evt.wait(), name="agent-end-wait")
        tasks = {reader, capture, timer, killed, ended}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if killed in done or self.killswitch.killed:
                capture.cancel()
                return await self._finish_kill(ws, reader)
            if capture in done and capture.exception() is not None:
                # The screen cannot be captured (no display, source gone): say so, stop
                # everything locally first, then leave (the broker sees the agent go).
                error = capture.exception()
                self.observer.notice(f"Screen capture failed: {error}")
                self._close_consent()
                await self._release_capture_async()
                await self._close_ws(ws)
                return SessionOutcome("failed", details=(f"screen capture failed: {error}",))
            if reader in done:
                reader.result()  # raises ConnectionLost / FinalError
            reason, by = self._end_reason or ("failed", "")
            return await self._finish_ended(ws, reader, reason, by)
        except FinalError as exc:
            return SessionOutcome(
                "auth_failed" if exc.reason == "unauthorized" else exc.reason,
                details=(str(exc),),
            )
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task

    async def _finish_kill(
        self, ws: ClientConnection | None, reader: asyncio.Task[None] | None = None
    ) -> SessionOutcome:
        """After the local stop: log, tell the broker (short timeout), close."""
        record = self.killswitch.record
        at = record.at_ms if record else self._clock()
        if self._call is not None:
            self._call.kill()  # camera and microphone are stopped when this returns
        self._close_consent()
        if self.local_log is not None:
            self.local_log.record_local(
                "kill.triggered", {"source": record.source if record else "?"}, at
            )
        await self._release_capture_async()
        timeout = self.config.notify_timeout_s
        if ws is not None:
            try:
                await asyncio.wait_for(ws.send(serialize_control(Kill())), timeout)
                # Keep reading briefly for the signed checkpoint (capture is stopped).
                if reader is not None and not reader.done():
                    assert self._checkpoint_evt is not None
                    await asyncio.wait_for(self._checkpoint_evt.wait(), 2 * timeout)
            except (TimeoutError, ConnectionClosed, OSError):
                pass
            await self._close_ws(ws)
        return SessionOutcome("killed_by_client", "client")

    async def _finish_ended(
        self, ws: ClientConnection, reader: asyncio.Task[None], reason: str, by: str
    ) -> SessionOutcome:
        self._close_consent()
        await self._release_capture_async()
        if not reader.done():
            assert self._checkpoint_evt is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._checkpoint_evt.wait(), 3.0)
        if self.config.rating_wait_s > 0 and not ws.close_code:
            self._linger_ws = ws  # kept open for the rating; closed by run()
        else:
            await self._close_ws(ws)
        return SessionOutcome(reason, by)

    async def _close_ws(self, ws: ClientConnection) -> None:
        try:
            await asyncio.wait_for(ws.close(), self.config.notify_timeout_s)
        except (TimeoutError, OSError, ConnectionClosed):
            pass
        finally:
            if ws.transport is not None:
                ws.transport.abort()  # a hung peer must not keep the socket open

    def _on_disconnect(self) -> None:
        # In-flight updates will never be acknowledged; the next frame is FULL in a
        # new epoch (the broker may have restarted the relay state).
        self._inflight.clear()
        if self._keys is not None:
            self._keys.disconnected()
        self._need_full = True

    # == reading ========================================================================

    async def _reader(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                if isinstance(raw, bytes):
                    self._on_binary(raw)
                else:
                    try:
                        msg = parse_control(raw)
                    except ProtocolError as exc:
                        log.warning("bad control message from broker: %s", exc.code)
                        continue
                    await self._dispatch(msg)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if self.killswitch.killed or self._end_reason is not None:
                return
            if code in FINAL_CLOSE_CODES:
                if code == 4000:
                    self._mark_ended("ended", "broker")
                    return
                raise FinalError("the broker closed the session", FINAL_CLOSE_CODES[code]) from exc
            raise ConnectionLost(f"connection lost (code {code})") from exc
        if self.killswitch.killed or self._end_reason is not None:
            return
        code = ws.close_code
        if code in FINAL_CLOSE_CODES:
            if code == 4000:
                self._mark_ended("ended", "broker")
                return
            raise FinalError("the broker closed the session", FINAL_CLOSE_CODES[code])
        raise ConnectionLost(f"connection closed (code {code})")

    def _mark_ended(self, reason: str, by: str) -> None:
        if self._end_reason is None:
            self._end_reason = (reason, by)
        if self._ended_evt is not None:
            self._ended_evt.set()

    def _on_binary(self, raw: bytes) -> None:
        try:
            frame = parse_binary(raw)
        except ProtocolError as exc:
            log.warning("bad binary frame from broker: %s", exc.code)
            return
        if isinstance(frame, AckFrame):
            for seq in [s for s in self._inflight if s <= frame.seq]:
                del self._inflight[seq]
            self._poke()
        elif isinstance(frame, InputFrame):
            self._on_input(frame)
        # screen updates never come to the agent; unknown kinds are skipped (SPEC §4)

    def _on_input(self, frame: InputFrame) -> None:
        gate = self._gate
        if gate is None:
            return
        result = gate.handle(frame)
        now = self._clock()
        who = result.viewer_id or f"v{frame.sender}"
        if result.applied_any:
            detail: dict[str, Any] = {"viewer_id": who, **result.summary.detail()}
            self._log_local("input.applied", detail, now, actor=who, name=self._name(who))
        elif result.rejected is not None:
            detail = {"viewer_id": who, "reason": result.rejected, "events": result.summary.dropped}
            self._log_local("input.dropped", detail, now, actor=who)

    async def _dispatch(self, msg: ControlMessage) -> None:
        now = self._clock()
        if isinstance(msg, ConsentRequest):
            self._on_consent_request(msg, now)
        elif isinstance(msg, KeyCommit):
            self._on_key_commit(msg)
        elif isinstance(msg, KeyReveal):
            self._on_key_reveal(msg)
        elif isinstance(msg, AuditRecipient):
            self._on_audit_recipient(msg)
        elif isinstance(msg, ViewerJoined):
            self.consent_names[msg.viewer_id] = msg.user.name
            self._user_names[msg.user.id] = msg.user.name
            self._publish_status()
        elif isinstance(msg, ViewerLeft):
            self._on_viewer_left(msg.viewer_id)
        elif isinstance(msg, PermissionRelease):
            if msg.viewer_id is not None:
                lost = self.consent.release(msg.viewer_id, msg.permissions)
                if lost is not None:
                    self._after_loss(msg.viewer_id, lost.permissions, "released")
        elif isinstance(msg, SessionStateMessage):
            self._on_session_state(msg)
        elif isinstance(msg, Refresh):
            self._need_full = True
            self._poke()
        elif isinstance(msg, Chat):
            sender = msg.from_.name if msg.from_ is not None else "?"
            self.observer.chat(sender, msg.text, msg.at_ms or now)
        elif isinstance(msg, LogEvent):
            if self.local_log is not None:
                self.local_log.record_broker(msg.record, now)
        elif isinstance(msg, CheckpointMessage):
            self._checkpoint = dict(msg.checkpoint)
            if self.local_log is not None:
                self.local_log.save_checkpoint(self._checkpoint)
            assert self._checkpoint_evt is not None
            if self._end_reason is not None:  # the final one seals session.ended
                self._checkpoint_evt.set()
        elif msg.type in CALL_MESSAGE_TYPES:
            self._on_call_message(msg)
        elif isinstance(msg, SessionEnded):
            self._mark_ended(msg.reason, msg.by)
        elif isinstance(msg, ErrorMessage):
            log.info("broker error: %s", msg.code)
        # Anything else is not for the agent: ignored.

    # == video call (agent.call) ==========================================================

    def _on_call_message(self, msg: ControlMessage) -> None:
        """Call signalling goes to the call runner only while someone holds ``video``
        (the consent machine is the authority; the broker checks it too)."""
        if self._call is None:
            if isinstance(msg, CallRequest):
                self.observer.notice("The engineer asks for a video call (not available here).")
            return
        if not self.consent.viewers_with("video") or self.killswitch.killed:
            return
        self._call.handle(msg)

    def _end_call_without_video(self) -> None:
        if self._call is not None and not self.consent.viewers_with("video"):
            with contextlib.suppress(Exception):
                if self._call.state not in ("idle", "ended"):
                    self._call.client_hangup("video_revoked")

    def _on_ring(self, on: bool) -> None:
        if on:
            viewers = self.consent.viewers_with("video")
            viewer_id = viewers[0] if viewers else ""
            self.observer.call_requested(viewer_id, self._name(viewer_id))

    # == consent ========================================================================

    @property
    def consent_names(self) -> dict[str, str]:
        """Verified names of viewers announced by ``viewer.joined``."""
        return self._names

    def _lookup_name(self, key: str) -> str | None:
        """A verified name for a viewer id or an audit actor (``engineer:<user id>``)."""
        if key in self._names:
            return self._names[key]
        _, _, user_id = key.partition(":")
        return self._user_names.get(user_id or key)

    def _name(self, viewer_id: str) -> str:
        return self.consent_names.get(viewer_id) or self.consent.viewer_name(viewer_id)

    def _on_consent_request(self, msg: ConsentRequest, now: int) -> None:
        try:
            prompt = self.consent.request(
                request_id=msg.request_id,
                viewer_id=msg.viewer_id,
                user_id=msg.user.id,
                user_name=msg.user.name,
                role=msg.user.role,
                ticket_id=msg.ticket.id,
                ticket_title=msg.ticket.title,
                permissions=msg.permissions,
                now_ms=now,
                expires_ms=msg.expires_ms - self._skew_ms,  # broker clock -> ours
            )
        except (ConsentError, ValueError) as exc:
            log.info("consent request refused: %s", exc)
            return
        self.consent_names.setdefault(msg.viewer_id, msg.user.name)
        self._user_names[msg.user.id] = msg.user.name
        self._set_phase("waiting", f"{msg.user.name} asks to connect")
        auto = self.config.auto_consent_for_tests
        if auto is not None:
            self.consent.mark_shown(prompt.request_id)
            self._answer(prompt.request_id, tuple(p for p in auto if p in prompt.permissions))
            return
        self.observer.prompt(prompt)
        self._poke()

    def _mark_shown(self, request_id: str) -> None:
        with contextlib.suppress(ConsentError):
            self.consent.mark_shown(request_id)

    def _answer(self, request_id: str, allowed: tuple[str, ...]) -> None:
        try:
            decision = self.consent.answer(request_id, allowed, self._clock())
        except (ConsentError, ValueError) as exc:
            self.observer.notice(f"That answer was not accepted: {exc}")
            return
        self._after_decision(decision)

    def _after_decision(self, decision: Decision) -> None:
        now = self._clock()
        name = self._name(decision.viewer_id)
        self.observer.prompt_closed(decision)
        if decision.granted:
            self._log_local(
                "consent.granted",
                {"viewer_id": decision.viewer_id, "permissions": ",".join(decision.granted)},
                now,
                name=name,
            )
            self._send(
                ConsentGrant(
                    request_id=decision.request_id,
                    viewer_id=decision.viewer_id,
                    permissions=decision.granted,
                )
            )
        if decision.denied:
            self._log_local(
                "consent.denied",
                {
                    "viewer_id": decision.viewer_id,
                    "permissions": ",".join(decision.denied),
                    "reason": decision.reason,
                },
                now,
                name=name,
            )
            if not decision.granted and decision.reason != "session_closed":
                self._send(
                    ConsentDeny(
                        request_id=decision.request_id,
                        viewer_id=decision.viewer_id,
                        permissions=decision.denied,
                    )
                )
        if "view" in decision.granted:
            self._maybe_wrap(decision.viewer_id)
        self._publish_status()

    def _revoke(self, viewer_id: str, permissions: tuple[str, ...]) -> None:
        try:
            lost = self.consent.revoke(viewer_id, permissions)
        except ValueError:
            return
        if lost is None:
            return
        self._send(ConsentRevoke(viewer_id=viewer_id, permissions=lost.permissions))
        self._after_loss(viewer_id, lost.permissions, "revoked")

    def _after_loss(self, viewer_id: str, lost: tuple[Permission, ...], how: str) -> None:
        self._log_local(
            "consent.revoked",
            {"viewer_id": viewer_id, "permissions": ",".join(lost), "how": how},
            self._clock(),
            name=self._name(viewer_id),
        )
        if "view" in lost:
            self._new_epoch()
        self._end_call_without_video()
        self._publish_status()

    async def _consent_timer(self) -> None:
        while True:
            deadline = self.consent.next_deadline()
            delay = 0.5 if deadline is None else max(0.0, (deadline - self._clock()) / 1000)
            await asyncio.sleep(min(delay, 0.5))
            for decision in self.consent.expire(self._clock()):
                self._after_decision(decision)

    def _close_consent(self) -> None:
        if self.consent.closed:
            return
        decisions, _ = self.consent.close()
        for decision in decisions:
            self.observer.prompt_closed(decision)
        if self._gate is not None:
            for viewer_id in list(self.consent.viewers()):
                self._gate.remove_viewer(viewer_id)

    def _on_viewer_left(self, viewer_id: str) -> None:
        lost, decisions = self.consent.viewer_left(viewer_id)
        for decision in decisions:
            self.observer.prompt_closed(decision)
        if self._keys is not None:
            self._keys.forget(viewer_id)
        if self._gate is not None:
            self._gate.remove_viewer(viewer_id)
        if lost is not None and "view" in lost.permissions:
            self._new_epoch()
        self._end_call_without_video()
        self._publish_status()

    def _on_session_state(self, msg: SessionStateMessage) -> None:
        present = {v.viewer_id for v in msg.viewers}
        for viewer_id in list(self.consent.viewers()):
            if viewer_id not in present:
                self._on_viewer_left(viewer_id)
        for v in msg.viewers:
            self.consent_names.setdefault(v.viewer_id, v.name)
        if msg.state == "ended":
            self._mark_ended(msg.reason or "ended", "broker")
        else:
            self._set_phase(msg.state)

    # == keys (SPEC §8, agent.e2ekeys) ===================================================

    def _on_key_commit(self, msg: KeyCommit) -> None:
        viewer_id, keys = msg.viewer_id, self._keys
        if viewer_id is None or keys is None or self.consent.closed:
            return
        try:
            self._send(keys.commit(viewer_id, msg.commitment))
        except E2EError:
            return

    def _on_key_reveal(self, msg: KeyReveal) -> None:
        viewer_id, keys = msg.viewer_id, self._keys
        if viewer_id is None or keys is None:
            return
        try:
            peer = keys.reveal(viewer_id, msg.viewer_public)
        except E2EError as exc:
            self._log_local(
                "key.exchanged",
                {"viewer_id": viewer_id, "ok": False, "reason": exc.code},
                self._clock(),
            )
            self.observer.notice("A viewer's encryption key did not match its commitment.")
            return
        if peer is None:
            return
        self._log_local(
            "key.exchanged", {"viewer_id": viewer_id, "ok": True}, self._clock(),
            name=self._name(viewer_id),
        )  # fmt: skip
        if self._gate is not None:
            self._gate.add_viewer(viewer_id, peer.input_key)
        self.observer.verification_code(viewer_id, self._name(viewer_id), peer.verification_code)
        self._maybe_wrap(viewer_id)
        self._publish_status()

    def _maybe_wrap(self, viewer_id: str) -> None:
        """Give a viewer the current content key once it holds view AND keys."""
        keys = self._keys
        if keys is None or self.killswitch.killed or not self.consent.may(viewer_id, "view"):
            return
        messages = keys.wrap(viewer_id)
        if not messages:
            return
        for msg in messages:
            self._send(msg)
        self._need_full = True  # the new viewer needs a complete picture
        self._inflight.clear()
        self._poke()

    def _new_epoch(self) -> None:
        """A viewer lost view: later frames use a key it never gets (SPEC §8.2)."""
        keys = self._keys
        if keys is None:
            return
        may_view = [] if self.killswitch.killed else self.consent.viewers_with("view")
        for msg in keys.new_epoch(may_view):
            self._send(msg)
        self._log_local("key.epoch", {"epoch": keys.epoch}, self._clock())
        self._need_full = True
        self._inflight.clear()

    def _on_audit_recipient(self, msg: AuditRecipient) -> None:
        keys = self._keys
        if keys is None:
            return
        try:
            keys.set_audit_recipient(msg.certificate, self._ca_pem)
        except Exception as exc:  # any failure: no key is ever wrapped for it
            log.warning("audit recipient certificate rejected: %s", exc)
            self.observer.notice(
                "The company's recording certificate could not be verified; "
                "the recording key is NOT shared."
            )
            self._log_local("audit.recipient_rejected", {"reason": str(exc)[:64]}, self._clock())
            return
        audit = keys.audit_wrap()
        if audit is not None and not self.killswitch.killed:
            self._send(audit)

    # == capture (G2, G5, G6) ============================================================

    def _can_send(self) -> bool:
        if not self.killswitch.capture_allowed() or self.consent.closed:
            return False
        keys = self._keys
        if keys is None or not any(self.consent.may(v, "view") for v in keys.wrapped):
            return False
        now = time.monotonic()
        for seq in [s for s, t in self._inflight.items() if now - t > INFLIGHT_EXPIRY_S]:
            del self._inflight[seq]
        return len(self._inflight) < MAX_INFLIGHT_UPDATES

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _capture_loop(self, ws: ClientConnection) -> None:
        interval = 1.0 / self.config.max_fps
        assert self._wake is not None
        while not self.killswitch.killed:
            if not self._can_send():
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.25)
                continue
            started = time.monotonic()
            full = self._need_full
            update = await asyncio.to_thread(self._grab, full)
            # Re-check after the grab: a kill, pause, revoke or epoch change may have
            # happened meanwhile. No await between this check and the send call.
            if update is None or not self._can_send():
                await asyncio.sleep(interval)
                continue
            if self._need_full and not full:
                # A viewer joined (or asked to refresh) during the grab: it must start
                # from a complete picture, so this partial update is dropped.
                continue
            assert self._keys is not None
            with self.killswitch.gate:  # check + commit is atomic w.r.t. kill / pause
                if not self._can_send():
                    continue
                frame = self._keys.seal(FLAG_FULL if full else 0, bytes(update))
                self.committed_seq = frame.seq
            if full:
                self._need_full = False
            data = bytes(frame)
            self._inflight[frame.seq] = time.monotonic()
            self.frames_sent += 1
            self.bytes_sent += len(data)
            try:
                await ws.send(data)
            except ConnectionClosed:
                return  # the reader reports why
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, interval - elapsed))

    def _grab(self, full: bool) -> ScreenUpdate | None:
        """Runs in a worker thread. Checks the kill flag before touching the screen."""
        if not self.killswitch.capture_allowed():
            return None
        self._capture_thread_busy.set()
        try:
            if self._pipeline is None:
                self._source = self._source_factory()
                self._pipeline = self._pipeline_factory(self._source)
            with self._mask_lock:
                regions, windows = self._masks
                gen = self._mask_gen
            if gen != self._applied_mask_gen:
                from agent.pipeline.mask import WindowMask

                self._pipeline.set_masks(regions, [WindowMask(title=t) for t in windows])
                self._applied_mask_gen = gen
                full = True
            if not self.killswitch.capture_allowed():
                return None
            self.grabs += 1
            update: ScreenUpdate | None = self._pipeline.next_update(full)
            with self._mask_lock:
                if self._mask_gen != gen:
                    return None  # masks changed during the grab: never send it
            return update
        finally:
            self._capture_thread_busy.clear()

    async def _release_capture_async(self) -> None:
        """Let a grab that was already running finish (bounded), then close the source."""
        for _ in range(50):
            if not self._capture_thread_busy.is_set():
                break
            await asyncio.sleep(0.01)
        self._release_capture()

    def _release_capture(self) -> None:
        """Close the capture source (the screen is no longer read)."""
        pipeline, source = self._pipeline, self._source
        self._pipeline = self._source = None
        if pipeline is not None:
            with contextlib.suppress(Exception):
                pipeline.close()
        if source is not None:
            with contextlib.suppress(Exception):
                source.close()

    # == pause, masks, chat, rating =======================================================

    def _after_pause(self) -> None:
        self._send(Pause())
        self._log_local("session.paused", {}, self._clock())
        self._publish_status()

    def _after_resume(self) -> None:
        self._send(Resume())
        self._need_full = True
        self._inflight.clear()
        self._log_local("session.resumed", {}, self._clock())
        self._publish_status()
        self._poke()

    def _after_masks(self, regions: int, windows: int) -> None:
        self._send(MaskUpdate(regions=regions, windows=windows))
        self._log_local("mask.changed", {"regions": regions, "windows": windows}, self._clock())
        self._need_full = True
        self._poke()

    def _send_chat(self, text: str) -> None:
        self._send(Chat(text=text))

    def _send_rating(self, score: int, comment: str) -> None:
        if self._rating_sent:
            return
        self._rating_sent = True
        self._send(Rating(score=score, comment=comment))
        if self._rating_evt is not None:
            self._rating_evt.set()

    # == helpers ========================================================================

    def _send(self, msg: Any) -> None:
        """Queue a control message (never blocks; dropped if disconnected)."""
        ws = self._ws or self._linger_ws
        if ws is None or self._loop is None:
            return
        text = serialize_control(msg)

        async def send() -> None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await ws.send(text)

        self._loop.create_task(send())

    def _log_local(
        self,
        event: str,
        detail: dict[str, Any],
        at_ms: int,
        *,
        actor: str = "client",
        name: str | None = None,
    ) -> None:
        if self.local_log is None:
            return
        shown = dict(detail)
        if name:
            shown["name"] = name[:64]
        self.local_log.record_local(event, shown, at_ms, actor=actor)
        if event in _FORWARDED_EVENTS:
            flat = {k: v for k, v in detail.items() if isinstance(v, (str, int, bool))}
            with contextlib.suppress(ProtocolError, ValueError):
                self._send(LogLocal(event=event, detail=flat))

    def _set_phase(self, phase: str, message: str = "") -> None:
        self._phase = phase
        self._publish_status(message)

    def _publish_status(self, message: str = "") -> None:
        viewers = []
        for viewer_id, (name, role, perms) in self.consent.viewers().items():
            keys = self._keys.peer_keys(viewer_id) if self._keys is not None else None
            viewers.append(
                ViewerStatus(
                    viewer_id,
                    self.consent_names.get(viewer_id, name),
                    role,
                    perms,
                    keys.verification_code if keys else None,
                )
            )
        phase = self._phase
        if self.killswitch.killed:
            phase = "ended"
        elif self.killswitch.paused and phase in ("live", "paused"):
            phase = "paused"
        self.observer.status(
            SessionStatus(
                phase=phase,
                session_id=self.session_id,
                ticket_id=self.ticket.ticket_id if self.ticket else None,
                ticket_title=self._ticket_title or None,
                viewers=tuple(viewers),
                sending=bool(self._keys and self._keys.wrapped)
                and self.killswitch.capture_allowed(),
                controlled_by=tuple(self._name(v) for v in self.consent.viewers_with("control")),
                message=message,
            )
        )

    def _shutdown_local(self) -> None:
        self._close_consent()
        self._release_capture()
        if self._injector is not None:
            with contextlib.suppress(Exception):
                self._injector.close()

    def _verify_log(self) -> LogVerification | None:
        if self.local_log is None:
            return None
        self.local_log.record_local("session.ended", {}, self._clock(), show=False)
        result = self.local_log.verify(self._checkpoint, self._checkpoint_signer())
        self.local_log.record_local(
            "log.verified",
            {"ok": result.ok, "summary": result.summary[:64]},
            self._clock(),
            show=False,  # the end screen shows the result
        )
        self.local_log.close()
        return result

    def _checkpoint_signer(self) -> Ed25519PublicKey | None:
        """The broker's checkpoint key, only from a certificate the organisation CA
        issued (from the enrollment file, or attached to the checkpoint)."""
        pem = self.config.checkpoint_signer_pem
        if not pem and self._checkpoint is not None:
            attached = self._checkpoint.get("certificate")
            pem = attached if isinstance(attached, str) else ""
        if not pem:
            return None
        try:
            from certs.verify import verify_checkpoint_signer

            certs = x509.load_pem_x509_certificates(pem.encode())
            roots = x509.load_pem_x509_certificates(self._ca_pem.encode())
            return verify_checkpoint_signer(certs[0], certs[1:] + roots, roots).public_key
        except Exception as exc:  # an unverifiable signer proves nothing
            log.warning("checkpoint signer certificate rejected: %s", exc)
            return None


def load_call_config() -> CallConfig | None:
    """Video-call settings from the environment, or None where aiortc/PyAV are missing
    or the settings are invalid (call requests are then answered with a notice)."""
    try:
        from agent.call.config import CallConfig

        return CallConfig.from_env()
    except Exception as exc:
        log.info("video calls unavailable: %s", exc)
        return None


def permissions_arg(values: Sequence[str]) -> tuple[Permission, ...]:
    """Parse permission names from the command line (raises ``AgentError``)."""
    try:
        return parse_permissions(values)
    except ValueError as exc:
        raise AgentError(str(exc)) from exc


__all__ = ["AgentSession", "SessionKilled", "load_call_config", "permissions_arg"]
