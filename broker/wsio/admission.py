"""Who may open a socket (SPEC §1, §3.1): the viewer's Origin, the ``hello`` token,
the session row. Each check returns the refusal as a :class:`ProtocolError` for the
connection to send; nothing here touches the socket."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from broker.auth import revocation
from broker.auth.setup import TOKENS
from broker.auth.tokens import AuthError, Claims
from broker.clock import CLOCK
from broker.config import CONFIG
from broker.pki import PKI
from broker.relay import SessionInfo
from broker.store import queries
from broker.store.db import DB
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import Hello


def origin_ok(request: web.Request) -> bool:
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


def verify_hello(app: web.Application, hello: Hello, typ: str) -> Claims | ProtocolError:
    """The claims of a ``hello`` token for endpoint ``typ`` (``agent``/``viewer``)."""
    try:
        claims = app[TOKENS].verify(hello.token, typ)
    except AuthError as exc:
        return ProtocolError.of(ErrorCode.UNAUTHORIZED, f"token: {exc}")
    if claims.sid is None:
        return ProtocolError.of(ErrorCode.UNAUTHORIZED, "token has no session")
    return claims


async def session_info(app: web.Application, sid: str) -> SessionInfo | ProtocolError:
    """What the relay needs to know about ``sid``; refused if unknown or ended (G5)."""
    db = app[DB]
    row = await queries.get_session(db, sid)
    if row is None:
        return ProtocolError.of(ErrorCode.UNAUTHORIZED, "no such session")
    if row.state == "ended":
        return ProtocolError.of(ErrorCode.SESSION_ENDED, "the session has ended")
    ticket = await queries.get_ticket(db, row.ticket_id)
    try:
        audit_pem: str | None = app[PKI].audit_recipient_pem()
    except OSError:
        audit_pem = None
    return SessionInfo(
        session_id=sid,
        ticket_id=row.ticket_id,
        ticket_title=ticket.title if ticket is not None else "",
        client_name=row.client_name or "client",
        audit_recipient_pem=audit_pem,
    )


async def viewer_user(app: web.Application, claims: Claims) -> queries.User | ProtocolError:
    """The enabled user behind a viewer token: not revoked (broker/auth/revocation.py)
    and used for the first time (a join token opens one connection only)."""
    db = app[DB]
    user = await queries.get_user(db, claims.sub)
    if user is None or user.disabled:
        return ProtocolError.of(ErrorCode.UNAUTHORIZED, "unknown user")
    if not revocation.same_generation(user, claims):
        return ProtocolError.of(ErrorCode.UNAUTHORIZED, "token revoked")
    if not await revocation.spend_once(db, claims, now_ms=app[CLOCK].now_ms()):
        return ProtocolError.of(ErrorCode.UNAUTHORIZED, "this join token was already used")
    return user


async def engineer_still_may_join(
    app: web.Application, sid: str, user_id: str
) -> ProtocolError | None:
    """A join token as engineer, checked against the store at connection time (issue
    19): once the session went to another engineer (a transfer), a token issued before
    it no longer opens an engineer's connection; a transfer's or invitation's own token
    carries the hand-over and is not checked here."""
    session = await queries.get_session(app[DB], sid)
    if session is None or session.state in queries.WAITING_STATES:
        return None
    if session.engineer_id not in (None, user_id):
        return ProtocolError.of(ErrorCode.FORBIDDEN, "this session was handed to another engineer")
    return None
