"""The broker's TLS context, kept current while the broker runs.

:class:`TlsReloader` owns the ONE ``ssl.SSLContext`` the listening ``TCPSite`` uses.
When ``server.pem``/``server.key`` change (``clearpane certs issue server --broker``,
a rotation stage, the admin page), it calls ``load_cert_chain`` on that same context:
new handshakes present the new certificate, established connections (live sessions)
keep theirs — nothing is dropped. The same goes for the CRL and the trusted roots
used for optional mutual TLS.

Mutual TLS (``config.mtls_agents``): the listener asks for a client certificate
(``CERT_OPTIONAL``, so browsers without one still work), OpenSSL verifies any
certificate presented against the CA bundle with ``VERIFY_CRL_CHECK_LEAF`` (a revoked
certificate fails the handshake), and :func:`agent_cert_middleware` requires one on the
agent endpoints (``/ws/agent``, ``/api/v1/agent/``) and re-checks it with
``certs.verify`` (PolicyBuilder + CRL) — OpenSSL's trust store only ever grows, so
this is what refuses a retired root after a rotation.

:func:`tls_ctx` (a cleanup context) polls the files every
``config.tls_reload_interval_s``, re-signs the CRL before it goes stale and logs a
WARNING for certificates close to expiry (also shown on the admin page).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from cryptography import x509

from audit.jsonl import event_sink
from broker.auth.policy import Handler
from broker.config import CONFIG
from broker.errors import Forbidden
from broker.pki import PKI
from certs.crl import load_crls
from certs.errors import CertError
from certs.keys import load_certificates
from certs.layout import CaLayout
from certs.store import CaStore
from certs.verify import verify_client_chain

__all__ = ["TLS", "TlsReloader", "agent_cert_middleware", "setup_tls", "tls_ctx"]

log = logging.getLogger(__name__)

WARN_EVERY_S = 3600.0
AGENT_PATHS = ("/ws/agent", "/api/v1/agent/")

# The listener's SSLContext, reloaded in place (created by tls_ctx).
TLS = web.AppKey["TlsReloader"]("tls")


class TlsReloader:
    """The server ``SSLContext`` and what it was loaded from (see the module doc)."""

    def __init__(self, layout: CaLayout, *, client_auth: bool = False) -> None:
        self.layout = layout
        self.client_auth = client_auth
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._stamp: tuple[tuple[int, int], ...] = ()
        self.reloads = 0
        self.reload()

    def _files(self) -> list[Path]:
        layout = self.layout
        return [layout.server_cert, layout.server_key, layout.crl, layout.bundle, layout.root_cert]

    def _current_stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for path in self._files():
            try:
                st = path.stat()
                stamps.append((st.st_mtime_ns, st.st_ino))
            except FileNotFoundError:
                stamps.append((0, 0))
        return tuple(stamps)

    def trusted_roots_path(self) -> Path:
        """The bundle during a rotation, else the root."""
        return self.layout.bundle if self.layout.bundle.exists() else self.layout.root_cert

    def reload(self, *, force: bool = False) -> bool:
        """Load the files again if any changed; return whether it did."""
        stamp = self._current_stamp()
        if stamp == self._stamp and not force:
            return False
        # Certificate and key are read together: a half-written pair fails here and the
        # context keeps the previous one (load_cert_chain is all or nothing).
        self.context.load_cert_chain(self.layout.server_cert, self.layout.server_key)
        if self.client_auth:
            self.context.load_verify_locations(cafile=self.trusted_roots_path())
            if self.layout.crl.exists():
                self.context.load_verify_locations(cafile=self.layout.crl)
            self.context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
            self.context.verify_mode = ssl.CERT_OPTIONAL
        self._stamp = stamp
        self.reloads += 1
        leaf = load_certificates(self.layout.server_cert)[0]
        log.info(
            "TLS certificate loaded: serial %x, valid until %s",
            leaf.serial_number,
            leaf.not_valid_after_utc.isoformat(),
        )
        return True

    def check_client(self, der: bytes) -> x509.Certificate:
        """Verify a client certificate (DER) against the current roots and CRLs;
        raises :class:`~certs.errors.CertError`."""
        leaf = x509.load_der_x509_certificate(der)
        intermediates = load_certificates(self.layout.issuing_cert)
        old = self.layout.rotation_dir / "old-issuing.pem"
        if old.exists():
            intermediates += load_certificates(old)
        roots = load_certificates(self.trusted_roots_path())
        verify_client_chain(leaf, intermediates, roots, crls=load_crls(self.layout.crl))
        return leaf


@web.middleware
async def agent_cert_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With ``mtls_agents``: the agent endpoints need a valid, unrevoked client
    certificate (see the module docstring)."""
    if request.app[CONFIG].mtls_agents and request.path.startswith(AGENT_PATHS):
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            raise Forbidden("this broker requires a client certificate for agents")
        try:
            await asyncio.to_thread(request.app[TLS].check_client, der)
        except (CertError, ValueError) as exc:
            raise Forbidden(f"client certificate refused: {exc}") from None
    return await handler(request)


def _ca_store(app: web.Application) -> CaStore:
    config = app[CONFIG]
    passphrase = config.ca_passphrase.encode() if config.ca_passphrase else None
    layout = CaLayout.in_data_dir(config.data_dir)
    return CaStore(config.data_dir, passphrase, events=event_sink(layout.audit_log, "broker"))


def _reload(reloader: TlsReloader) -> None:
    # On the event loop's thread: the context is used there for every handshake.
    try:
        reloader.reload()
    except (OSError, ssl.SSLError, CertError, ValueError) as exc:
        log.error("TLS reload failed, keeping the previous certificate: %s", exc)


def _maintain(app: web.Application, last_warned: float) -> float:
    """One round in a thread: refresh the CRL, warn about expiry."""
    store = _ca_store(app)
    try:
        if store.publish_crl():
            log.info("CRL re-signed")
    except (OSError, CertError) as exc:
        log.warning("cannot re-sign the CRL: %s", exc)
    now = time.monotonic()
    if now - last_warned >= WARN_EVERY_S:
        for warning in store.expiry_warnings():
            log.warning("certificate expiry: %s", warning)
        return now
    return last_warned


async def tls_ctx(app: web.Application) -> AsyncIterator[None]:
    """Create the reloader (needs ``app[PKI]``) and run the maintenance loop."""
    config = app[CONFIG]
    pki = app[PKI]
    app[TLS] = await asyncio.to_thread(
        TlsReloader, CaLayout(pki.ca_dir), client_auth=config.mtls_agents
    )

    async def loop() -> None:
        last_warned = -WARN_EVERY_S
        while True:
            _reload(app[TLS])
            last_warned = await asyncio.to_thread(_maintain, app, last_warned)
            _reload(app[TLS])
            await asyncio.sleep(config.tls_reload_interval_s)

    task = asyncio.create_task(loop(), name="tls-maintenance")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup_tls(app: web.Application) -> None:
    """Register :func:`tls_ctx` (after the PKI context) and the agent-certificate
    middleware."""
    app.cleanup_ctx.append(tls_ctx)
    app.middlewares.append(agent_cert_middleware)
