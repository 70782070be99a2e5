"""Dialling out to the broker (G1, G8): HTTPS REST, then WSS ``/ws/agent``.

The agent never listens. It trusts ONLY the organisation CA (from the enrollment
file or ``--ca``), never the system store, so a public CA cannot vouch for a fake
broker. Errors fall into two kinds: network trouble (``ConnectionLost`` — retry with
``Backoff``) and final refusals (``FinalError`` — auth failure, session ended,
killed: never a silent reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
import ssl
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from agent.errors import AgentError, FinalError
from protocol.connection import BinaryReceived, Connection, ControlReceived, ErrorToSend
from protocol.ice import IceConfigError, IceServer, parse_ice_servers
from protocol.limits import HEARTBEAT_INTERVAL_S, HEARTBEAT_TIMEOUT_S
from protocol.messages import ErrorMessage, Hello, Welcome, serialize_control
from protocol.pacing import backoff_s

log = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("clearpane.v1")
CLIENT_ID = "clearpane-agent/0.1"
#: Close codes after which reconnecting is pointless (SPEC §7).
FINAL_CLOSE_CODES = {4000: "session_ended", 4401: "unauthorized", 4403: "forbidden"}


class ConnectionLost(AgentError):
    """A network error: the session may reconnect after a backoff."""


@dataclass(frozen=True, slots=True)
class SessionTicket:
    """What REST returns for a new request or a redeemed code."""

    session_id: str
    ticket_id: str
    token: str
    #: A new request only: when an engineer answers at the latest, and its place in line.
    answer_by_ms: int | None = None
    queue_position: int | None = None
    #: The STUN/TURN servers the broker gives this session's calls (TURN with its
    #: short-lived REST credentials, broker/ice.py); () when it gives none or a bad list.
    ice_servers: tuple[IceServer, ...] = ()

    def __repr__(self) -> str:  # never print the token
        return f"SessionTicket(session_id={self.session_id!r}, ticket_id={self.ticket_id!r})"


def make_ssl_context(
    ca_pem: str,
    *,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    key_password: bytes | None = None,
) -> ssl.SSLContext:
    """A client TLS context that trusts only ``ca_pem`` and checks the host name.

    ``client_cert``/``client_key`` present a managed agent's certificate (mutual TLS,
    issued with ``clearpane certs issue client NAME --kind agent``).
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if client_cert is not None:
        try:
            ctx.load_cert_chain(client_cert, client_key, password=key_password)
        except (OSError, ssl.SSLError) as exc:
            raise FinalError(f"cannot load the client certificate: {exc}", "tls") from exc
    return ctx


class Backoff:
    """Reconnect delays: :func:`protocol.pacing.backoff_s` (×2 from ``first_s`` up to
    ``max_s``, 20 % jitter); ``random`` is injectable for tests."""

    def __init__(
        self, first_s: float = 0.5, max_s: float = 30.0, rng: random.Random | None = None
    ) -> None:
        self._first, self._max = first_s, max_s
        self._rng = rng or random.Random()
        self.attempts = 0

    def next_delay(self) -> float:
        """The delay before the next attempt."""
        self.attempts += 1
        return backoff_s(self.attempts, self._first, self._max, jitter=0.2, rng=self._rng)

    def reset(self) -> None:
        """After a successful connection."""
        self.attempts = 0


def broker_connection() -> Connection:
    """The connection rules for what the broker sends (SPEC §1, §2, §7): the same
    :class:`protocol.Connection` as the broker's side, without ``hello`` (the agent
    says it) and without a rate limit (the broker forwards every viewer's traffic)."""
    return Connection(now_ms=_monotonic_ms(), rate=None)


def received(conn: Connection, raw: str | bytes) -> list[ControlReceived | BinaryReceived]:
    """Feed one frame from the broker into ``conn``; return what to act on.

    A non-fatal mistake (unknown type, bad field) is logged and skipped: the agent
    does not argue with its broker. After a fatal one ``conn.closed`` is set, with the
    close code to use."""
    if isinstance(raw, bytes):
        conn.receive_binary(raw, _monotonic_ms())
    else:
        conn.receive_text(raw, _monotonic_ms())
    conn.data_to_send()  # ``error`` replies are not sent to the broker
    out: list[ControlReceived | BinaryReceived] = []
    for event in conn.events_received():
        if isinstance(event, ControlReceived | BinaryReceived):
            out.append(event)
        elif isinstance(event, ErrorToSend):
            log.warning("bad message from broker: %s", event.error.code)
        else:
            log.warning("broker broke the protocol: %s", event.error)
    return out


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


async def _post(
    base_url: str,
    path: str,
    body: dict[str, Any],
    ssl_ctx: ssl.SSLContext,
    timeout_s: float,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(base_url.rstrip("/") + path, json=body, ssl=ssl_ctx, headers=headers) as resp,
        ):
            data = await resp.json(content_type=None)
            if resp.status >= 400:
                err = data.get("error", {}) if isinstance(data, dict) else {}
                message = err.get("message") or f"HTTP {resp.status}"
                code = err.get("code") or "http_error"
                if resp.status in (400, 401, 403, 404, 409, 410, 422):
                    raise FinalError(f"the broker refused: {message}", code)
                raise ConnectionLost(f"the broker failed: {message}")
    except aiohttp.ClientConnectorCertificateError as exc:
        # An impostor (or misconfigured) broker is final, never retried (G8).
        raise FinalError("the broker's certificate is not from the organisation CA", "tls") from exc
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise ConnectionLost(f"cannot reach the broker: {exc}") from exc
    except aiohttp.ClientError as exc:
        raise ConnectionLost(f"HTTP error talking to the broker: {exc}") from exc
    if not isinstance(data, dict):
        raise ConnectionLost("the broker answered something that is not a JSON object")
    return data


def _ticket(data: dict[str, Any]) -> SessionTicket:
    try:
        ticket = SessionTicket(str(data["session_id"]), str(data["ticket_id"]), str(data["token"]))
    except KeyError as exc:
        raise ConnectionLost(f"the broker's answer lacks {exc}") from exc
    position = data.get("queue_position")
    answer_by = data.get("answer_by")
    answer_ms = None
    if isinstance(answer_by, str):
        with contextlib.suppress(ValueError):
            answer_ms = int(dt.datetime.fromisoformat(answer_by).timestamp() * 1000)
    return replace(
        ticket,
        answer_by_ms=answer_ms,
        queue_position=position if isinstance(position, int) and position > 0 else None,
        ice_servers=_ice_servers(data.get("ice_servers")),
    )


def _ice_servers(value: Any) -> tuple[IceServer, ...]:
    """The broker's ``ice_servers`` (a list of ``RTCIceServer`` dictionaries), checked
    like the agent's own setting; a malformed list is ignored (calls then use only the
    agent's own servers), never fatal."""
    if not isinstance(value, list) or not value:
        return ()
    try:
        return parse_ice_servers(json.dumps(value), require_turn_credentials=True)
    except IceConfigError as exc:
        log.warning("ignoring the broker's ice_servers: %s", exc)
        return ()


async def request_help(
    base_url: str,
    ssl_ctx: ssl.SSLContext,
    description: str,
    client_name: str,
    timeout_s: float = 10.0,
) -> SessionTicket:
    """``POST /api/v1/agent/requests``: a new ticket and a queued request."""
    body = {"description": description, "client_name": client_name}
    return _ticket(await _post(base_url, "/api/v1/agent/requests", body, ssl_ctx, timeout_s))


async def redeem_code(
    base_url: str, ssl_ctx: ssl.SSLContext, code: str, client_name: str, timeout_s: float = 10.0
) -> SessionTicket:
    """``POST /api/v1/agent/redeem``: join an existing ticket with an invitation code."""
    body = {"code": code.strip(), "client_name": client_name}
    return _ticket(await _post(base_url, "/api/v1/agent/redeem", body, ssl_ctx, timeout_s))


async def open_agent_socket(
    ws_url: str,
    token: str,
    ssl_ctx: ssl.SSLContext,
    timeout_s: float = 10.0,
    *,
    log_seq: int | None = None,
) -> tuple[ClientConnection, Welcome]:
    """Connect to ``/ws/agent``, send ``hello`` first, return the socket and ``welcome``.

    Raises ``FinalError`` when the broker refuses the token or the session is over,
    ``ConnectionLost`` on network trouble.
    """
    try:
        ws = await connect(
            ws_url,
            ssl=ssl_ctx,
            subprotocols=[SUBPROTOCOL],
            compression=None,  # payloads are JPEG or ciphertext (SPEC §1)
            origin=None,
            open_timeout=timeout_s,
            # P10: a half-open link is noticed within DEAD_LINK_S (ping every 4 s,
            # dead after 5 s without its pong).
            ping_interval=HEARTBEAT_INTERVAL_S,
            ping_timeout=HEARTBEAT_TIMEOUT_S,
            close_timeout=1,
            max_size=8 * 1024 * 1024,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403, 404, 410):
            raise FinalError("the broker refused the connection", f"http_{status}") from exc
        raise ConnectionLost(f"WebSocket upgrade failed: HTTP {status}") from exc
    except ssl.SSLCertVerificationError as exc:
        # A broker whose certificate the organisation CA did not sign is not ours.
        raise FinalError("the broker's certificate is not from the organisation CA", "tls") from exc
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        raise ConnectionLost(f"cannot connect to the broker: {exc}") from exc
    try:
        # log_seq: the last broker log record we hold; the broker re-sends the rest.
        await ws.send(serialize_control(Hello(token=token, client=CLIENT_ID, log_seq=log_seq)))
        raw = await asyncio.wait_for(ws.recv(), timeout_s)
    except Exception as exc:
        await ws.close()
        code = ws.close_code
        if code in FINAL_CLOSE_CODES:
            raise FinalError("the broker refused the session", FINAL_CLOSE_CODES[code]) from exc
        raise ConnectionLost(f"lost the connection during the handshake: {exc}") from exc
    conn = broker_connection()
    events = received(conn, raw)
    if conn.closed or not events or not isinstance(events[0], ControlReceived):
        await ws.close()
        raise ConnectionLost(f"bad handshake message: {conn.close_reason or 'not a control'}")
    msg = events[0].message
    if isinstance(msg, ErrorMessage):
        await ws.close()
        if msg.code in ("unauthorized", "forbidden", "session_ended"):
            raise FinalError(f"the broker refused the session: {msg.message}", msg.code)
        raise ConnectionLost(f"the broker answered with an error: {msg.code}")
    if not isinstance(msg, Welcome):
        await ws.close()
        raise ConnectionLost(f"expected welcome, got {msg.type}")
    return ws, msg


async def post_rating(
    base_url: str,
    ssl_ctx: ssl.SSLContext,
    token: str,
    score: int,
    comment: str,
    timeout_s: float = 10.0,
) -> None:
    """``POST /api/v1/agent/rating`` with the session token: the rating after the end,
    when the session's socket is gone (after a kill). ``FinalError`` if refused (code
    ``not_ended``, ``conflict`` = already rated, ``gone`` = too late, ...)."""
    body: dict[str, Any] = {"score": score}
    if comment:
        body["comment"] = comment
    headers = {"Authorization": f"Bearer {token}"}
    await _post(base_url, "/api/v1/agent/rating", body, ssl_ctx, timeout_s, headers)


async def _get(
    base_url: str, path: str, ssl_ctx: ssl.SSLContext, timeout_s: float, headers: dict[str, str]
) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(base_url.rstrip("/") + path, ssl=ssl_ctx, headers=headers) as resp,
        ):
            data = await resp.json(content_type=None)
            if resp.status >= 400:
                err = data.get("error", {}) if isinstance(data, dict) else {}
                message = err.get("message") or f"HTTP {resp.status}"
                if resp.status in (400, 401, 403, 404, 409, 410):
                    raise FinalError(
                        f"the broker refused: {message}", err.get("code") or "http_error"
                    )
                raise ConnectionLost(f"the broker failed: {message}")
    except aiohttp.ClientConnectorCertificateError as exc:
        raise FinalError("the broker's certificate is not from the organisation CA", "tls") from exc
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise ConnectionLost(f"cannot reach the broker: {exc}") from exc
    except aiohttp.ClientError as exc:
        raise ConnectionLost(f"HTTP error talking to the broker: {exc}") from exc
    if not isinstance(data, dict):
        raise ConnectionLost("the broker answered something that is not a JSON object")
    return data


async def get_ticket_status(
    base_url: str, ssl_ctx: ssl.SSLContext, token: str, timeout_s: float = 10.0
) -> dict[str, Any]:
    """``GET /api/v1/agent/ticket`` with the session token: the ticket's status, its
    resolution and, while it is resolved, when it closes by itself (docs/workflow.md)."""
    headers = {"Authorization": f"Bearer {token}"}
    return await _get(base_url, "/api/v1/agent/ticket", ssl_ctx, timeout_s, headers)


async def post_closure(
    base_url: str,
    ssl_ctx: ssl.SSLContext,
    token: str,
    accept: bool,
    comment: str = "",
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """``POST /api/v1/agent/closure``: the client confirms the resolution (``accept``)
    or reopens the ticket. ``FinalError`` ``conflict`` if it is no longer resolved."""
    body: dict[str, Any] = {"accept": accept}
    if comment:
        body["comment"] = comment[:2000]
    headers = {"Authorization": f"Bearer {token}"}
    return await _post(base_url, "/api/v1/agent/closure", body, ssl_ctx, timeout_s, headers)
