"""The broker's TLS: hot reload without dropping connections, mutual TLS with CRL
enforcement, and a whole staged CA rotation with a connected agent."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from agent.connection import FinalError, make_ssl_context, open_agent_socket, request_help
from agent.trust import accept_bundle, refresh_trust
from broker.testing import RunningBroker, running_broker
from broker.tls_reload import TLS
from certs import rotation
from certs.keys import write_certificates, write_private_key_unencrypted
from certs.store import CaStore, pem
from tests.helpers import eventually


async def open_tls(
    port: int, ctx: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, x509.Certificate]:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1"
    )
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    return reader, writer, x509.load_der_x509_certificate(der)


async def health(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    """One keep-alive HTTP/1.1 request on an open connection; returns the status."""
    writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    await reader.readexactly(length)
    return int(head.split(b" ")[1])


async def test_renewed_certificate_is_served_and_live_connections_stay(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        port = b.server.port
        reader, writer, first = await open_tls(port, b.ssl_context())
        assert await health(reader, writer) == 200
        renewed = await asyncio.to_thread(b.ca_store().renew_broker_server)
        assert b.app[TLS].reload()
        # The established connection keeps working (same TLS session, old certificate).
        assert await health(reader, writer) == 200
        # A new handshake gets the new certificate, through the same SSLContext.
        r2, w2, second = await open_tls(port, b.ssl_context())
        assert second.serial_number == renewed.cert.serial_number != first.serial_number
        assert await health(r2, w2) == 200
        for w in (writer, w2):
            w.close()


async def test_changed_files_are_picked_up_by_the_poller(tmp_path: Path) -> None:
    async with running_broker(tmp_path, tls_reload_interval_s=0.05) as b:
        renewed = await asyncio.to_thread(b.ca_store().renew_broker_server)

        async def served() -> bool:
            _, w, cert = await open_tls(b.server.port, b.ssl_context())
            w.close()
            return bool(cert.serial_number == renewed.cert.serial_number)

        await eventually(served, interval=0.05, what="the renewed certificate served")


def client_ctx(b: RunningBroker, tmp_path: Path, name: str) -> tuple[ssl.SSLContext, str]:
    issued = b.ca_store().issue_client(name)
    write_certificates(tmp_path / f"{name}.pem", issued.fullchain)
    write_private_key_unencrypted(tmp_path / f"{name}.key", issued.key)
    ctx = ssl.create_default_context(cafile=str(b.ca_cert_path))
    ctx.load_cert_chain(tmp_path / f"{name}.pem", tmp_path / f"{name}.key")
    return ctx, format(issued.cert.serial_number, "x")


async def test_mutual_tls_for_agents_refuses_missing_and_revoked(tmp_path: Path) -> None:
    async with running_broker(tmp_path, mtls_agents=True) as b:
        body = {"description": "printer", "client_name": "Ann"}
        ctx, serial = await asyncio.to_thread(client_ctx, b, tmp_path, "laptop-1")
        ticket = await request_help(b.base_url, ctx, body["description"], "Ann")
        assert ticket.session_id
        # Without a client certificate: browsers still work, agents are refused.
        status, _, _ = await b.request("GET", "/api/v1/health")
        assert status == 200
        status, err, _ = await b.request("POST", "/api/v1/agent/requests", json=body)
        assert (status, err["error"]["code"]) == (403, "forbidden")
        # Revoked through the admin API: the next handshake is refused by OpenSSL.
        token = await b.login(b.admin_username, b.admin_password)
        status, _, _ = await b.request(
            "POST", f"/api/v1/admin/certs/{serial}/revoke", token=token, json={}
        )
        assert status == 200
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            r, w, _ = await open_tls(b.server.port, ctx)
            await health(r, w)


async def test_agent_refuses_a_broker_of_another_ca(tmp_path: Path) -> None:
    other = CaStore(tmp_path / "other", b"another passphrase")
    other.init("Evil")
    async with running_broker(tmp_path) as b:
        ctx = make_ssl_context(pem(other.root()))
        with pytest.raises(FinalError, match="organisation CA"):
            await open_agent_socket(b.ws_url + "/ws/agent", "token", ctx)


async def test_whole_staged_rotation_with_a_connected_agent(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        enrollment = tmp_path / "agent-enrollment.json"
        enrollment.write_text(b.enrollment_path.read_text())
        old_pin = json.loads(enrollment.read_text())["ca_pem"]
        ssl_ctx = make_ssl_context(old_pin)  # the agent's one context, as in agent/session.py
        ticket = await request_help(b.base_url, ssl_ctx, "rotation test", "Ann")
        ws, welcome = await open_agent_socket(b.ws_url + "/ws/agent", ticket.token, ssl_ctx)
        store = b.ca_store()
        old_root = store.root()

        # Stage 1: the new root is trusted beside the old; the agent learns it.
        await asyncio.to_thread(rotation.begin, store)
        update = await refresh_trust(b.base_url, ssl_ctx, old_pin, store=enrollment)
        assert len(update.added) == 1 and not update.removed
        assert len(x509.load_pem_x509_certificates(update.ca_pem.encode())) == 2

        # Stage 2: leaves reissued under the new issuing CA, hot-reloaded.
        await asyncio.to_thread(rotation.reissue, store)
        assert b.app[TLS].reload()
        await asyncio.wait_for(await ws.ping(), 5)  # the live connection is untouched
        _, w, leaf = await open_tls(b.server.port, make_ssl_context(old_pin))
        w.close()  # an agent that never refreshed still connects (cross-signed chain)

        # Stage 3: the old root is retired.
        await asyncio.to_thread(rotation.finish, store)
        assert b.app[TLS].reload()
        new_root = store.root()
        assert new_root != old_root and rotation.status(store).stage is None
        await asyncio.wait_for(await ws.ping(), 5)
        with pytest.raises(ssl.SSLCertVerificationError):
            await open_tls(b.server.port, make_ssl_context(old_pin))

        # The agent drops its connection and reconnects under the new chain.
        await ws.close()
        token = welcome.resume_token or ticket.token
        ws2, welcome2 = await open_agent_socket(b.ws_url + "/ws/agent", token, ssl_ctx)
        assert welcome2.session_id == welcome.session_id
        await ws2.close()
        # Its next refresh drops the retired root; the saved pin works on a fresh start.
        update = await refresh_trust(b.base_url, ssl_ctx, update.ca_pem, store=enrollment)
        assert update.removed and not update.added
        saved = json.loads(enrollment.read_text())["ca_pem"]
        assert x509.load_pem_x509_certificates(saved.encode()) == [new_root]
        _, w, leaf = await open_tls(b.server.port, make_ssl_context(saved))
        w.close()
        assert leaf.issuer != old_root.subject


def test_unendorsed_root_is_rejected(tmp_path: Path) -> None:
    mine = CaStore(tmp_path / "mine", b"passphrase one")
    mine.init("Acme")
    evil = CaStore(tmp_path / "evil", b"passphrase two")
    evil.init("Evil")
    current = pem(mine.root())
    offered = {"roots": [pem(evil.root())], "endorsements": []}
    update = accept_bundle(current, offered)
    assert update.ca_pem == current and update.rejected and not update.changed
    # An "endorsement" signed by the evil root itself does not help.
    rotation.begin(evil)
    bundle = evil.trust_bundle().to_json()
    update = accept_bundle(current, bundle)
    assert update.ca_pem == current and len(update.rejected) == 2
