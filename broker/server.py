"""Starting and stopping the real server (used by ``clearpane broker`` and by
:func:`broker.testing.running_broker`): the app on an ``AppRunner``/``TCPSite`` with
TLS from the broker's PKI, the first admin, and ``DATA_DIR/enrollment.json``."""

from __future__ import annotations

import asyncio.sslproto
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from broker.app import create_app
from broker.auth.passwords import PASSWORDS, PasswordService, random_password
from broker.clock import CLOCK, Clock
from broker.config import BrokerConfig
from broker.pki import PKI
from broker.store import queries
from broker.store.db import DB, Database
from broker.tls_reload import TLS
from broker.workers import worker_port

__all__ = ["FIRST_ADMIN", "RunningServer", "ensure_first_admin", "start_server", "write_enrollment"]

log = logging.getLogger(__name__)

FIRST_ADMIN = "admin"


@dataclass
class RunningServer:
    """A started broker. ``first_admin`` is ``(username, password)`` only on the very
    first start (the password is never stored or shown again)."""

    app: web.Application
    runner: web.AppRunner
    port: int
    url: str
    enrollment_path: Path
    ca_cert_path: Path | None
    first_admin: tuple[str, str] | None

    async def stop(self) -> None:
        """Graceful shutdown: stop accepting, run the cleanup contexts in reverse."""
        await self.runner.cleanup()


async def ensure_first_admin(
    db: Database, passwords: PasswordService, clock: Clock
) -> tuple[str, str] | None:
    """Create the ``admin`` user with a random one-time password if there is no admin
    yet; return ``(username, password)`` when one was created."""
    if await queries.count_users(db, role="admin") > 0:
        return None
    password = random_password()
    await queries.create_user(
        db,
        username=FIRST_ADMIN,
        name="Administrator",
        role="admin",
        skills=(),
        password_hash=await passwords.hash_async(password),
        at=clock.now_ms(),
        must_change_password=True,  # printed once on the console: replaced at first sign-in
    )
    return FIRST_ADMIN, password


def write_enrollment(
    data_dir: Path, broker_url: str, ca_pem: str | None, checkpoint_signer_pem: str | None = None
) -> Path:
    """Write ``DATA_DIR/enrollment.json`` ``{"broker_url", "ca_pem",
    "checkpoint_signer_pem"}``: the file an admin hands to agents (``clearpane agent
    --enrollment``). The signer certificate lets the agent check the log's signature."""
    path = data_dir / "enrollment.json"
    tmp = path.with_suffix(".json.tmp")
    content: dict[str, str | None] = {"broker_url": broker_url, "ca_pem": ca_pem}
    if checkpoint_signer_pem:
        content["checkpoint_signer_pem"] = checkpoint_signer_pem
    tmp.write_text(json.dumps(content, indent=2) + "\n")
    os.chmod(tmp, 0o644)  # public information: URL and CA certificate
    tmp.replace(path)
    return path


async def start_server(
    config: BrokerConfig,
    *,
    clock: Clock | None = None,
    passwords: PasswordService | None = None,
    worker: int | None = None,
) -> RunningServer:
    """Start the broker in the running event loop: migrations, PKI, first admin, TLS
    listener, enrollment file. Stop it with :meth:`RunningServer.stop`. As ``worker``
    ``i`` of ``clearpane broker --workers N`` it listens on the shared port with
    SO_REUSEPORT and on its own port as well (broker/workers.py)."""
    # P7 (docs/BENCHMARKS.md): asyncio gives every TLS connection a zero-filled
    # read buffer of SSLProtocol.max_size (256 KiB), ≈ 90 % of the broker's memory per
    # session; one TLS record is ≤ 16 KiB + overhead, so 32 KiB loses nothing. It is a
    # class attribute, i.e. process-wide (every asyncio TLS connection made afterwards,
    # client ones too), so it is set here, when a broker starts, not on import.
    asyncio.sslproto.SSLProtocol.max_size = 32 * 1024
    app = create_app(config, clock=clock, passwords=passwords)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()  # runs the startup half of the cleanup contexts
    try:
        first_admin = await ensure_first_admin(app[DB], app[PASSWORDS], app[CLOCK])
        pki = app[PKI]
        ssl_context = None
        ca_pem: str | None = None
        ca_cert_path: Path | None = None
        if not config.insecure_http:
            ssl_context = app[TLS].context  # certs-admin: reloaded in place
        ca_pem = pki.ca_pem()
        ca_cert_path = pki.ca_cert_path
        site = web.TCPSite(
            runner, config.host, config.port, ssl_context=ssl_context, reuse_port=worker is not None
        )
        await site.start()
        if worker is not None:  # its own address, where viewers of its sessions are sent
            own = worker_port(config, worker)
            await web.TCPSite(runner, config.host, own, ssl_context=ssl_context).start()
        port = int(runner.addresses[0][1]) if runner.addresses else config.port
        url = config.broker_url(port)
        enrollment = write_enrollment(config.data_dir, url, ca_pem, pki.signing_cert_pem())
    except BaseException:
        await runner.cleanup()
        raise
    log.info("broker listening on %s", url)
    return RunningServer(app, runner, port, url, enrollment, ca_cert_path, first_admin)
