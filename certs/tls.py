"""``ssl.SSLContext`` factories for the broker (server) and its peers (client).

Both require TLS 1.2 or newer and keep Python's secure defaults (no compression, no
renegotiation, strong ciphers). Mutual TLS is a ``client_ca_path`` away on the server.
"""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["client_context", "server_context"]


def server_context(
    cert_chain_path: Path,
    key_path: Path,
    *,
    client_ca_path: Path | None = None,
) -> ssl.SSLContext:
    """A server context presenting ``cert_chain_path`` (leaf first, then intermediates).

    With ``client_ca_path`` the server requires a client certificate chaining to it.
    """
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_chain_path, key_path)
    if client_ca_path is not None:
        ctx.load_verify_locations(cafile=client_ca_path)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(
    ca_path: Path,
    *,
    cert_chain_path: Path | None = None,
    key_path: Path | None = None,
    key_password: bytes | None = None,
) -> ssl.SSLContext:
    """A client context that trusts only ``ca_path`` (the pinned organisation root).

    Hostname checking stays on. ``cert_chain_path``/``key_path`` add a client
    certificate for mutual TLS.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_path)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_chain_path is not None:
        ctx.load_cert_chain(cert_chain_path, key_path, password=key_password)
    return ctx
