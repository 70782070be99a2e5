"""G8: the agent pins the organisation's CA for TLS to the broker.

Written by the guarantee verifier (docs/GUARANTEES.md). Every other agent test talks
to a broker whose certificate chains to the pinned CA, so a context that accepted
*any* certificate, skipped the host name, or also trusted the system store passed
them all. Here a real TLS server on 127.0.0.1 presents (a) a certificate from the
pinned CA (positive control), (b) one from another CA, (c) one from the pinned CA
for another host name; only (a) may get the agent's request.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from agent.connection import ConnectionLost, make_ssl_context, open_agent_socket, request_help
from agent.errors import FinalError
from certs.ca import CertificateAuthority, IssuedCert


def _org(name: str) -> CertificateAuthority:
    root = CertificateAuthority.create_root(f"{name} Root", organization=name)
    return root.create_intermediate(f"{name} Issuing")


def _root_pem(ca: CertificateAuthority) -> str:
    return ca.root.public_bytes(serialization.Encoding.PEM).decode()


def _server_context(issued: IssuedCert, folder: Path) -> ssl.SSLContext:
    cert, key = folder / "server.pem", folder / "server.key"
    cert.write_bytes(issued.fullchain_pem())
    key.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


@asynccontextmanager
async def _tls_server(ctx: ssl.SSLContext, requests: list[bytes]) -> AsyncIterator[int]:
    """A tiny HTTPS server that answers any request like ``POST /agent/requests``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            writer.close()
            return
        requests.append(head)
        body = json.dumps({"session_id": "s1", "ticket_id": "t1", "token": "tok"}).encode()
        writer.write(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture(scope="module")
def pinned() -> CertificateAuthority:
    return _org("Clearpane Org")


async def _ask(port: int, ca_pem: str) -> None:
    await request_help(
        f"https://127.0.0.1:{port}", make_ssl_context(ca_pem), "help", "Carol", timeout_s=5
    )


async def test_a_broker_certificate_from_the_pinned_ca_is_accepted(
    pinned: CertificateAuthority, tmp_path: Path
) -> None:
    requests: list[bytes] = []
    ctx = _server_context(pinned.issue_server(ip_addresses=["127.0.0.1"]), tmp_path)
    async with _tls_server(ctx, requests) as port:
        await _ask(port, _root_pem(pinned))
    assert len(requests) == 1 and requests[0].startswith(b"POST /api/v1/agent/requests")


@pytest.mark.parametrize("case", ["another_ca", "another_host"])
async def test_any_other_broker_certificate_is_refused_before_a_byte_is_sent(
    pinned: CertificateAuthority, tmp_path: Path, case: str
) -> None:
    if case == "another_ca":
        issued = _org("Rogue Inc").issue_server(ip_addresses=["127.0.0.1"])
    else:
        issued = pinned.issue_server(dns_names=["broker.elsewhere.example"])
    requests: list[bytes] = []
    async with _tls_server(_server_context(issued, tmp_path), requests) as port:
        # Final, never retried: the client is told, not "cannot reach the broker".
        with pytest.raises(FinalError) as refused:
            await _ask(port, _root_pem(pinned))
        assert refused.value.reason == "tls"
        with pytest.raises((ConnectionLost, FinalError)):
            await open_agent_socket(
                f"wss://127.0.0.1:{port}/ws/agent",
                "tok",
                make_ssl_context(_root_pem(pinned)),
                timeout_s=5,
            )
    assert requests == []  # not even the request line reached the impostor


def test_the_context_trusts_the_pinned_ca_only(pinned: CertificateAuthority) -> None:
    ctx = make_ssl_context(_root_pem(pinned))
    assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 1  # no system trust store (THREAT_MODEL)
    (only,) = ctx.get_ca_certs(binary_form=True)
    assert only == pinned.root.public_bytes(serialization.Encoding.DER)
