"""The certificate authority over HTTP: the admin page's API, the CRL and the trust
bundle agents refresh their pin from (certs.rotation).

Admin-only: ``GET /admin/certs`` (every certificate with expiry and status, expiry
warnings, rotation stage), ``POST /admin/certs`` (issue), ``POST
/admin/certs/{serial}/revoke``. Public: ``GET /crl`` (PEM) and ``GET /trust-bundle``.
Every CA action goes through :class:`certs.store.CaStore`, which records it in
``DATA_DIR/ca/audit.jsonl`` before writing anything, with the admin's username as actor.
Private keys issued here are returned once, encrypted with a one-time passphrase that
is also returned once (never logged, never stored).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization

from audit.jsonl import event_sink
from broker.api.body import Query, read_body
from broker.auth.policy import USER
from broker.config import CONFIG
from broker.errors import BrokerError, Conflict, InvalidField, NotFound
from broker.tls_reload import TLS
from certs import index, rotation
from certs.ca import IssuedCert
from certs.crl import REASONS
from certs.errors import CaStateError, CertError, IssuanceError
from certs.layout import CaLayout
from certs.store import CaStore

__all__ = ["crl", "issue_cert", "list_certs", "revoke_cert", "trust_bundle"]

PROFILES = ("client", "server", "broker-server")


class CaUnavailable(BrokerError):
    """The CA's files or passphrase are not usable (the message says which)."""

    code = "internal"
    status = 503


def _store(request: web.Request) -> CaStore:
    config = request.app[CONFIG]
    passphrase = config.ca_passphrase.encode() if config.ca_passphrase else None
    user = request.get(USER)
    actor = f"admin:{user.username}" if user is not None else "broker"
    layout = CaLayout.in_data_dir(config.data_dir)
    return CaStore(config.data_dir, passphrase, events=event_sink(layout.audit_log, actor))


async def crl(request: web.Request) -> web.Response:
    """``GET /api/v1/crl``: the current CRL(s), PEM."""
    Query(request, ())
    path = CaLayout.in_data_dir(request.app[CONFIG].data_dir).crl
    try:
        body = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise NotFound("no CRL has been published") from None
    return web.Response(body=body, content_type="application/x-pem-file")


async def trust_bundle(request: web.Request) -> web.Response:
    """``GET /api/v1/trust-bundle``: the roots agents should pin, with endorsements."""
    Query(request, ())
    bundle = await asyncio.to_thread(lambda: _store(request).trust_bundle())
    return web.json_response(bundle.to_json())


async def list_certs(request: web.Request) -> web.Response:
    """``GET /api/v1/admin/certs``"""
    Query(request, ())

    def gather() -> dict[str, Any]:
        store = _store(request)
        return {
            "certificates": [r.to_json() for r in reversed(store.records())],
            "warnings": store.expiry_warnings(),
            "rotation": rotation.status(store).to_json(),
        }

    return web.json_response(await asyncio.to_thread(gather))


def _key_pem(issued: IssuedCert, passphrase: bytes) -> str:
    return issued.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    ).decode("ascii")


async def issue_cert(request: web.Request) -> web.Response:
    """``POST /api/v1/admin/certs`` ``{profile, days, name?, kind?, dns?, ips?}``."""
    body = await read_body(
        request,
        allowed={"profile", "days", "name", "kind", "dns", "ips"},
        required={"profile", "days"},
    )
    profile = body.choice("profile", PROFILES)
    days = body.opt_int("days", low=1, high=397)
    assert days is not None  # required
    lifetime = dt.timedelta(days=days)
    name = body.opt_text("name", max_len=64)
    kind = body.opt_choice("kind", ("agent", "staff")) or "agent"
    dns = body.opt_str_list("dns", max_len=253) or []
    ips = body.opt_str_list("ips", max_len=45) or []
    if profile == "client" and not name:
        raise InvalidField("name", "is required for a client certificate")

    def run() -> tuple[IssuedCert, bool]:
        store = _store(request)
        if profile == "client":
            assert name is not None
            return store.issue_client(name, kind=kind, lifetime=lifetime), True
        if profile == "server":
            return store.issue_server(dns, ips, lifetime=lifetime), True
        return store.renew_broker_server(dns or None, ips or None, lifetime=lifetime), False

    try:
        issued, hand_out_key = await asyncio.to_thread(run)
    except IssuanceError as exc:
        raise InvalidField("profile" if not (dns or ips or name) else "name", exc.reason) from None
    except CertError as exc:
        raise CaUnavailable(str(exc)) from None
    request.app[TLS].reload()  # on the loop thread: the context is in use here
    record = index.describe(issued.cert, {}, dt.datetime.now(dt.UTC))
    result: dict[str, Any] = {
        "certificate": record.to_json(),
        "cert_pem": issued.fullchain_pem().decode("ascii"),
    }
    if hand_out_key:
        passphrase = secrets.token_urlsafe(18)
        result["key_pem"] = _key_pem(issued, passphrase.encode("ascii"))
        result["key_passphrase"] = passphrase
    return web.json_response(result, status=201)


async def revoke_cert(request: web.Request) -> web.Response:
    """``POST /api/v1/admin/certs/{serial}/revoke`` ``{reason?}``; 404 unknown serial,
    409 already revoked."""
    body = await read_body(request, allowed={"reason"})
    reason = body.opt_choice("reason", tuple(REASONS)) or "unspecified"
    serial = request.match_info["serial"]

    def run() -> dict[str, Any]:
        store = _store(request)
        try:
            index.find_issued(store.layout, index.parse_serial(serial))
        except CaStateError as exc:
            raise NotFound(str(exc)) from None
        try:
            record = store.revoke(serial, reason)
        except CaStateError as exc:
            raise Conflict(str(exc)) from None
        return record.to_json()

    try:
        record = await asyncio.to_thread(run)
    except CertError as exc:
        raise CaUnavailable(str(exc)) from None
    request.app[TLS].reload()  # enforce the new CRL from the next handshake
    return web.json_response({"certificate": record})
