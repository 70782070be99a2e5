"""The real broker behind a real HAProxy that terminates TLS (tests and ``bench/``).

:func:`running_behind_haproxy` starts the broker with plain HTTP on 127.0.0.1
(``insecure_http``, ``public_url`` = the proxy's ``https://`` URL, ``X-Forwarded-For``
trusted from loopback only) and Debian's ``haproxy`` with
``deploy/tls-offload/haproxy.cfg`` in front of it, presenting the broker's own
certificate chain. It yields a :class:`broker.testing.RunningBroker` whose URLs are
the proxy's, plus the proxy's process id (its CPU counts in ``bench/relay.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker.pki import PKI
from broker.testing import RunningBroker, running_broker

__all__ = ["HAPROXY_CFG", "Offloaded", "running_behind_haproxy"]

HAPROXY_CFG = Path(__file__).resolve().parent.parent / "deploy" / "tls-offload" / "haproxy.cfg"


@dataclass
class Offloaded:
    """The broker as clients see it through the proxy, and the proxy's process."""

    broker: RunningBroker
    """``base_url`` / ``ws_url`` are the proxy's; ``server`` is the broker itself."""
    direct_url: str
    """The broker's own plain ``http://127.0.0.1:port`` (what only the proxy uses)."""
    haproxy_pid: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"haproxy exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                raise RuntimeError("haproxy did not listen in time") from None
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return


@asynccontextmanager
async def running_behind_haproxy(tmp_path: Path, **overrides: Any) -> AsyncIterator[Offloaded]:
    """The broker (``overrides`` as for :func:`running_broker`) behind HAProxy."""
    exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(exe).exists():
        raise RuntimeError("haproxy is not installed: run `make system-deps`")
    lb_port = _free_port()
    public = f"https://127.0.0.1:{lb_port}"
    settings: dict[str, Any] = {
        "insecure_http": True,
        "public_url": public,
        "trust_forwarded_for": True,
        **overrides,
    }
    async with running_broker(tmp_path, **settings) as direct:
        pki = direct.app[PKI]
        pem = tmp_path / "haproxy.pem"  # chain then key, as HAProxy reads it
        pem.write_bytes(pki.server_cert_path.read_bytes() + pki.server_key_path.read_bytes())
        os.chmod(pem, 0o600)
        env = {
            **os.environ,
            "CLEARPANE_LB_BIND": f"127.0.0.1:{lb_port}",
            "CLEARPANE_TLS_PEM": str(pem),
            "CLEARPANE_BROKER": f"127.0.0.1:{direct.server.port}",
        }
        log = (tmp_path / "haproxy.log").open("wb")
        proc = subprocess.Popen(
            [exe, "-db", "-f", str(HAPROXY_CFG)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        proxied = dataclasses.replace(direct, base_url=public, ws_url=f"wss://127.0.0.1:{lb_port}")
        try:
            await _wait_port(lb_port, proc)
            yield Offloaded(proxied, f"http://127.0.0.1:{direct.server.port}", proc.pid)
        finally:
            if proxied._http is not None:
                await proxied._http.close()
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
