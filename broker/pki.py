"""The broker's PKI as an application resource: the cleanup context that loads (or
creates, on first start) the CA, TLS and checkpoint-signing material
(:func:`certs.bootstrap.ensure_broker_pki`) and the ``PKI`` key it is stored under."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from broker.config import CONFIG
from certs.bootstrap import BrokerPki, ensure_broker_pki

__all__ = ["PKI", "pki_ctx"]

# The broker's CA, TLS and checkpoint-signing material (created by pki_ctx).
PKI = web.AppKey[BrokerPki]("pki")


async def pki_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: load or create the broker's PKI in the data directory."""
    config = app[CONFIG]
    passphrase = config.ca_passphrase.encode() if config.ca_passphrase else None
    app[PKI] = await asyncio.to_thread(
        ensure_broker_pki,
        config.data_dir,
        list(config.hostnames),
        list(config.ip_addresses),
        passphrase,
    )
    yield
