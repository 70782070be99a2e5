"""Real TLS handshakes on 127.0.0.1 between an asyncio server and client."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from certs.ca import IssuedCert
from certs.keys import write_certificates, write_private_key, write_private_key_unencrypted
from certs.testing import MemoryPki, fixed_clock
from certs.tls import client_context, server_context


@pytest.fixture(scope="module")
def pki() -> MemoryPki:
    return MemoryPki.create()


def save(tmp: Path, name: str, issued: IssuedCert) -> tuple[Path, Path]:
    chain, key = tmp / f"{name}.pem", tmp / f"{name}.key"
    write_certificates(chain, issued.fullchain)
    write_private_key_unencrypted(key, issued.key)
    return chain, key


def save_root(tmp: Path, pki: MemoryPki, name: str = "root") -> Path:
    path = tmp / f"{name}.pem"
    write_certificates(path, [pki.root.cert])
    return path


@asynccontextmanager
async def echo_server(ctx: ssl.SSLContext, peers: list[object]) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peercert"))
        try:
            writer.write(await reader.readline())
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def round_trip(port: int, ctx: ssl.SSLContext, server_hostname: str) -> bytes:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=server_hostname),
        5,
    )
    try:
        writer.write(b"ping\n")
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()


async def refused(port: int, ctx: ssl.SSLContext) -> bool:
    """True when the server does not echo: TLS 1.3 reports a refused client
    certificate after the client's handshake, as an alert or a closed stream."""
    try:
        return await round_trip(port, ctx, "localhost") != b"ping\n"
    except (ssl.SSLError, ConnectionError):
        return True


async def test_handshake_good_for_name_and_ip(pki: MemoryPki, tmp_path: Path) -> None:
    chain, key = save(tmp_path, "server", pki.issuing.issue_server(["localhost"], ["127.0.0.1"]))
    client = client_context(save_root(tmp_path, pki))
    peers: list[object] = []
    async with echo_server(server_context(chain, key), peers) as port:
        assert await round_trip(port, client, "localhost") == b"ping\n"
        assert await round_trip(port, client, "127.0.0.1") == b"ping\n"
    assert client.minimum_version == ssl.TLSVersion.TLSv1_2


async def test_server_context_floor_is_tls_1_2(pki: MemoryPki, tmp_path: Path) -> None:
    chain, key = save(tmp_path, "server", pki.issuing.issue_server(["localhost"]))
    server = server_context(chain, key)
    assert server.minimum_version == ssl.TLSVersion.TLSv1_2
    client = client_context(save_root(tmp_path, pki))
    client.maximum_version = ssl.TLSVersion.TLSv1_2  # a TLS 1.2-only peer still connects
    async with echo_server(server, []) as port:
        assert await round_trip(port, client, "localhost") == b"ping\n"


async def test_handshake_wrong_ca(pki: MemoryPki, tmp_path: Path) -> None:
    chain, key = save(tmp_path, "server", pki.issuing.issue_server(["localhost"]))
    other = MemoryPki.create("Other")
    client = client_context(save_root(tmp_path, other, "other-root"))
    async with echo_server(server_context(chain, key), []) as port:
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            await round_trip(port, client, "localhost")


async def test_handshake_wrong_name(pki: MemoryPki, tmp_path: Path) -> None:
    chain, key = save(tmp_path, "server", pki.issuing.issue_server(["broker.example"]))
    client = client_context(save_root(tmp_path, pki))
    async with echo_server(server_context(chain, key), []) as port:
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            await round_trip(port, client, "localhost")


async def test_handshake_expired_leaf(tmp_path: Path) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=120)
    old = MemoryPki.create(clock=fixed_clock(past))
    chain, key = save(tmp_path, "server", old.issuing.issue_server(["localhost"]))
    client = client_context(save_root(tmp_path, old))
    async with echo_server(server_context(chain, key), []) as port:
        with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
            await round_trip(port, client, "localhost")


async def test_mutual_tls(pki: MemoryPki, tmp_path: Path) -> None:
    chain, key = save(tmp_path, "server", pki.issuing.issue_server(["localhost"]))
    root = save_root(tmp_path, pki)
    server = server_context(chain, key, client_ca_path=root)
    # Client keys are stored encrypted; ssl takes the passphrase.
    issued = pki.issuing.issue_client("agent-9")
    client_chain, client_key = tmp_path / "client.pem", tmp_path / "client.key"
    write_certificates(client_chain, issued.fullchain)
    write_private_key(client_key, issued.key, b"pw")
    good = client_context(
        root, cert_chain_path=client_chain, key_path=client_key, key_password=b"pw"
    )
    peers: list[object] = []
    async with echo_server(server, peers) as port:
        assert await round_trip(port, good, "localhost") == b"ping\n"
        subject = dict(x[0] for x in peers[0]["subject"])  # type: ignore[index]
        assert subject["commonName"] == "agent-9"

        # No client certificate: the server refuses (TLS 1.3 reports it after the handshake).
        assert await refused(port, client_context(root))

        # A client certificate from another organisation's CA: refused too.
        other = MemoryPki.create("Other").issuing.issue_client("intruder")
        write_certificates(tmp_path / "o.pem", other.fullchain)
        write_private_key_unencrypted(tmp_path / "o.key", other.key)
        foreign = client_context(
            root, cert_chain_path=tmp_path / "o.pem", key_path=tmp_path / "o.key"
        )
        assert await refused(port, foreign)
    assert len(peers) == 1
