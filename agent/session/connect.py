"""Getting connected and leaving (DESIGN §4 steps 1 and 5; G1, G5).

The REST request (or code redemption) with retries, the WebSocket with backoff
reconnects, serving one connection (reader, capture loop, consent timer), and the
two ways out: a kill (tell the broker with short timeouts, then close) and an
end announced by the broker (wait for the sealing checkpoint, linger for the
rating). Every network wait is interrupted by the kill switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from agent.connection import (
    Backoff,
    ConnectionLost,
    make_ssl_context,
    open_agent_socket,
    redeem_code,
    request_help,
)
from agent.e2ekeys import SessionKeys
from agent.errors import FinalError
from agent.input import InputGate
from agent.locallog import LocalLog, default_session_dir
from agent.observer import SessionOutcome
from agent.session.dispatch import DispatchMixin
from protocol.messages import Kill, Welcome, serialize_control

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class ConnectMixin(DispatchMixin):
    """REST request/redeem, the WebSocket with reconnects, and leaving it."""

    async def _run(self) -> SessionOutcome:
        cfg = self.config
        ssl_ctx = make_ssl_context(cfg.ca_pem, **cfg.client_identity())
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
        self._session_token = token
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
            self._session_token = token
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
                welcome.session_id,
                self.consent,
                self.killswitch,
                self._injector,
                # Input lands on the view being captured (monitor origin and scale).
                transform=lambda: getattr(self._source, "transform", None),
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
