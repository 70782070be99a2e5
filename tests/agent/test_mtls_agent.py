"""A managed agent presents its client certificate (mutual TLS) through its own
config and CLI; without one, or once revoked, the broker refuses it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from agent.cli import build_parser, config_from_args
from agent.connection import ConnectionLost, FinalError, make_ssl_context, request_help
from broker.testing import running_broker
from certs.keys import write_certificates, write_private_key
from certs.testing import MemoryPki

PASSPHRASE = b"laptop-7 key passphrase"


async def test_agent_config_presents_the_client_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_broker(tmp_path / "broker", mtls_agents=True) as b:
        issued = await asyncio.to_thread(b.ca_store().issue_client, "laptop-7")
        cert, key = tmp_path / "laptop-7.pem", tmp_path / "laptop-7.key"
        write_certificates(cert, issued.fullchain)
        write_private_key(key, issued.key, PASSPHRASE)  # encrypted at rest
        monkeypatch.setenv("CLEARPANE_CLIENT_KEY_PASSPHRASE", PASSPHRASE.decode())
        args = build_parser().parse_args(
            [
                "--broker", b.base_url, "--ca", str(b.ca_cert_path),
                "--client-cert", str(cert), "--client-key", str(key),
                "--headless", "--describe", "printer",
            ]
        )  # fmt: skip
        cfg = config_from_args(args)
        ticket = await request_help(
            cfg.broker_url, make_ssl_context(cfg.ca_pem, **cfg.client_identity()), "printer", "Ann"
        )
        assert ticket.session_id
        # The same agent without its certificate is refused by the broker.
        with pytest.raises(FinalError):
            await request_help(cfg.broker_url, make_ssl_context(cfg.ca_pem), "printer", "Ann")
        # Revoked: the handshake itself is refused, never retried as "unreachable".
        token = await b.login(b.admin_username, b.admin_password)
        serial = format(issued.cert.serial_number, "x")
        status, _, _ = await b.request(
            "POST", f"/api/v1/admin/certs/{serial}/revoke", token=token, json={}
        )
        assert status == 200
        with pytest.raises((ConnectionLost, FinalError)):
            await request_help(
                cfg.broker_url,
                make_ssl_context(cfg.ca_pem, **cfg.client_identity()),
                "printer",
                "Ann",
                timeout_s=5,
            )


def test_a_wrong_key_passphrase_is_a_clear_final_error(tmp_path: Path) -> None:
    pki = MemoryPki.create()
    issued = pki.issuing.issue_client("laptop-8")
    cert, key = tmp_path / "c.pem", tmp_path / "c.key"
    write_certificates(cert, issued.fullchain)
    write_private_key(key, issued.key, PASSPHRASE)
    root_pem = pki.root.cert.public_bytes(serialization.Encoding.PEM).decode()
    make_ssl_context(root_pem, client_cert=cert, client_key=key, key_password=PASSPHRASE)
    with pytest.raises(FinalError, match="client certificate"):
        make_ssl_context(root_pem, client_cert=cert, client_key=key, key_password=b"wrong")
