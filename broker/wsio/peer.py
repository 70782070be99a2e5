"""One accepted socket driven by its :class:`protocol.Connection` (aiohttp's public
API only): frames in, events out to the relay, what the connection wants sent or
closed out through the peer's :class:`WsEndpoint`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import WSMessage, WSMsgType, web

from broker.wsio.sender import WsEndpoint
from protocol.connection import BinaryReceived, Connection, ControlReceived
from protocol.errors import ProtocolError
from protocol.media import BinaryMessage
from protocol.messages import ControlMessage, Hello

OnText = Callable[[ControlMessage], Awaitable[None]]
OnBinary = Callable[[BinaryMessage, bytes], Awaitable[None]]


def now_ms() -> int:
    """The connection's clock (monotonic milliseconds)."""
    return time.monotonic_ns() // 1_000_000


class Peer:
    """A prepared ``WebSocketResponse``, its ``Connection`` and its sender."""

    def __init__(self, ws: web.WebSocketResponse, conn: Connection, endpoint: WsEndpoint) -> None:
        self.ws, self.conn, self.endpoint = ws, conn, endpoint
        self.log_seq: int | None = None  # from the agent's hello (the log resumes)

    async def hello(self) -> Hello | None:
        """Read until the ``hello`` (the connection enforces first, once, in time);
        None if the peer broke a rule or went away."""
        ws, conn = self.ws, self.conn
        while not conn.closed:
            try:
                msg = await ws.receive(timeout=conn.handshake_time_left(now_ms()))
            except TimeoutError:
                conn.check_timeouts(now_ms())
            else:
                if not self._feed(msg):
                    return None
            for event in conn.events_received():
                if isinstance(event, ControlReceived) and isinstance(event.message, Hello):
                    return event.message
            await self._flush()
        return None

    async def serve(self, on_text: OnText, on_binary: OnBinary) -> None:
        """Until the socket closes: every frame into the connection, its events out."""
        ws, conn, endpoint = self.ws, self.conn, self.endpoint
        while not conn.closed:
            msg = await ws.receive()
            if not self._feed(msg):
                return
            for event in conn.events_received():
                if isinstance(event, BinaryReceived):
                    await on_binary(event.message, msg.data)
                elif isinstance(event, ControlReceived):
                    await on_text(event.message)
            for text in conn.data_to_send():  # non-fatal errors, or the fatal one
                endpoint.send_text(text)
        await self._flush()

    async def refuse(self, error: ProtocolError) -> web.WebSocketResponse:
        """Report ``error`` and close (with its SPEC §7 code; 1008 if it has none)."""
        if error.close_code is None:
            error = ProtocolError(error.code, error.message, 1008)
        self.conn.fail(error)
        await self._flush()
        return self.ws

    def _feed(self, msg: WSMessage) -> bool:
        if msg.type is WSMsgType.BINARY:
            self.conn.receive_binary(msg.data, now_ms())
        elif msg.type is WSMsgType.TEXT:
            self.conn.receive_text(msg.data, now_ms())
        else:  # CLOSE, CLOSING, CLOSED, ERROR (aiohttp already closed with 1009 if too big)
            return False
        return True

    async def _flush(self) -> None:
        conn, endpoint = self.conn, self.endpoint
        for text in conn.data_to_send():
            endpoint.send_text(text)
        if conn.close_code is not None:
            endpoint.close(conn.close_code, conn.close_reason or "")
            await endpoint.wait_closed()
