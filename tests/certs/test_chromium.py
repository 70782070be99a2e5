"""Chromium completes TLS with the broker's certificate chain (ECDSA P-256).

The Playwright context ignores *trust* errors (the test CA is not in Chromium's store),
but the handshake itself must still succeed: Chromium has to support the leaf's key
and signature algorithms. An Ed25519 leaf, which Chromium does not support in TLS,
fails — the reason the server leaf and its CA chain are ECDSA P-256.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509

from certs.bootstrap import ensure_broker_pki
from certs.ca import CertificateAuthority, LeafProfile
from certs.keys import KeyType, generate_key, write_certificates, write_private_key_unencrypted
from certs.tls import client_context, server_context

pytestmark = pytest.mark.browser


@asynccontextmanager
async def https_site(ctx: ssl.SSLContext) -> AsyncIterator[int]:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="clearpane-tls-ok")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    try:
        server = site._server
        assert server is not None
        yield server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    finally:
        await runner.cleanup()


async def test_chromium_accepts_the_broker_certificate(browser: Any, tmp_path: Path) -> None:
    pki = ensure_broker_pki(tmp_path, ["localhost"], ["127.0.0.1"], b"pw")
    context = await browser.new_context(ignore_https_errors=True)
    try:
        page = await context.new_page()
        async with https_site(pki.server_ssl_context()) as port:
            response = await page.goto(f"https://127.0.0.1:{port}/")
            assert response is not None and response.ok
            assert await page.text_content("body") == "clearpane-tls-ok"
            security = await response.security_details()
            assert security is not None and security["protocol"] in ("TLS 1.2", "TLS 1.3")
    finally:
        await context.close()


async def test_chromium_refuses_an_ed25519_leaf(browser: Any, tmp_path: Path) -> None:
    root = CertificateAuthority.create_root("R", organization="O", key_type=KeyType.ED25519)
    # The SERVER profile is ECDSA P-256; make an Ed25519 server leaf on purpose.
    profile = dataclasses.replace(LeafProfile.SERVER, key_type=KeyType.ED25519)
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = root.issue(profile, "localhost", sans=sans, key=generate_key(KeyType.ED25519))
    write_certificates(tmp_path / "s.pem", leaf.fullchain)
    write_private_key_unencrypted(tmp_path / "s.key", leaf.key)
    context = await browser.new_context(ignore_https_errors=True)
    try:
        page = await context.new_page()
        async with https_site(server_context(tmp_path / "s.pem", tmp_path / "s.key")) as port:
            # The server itself works: a Python client that speaks Ed25519 gets the page.
            write_certificates(tmp_path / "root.pem", [root.cert])
            reader, writer = await asyncio.open_connection(
                "127.0.0.1",
                port,
                ssl=client_context(tmp_path / "root.pem"),
                server_hostname="localhost",
            )
            writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert b"clearpane-tls-ok" in await asyncio.wait_for(reader.read(), 5)
            writer.close()
            # Chromium cannot complete the handshake (no shared signature algorithm).
            with pytest.raises(Exception, match=r"ERR_SSL|ERR_CONNECTION_CLOSED"):
                await page.goto(f"https://127.0.0.1:{port}/")
    finally:
        await context.close()
