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
import ssl
from collections.abc import Awaitable
from typing import TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from agent.abort import queued_bytes, reset
from agent.connection import (
    Backoff,
    ConnectionLost,
    SessionTicket,
    make_ssl_context,
    open_agent_socket,
    redeem_code,
    request_help,
)
from agent.e2ekeys import SessionKeys
from agent.errors import FinalError
from agent.i18n import _
from agent.input import InputGate
from agent.locallog import LocalLog, default_session_dir
from agent.observer import SessionOutcome
from agent.session.consent_flow import ConsentFlow
from agent.session.core import SessionCore
from agent.session.dispatch import Reader
from agent.session.keys import KeyExchange
from agent.session.stream import Stream
from agent.session.waiting import queue_text
from protocol.messages import Kill, Welcome, serialize_control

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class Connector:
    """The session's connection part: REST request/redeem, the WebSocket with
    reconnects, serving one connection, and leaving it."""

    def __init__(
        self,
        core: SessionCore,
        reader: Reader,
        stream: Stream,
        consenting: ConsentFlow,
        exchange: KeyExchange,
    ) -> None:
        self._core = core
        self._reader = reader
        self._stream = stream
        self._consenting = consenting
        self._exchange = exchange
        self._ssl_ctx: ssl.SSLContext | None = None

    async def run(self) -> SessionOutcome:
        """Request help (or redeem), then connect and serve with reconnects."""
        cfg = self._core.config
        ssl_ctx = make_ssl_context(cfg.ca_pem, **cfg.client_identity())
        self._ssl_ctx = ssl_ctx  # kept to deliver a kill on a fresh connection
        # A CA rotation endorsed by a pinned root extends the pin (agent.trust);
        # network or format problems leave the pin as it is.
        from agent.trust import refresh_trust

        with contextlib.suppress(Exception):
            update = await self.unless_killed(
                refresh_trust(cfg.broker_url, ssl_ctx, cfg.ca_pem, store=cfg.enrollment_path)
            )
            if update is not None:
                self._core.ca_pem = update.ca_pem
        backoff = Backoff(max_s=cfg.reconnect_max_s)
        # 1. REST (retry network errors; a refusal is final)
        while True:
            if self._core.killswitch.killed:
                return SessionOutcome("killed_by_client", "client")
            try:
                # A hung broker must not hold the client: the kill switch interrupts.
                if cfg.code is not None:
                    ticket = await self.unless_killed(
                        redeem_code(cfg.broker_url, ssl_ctx, cfg.code, cfg.client_name)
                    )
                else:
                    ticket = await self.unless_killed(
                        request_help(cfg.broker_url, ssl_ctx, cfg.describe or "", cfg.client_name)
                    )
                if ticket is None:
                    return SessionOutcome("killed_by_client", "client")
                self._core.ticket = ticket
                if self._core.call is not None and ticket.ice_servers:
                    self._core.call.use_servers(ticket.ice_servers)  # the broker's TURN
                break
            except FinalError as exc:
                return SessionOutcome("auth_failed", details=(str(exc),))
            except ConnectionLost as exc:
                self._core.observer.notice(
                    _("Cannot reach the help desk: {reason}. Retrying…", reason=exc)
                )
                if await self.sleep_or_killed(backoff.next_delay()):
                    return SessionOutcome("killed_by_client", "client")
        self._core.session_id = self._core.ticket.session_id
        log_dir = default_session_dir(self._core.session_id, cfg.log_dir)
        self._core.local_log = LocalLog(log_dir, self._core.session_id, self._core.lookup_name)
        self._core.local_log.subscribe(self._core.observer.log_line)
        self._core.local_log.record_local(
            "session.requested",
            {"ticket": self._core.ticket.ticket_id, "mode": "code" if cfg.code else "request"},
            self._core.clock(),
        )
        self._tell_waiting(self._core.ticket)
        token = self._core.ticket.token
        self._core.session_token = token
        backoff.reset()
        # 2. WebSocket with reconnects
        while True:
            if self._core.killswitch.killed:
                return await self.finish_kill(None)
            try:
                held = self._core.local_log.last_broker_seq if self._core.local_log else None
                opened = await self.unless_killed(
                    open_agent_socket(cfg.ws_url, token, ssl_ctx, log_seq=held)
                )
                if opened is None:
                    return await self.finish_kill(None)
                ws, welcome = opened
            except FinalError as exc:
                if self._core.welcome is not None:
                    # A reconnect refused: the session ended while we were away (an
                    # outage past the grace period), not a bad code (issue 13).
                    return SessionOutcome("ended_while_away", "broker", details=(str(exc),))
                return SessionOutcome("auth_failed", details=(str(exc),))
            except ConnectionLost as exc:
                self._core.set_phase(
                    "reconnecting", _("Connection lost ({reason}); reconnecting…", reason=exc)
                )
                if await self.sleep_or_killed(backoff.next_delay()):
                    return await self.finish_kill(None)
                continue
            backoff.reset()
            token = welcome.resume_token or token
            self._core.session_token = token
            try:
                return await self.serve(ws, welcome)
            except ConnectionLost as exc:
                self._core.set_phase(
                    "reconnecting", _("Connection lost ({reason}); reconnecting…", reason=exc)
                )
                self.on_disconnect()
                if await self.sleep_or_killed(backoff.next_delay()):
                    return await self.finish_kill(None)
            finally:
                self._core.ws = None

    async def unless_killed(self, awaitable: Awaitable[_T]) -> _T | None:
        """Await ``awaitable`` unless the kill switch is pressed first (then cancel it
        and return None): no network wait can delay the end of a killed session."""
        assert self._core.killed_evt is not None
        task = asyncio.ensure_future(awaitable)
        killed = asyncio.ensure_future(self._core.killed_evt.wait())
        try:
            await asyncio.wait({task, killed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            killed.cancel()
        if task.done() and not self._core.killswitch.killed:
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            result = await task
            ws = result[0] if isinstance(result, tuple) else None
            if isinstance(ws, ClientConnection) and ws.transport is not None:
                ws.transport.abort()  # opened just as the kill came: drop it
        return None

    async def sleep_or_killed(self, delay: float) -> bool:
        """Sleep ``delay`` seconds unless killed first; True if killed."""
        assert self._core.killed_evt is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._core.killed_evt.wait(), delay)
        return self._core.killswitch.killed

    # == serving one connection ===========================================================

    async def serve(self, ws: ClientConnection, welcome: Welcome) -> SessionOutcome:
        """Serve one connection: reader, capture, consent timer, until kill or end."""
        self._core.ws = ws
        self._core.connections += 1
        self._core.welcome = welcome
        self._core.skew_ms = welcome.server_time_ms - self._core.clock()
        self._core.ticket_title = welcome.ticket.title
        if self._core.keys is None:
            self._core.keys = SessionKeys(welcome.session_id)
            self._core.gate = InputGate(
                welcome.session_id,
                self._core.consent,
                self._core.killswitch,
                self._core.injector,
                # Input lands on the view being captured (monitor origin and scale).
                transform=lambda: getattr(self._core.source, "transform", None),
            )
        else:
            # Reconnected: viewers kept their grants and keys at the broker; give them a
            # fresh epoch (whatever was in flight is lost) and start from a FULL frame.
            self._exchange.new_epoch()
        self._core.set_phase(welcome.state if welcome.state != "consent_pending" else "waiting")
        assert self._core.killed_evt is not None
        reader = asyncio.create_task(self._reader.read(ws), name="agent-reader")
        capture = asyncio.create_task(self._stream.capture_loop(ws), name="agent-capture")
        timer = asyncio.create_task(self._consenting.timer(), name="agent-consent-timer")
        killed = asyncio.create_task(self._core.killed_evt.wait(), name="agent-kill-wait")
        assert self._core.ended_evt is not None
        ended = asyncio.create_task(self._core.ended_evt.wait(), name="agent-end-wait")
        tasks = {reader, capture, timer, killed, ended}
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if killed in done or self._core.killswitch.killed:
                capture.cancel()
                return await self.finish_kill(ws, reader)
            if capture in done and capture.exception() is not None:
                # The screen cannot be captured (no display, source gone): say so, stop
                # everything locally first, then leave (the broker sees the agent go).
                error = capture.exception()
                self._core.observer.notice(_("Screen capture failed: {reason}", reason=error))
                self._consenting.close()
                await self._stream.release_capture_async()
                await self.close_ws(ws)
                return SessionOutcome("failed", details=(f"screen capture failed: {error}",))
            if reader in done:
                reader.result()  # raises ConnectionLost / FinalError
            reason, by = self._core.end_reason or ("failed", "")
            return await self.finish_ended(ws, reader, reason, by)
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

    async def finish_kill(
        self, ws: ClientConnection | None, reader: asyncio.Task[None] | None = None
    ) -> SessionOutcome:
        """After the local stop: log, tell the broker (short timeout), close."""
        record = self._core.killswitch.record
        at = record.at_ms if record else self._core.clock()
        if self._core.call is not None:
            self._core.call.kill()  # camera and microphone are stopped when this returns
        self._consenting.close()
        if self._core.local_log is not None:
            self._core.local_log.record_local(
                "kill.triggered", {"source": record.source if record else "?"}, at
            )
        await self._stream.release_capture_async()
        timeout = self._core.config.notify_timeout_s
        if ws is not None and queued_bytes(ws.transport) > 0:
            # Screen bytes still queued (a slow or stalled link): none may leave after
            # the kill. Reset at once (discarding them) and tell the broker anew.
            reset(ws.transport)
            if reader is not None:
                reader.cancel()
            ws = await self._kill_connection(timeout)
            reader = asyncio.create_task(self._reader.read(ws)) if ws is not None else None
        if ws is not None:
            try:
                await asyncio.wait_for(ws.send(serialize_control(Kill())), timeout)
                # Keep reading briefly for the signed checkpoint (capture is stopped).
                if reader is not None and not reader.done():
                    assert self._core.checkpoint_evt is not None
                    await asyncio.wait_for(self._core.checkpoint_evt.wait(), 2 * timeout)
            except (TimeoutError, ConnectionClosed, OSError):
                pass
            # Only control messages (kill) can be queued now: let them go, briefly.
            for _ in range(20):
                if queued_bytes(ws.transport) == 0:
                    break
                await asyncio.sleep(timeout / 20)
            reset(ws.transport)  # nothing of this connection may linger after a kill
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        return SessionOutcome("killed_by_client", "client")

    async def _kill_connection(self, timeout: float) -> ClientConnection | None:
        """A fresh connection to deliver ``kill`` on (the old one was reset)."""
        token, ssl_ctx = self._core.session_token, self._ssl_ctx
        if token is None or ssl_ctx is None:
            return None
        try:
            ws, _welcome = await asyncio.wait_for(
                open_agent_socket(self._core.config.ws_url, token, ssl_ctx, timeout), 2 * timeout
            )
        except (TimeoutError, OSError, ConnectionLost, FinalError, ConnectionClosed):
            return None
        return ws

    async def finish_ended(
        self, ws: ClientConnection, reader: asyncio.Task[None], reason: str, by: str
    ) -> SessionOutcome:
        """The broker ended the session: wait for the sealing checkpoint, linger for the rating."""
        self._consenting.close()
        await self._stream.release_capture_async()
        if not reader.done():
            assert self._core.checkpoint_evt is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._core.checkpoint_evt.wait(), 3.0)
        if self._core.config.rating_wait_s > 0 and not ws.close_code:
            self._core.linger_ws = ws  # kept open for the rating; closed by run()
        else:
            await self.close_ws(ws)
        return SessionOutcome(reason, by)

    async def close_ws(self, ws: ClientConnection) -> None:
        """Close the socket with a short timeout, then drop the transport."""
        try:
            await asyncio.wait_for(ws.close(), self._core.config.notify_timeout_s)
        except (TimeoutError, OSError, ConnectionClosed):
            pass
        finally:
            if ws.transport is not None:
                ws.transport.abort()  # a hung peer must not keep the socket open

    def _tell_waiting(self, ticket: SessionTicket) -> None:
        """While waiting the client learns their place in line and the latest answer
        time (a new request; an invitation goes straight to its engineer). The broker
        then pushes every change (``queue.position``, agent/session/dispatch.py)."""
        if ticket.queue_position is None:
            return
        self._core.observer.notice(queue_text(ticket.queue_position, None, ticket.answer_by_ms))

    def on_disconnect(self) -> None:
        # In-flight updates will never be acknowledged; the next frame is FULL in a
        # new epoch (the broker may have restarted the relay state).
        """The connection dropped: nothing in flight is acknowledged any more."""
        self._core.inflight.clear()
        if self._core.keys is not None:
            self._core.keys.disconnected()
        self._core.need_full = True
