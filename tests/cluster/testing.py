"""Shared helpers of the cluster tests: REST through the load balancer, a scripted
peer's WebSocket to a chosen address, a session's start, the checkpoint signer."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from cryptography import x509
from websockets.asyncio.client import connect
from websockets.typing import Origin

from protocol import messages as m
from tests.broker.conftest import PROTO, Peer
from tools.cluster import LocalCluster

__all__ = ["Api", "signer_key", "start_session", "ws"]


class Api:
    """REST through the load balancer."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.base = cluster.url + "/api/v1"
        self.ssl = ssl.create_default_context(cafile=str(cluster.ca_file))
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl))

    async def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as r:
            data = await r.json()
            assert r.status < 300, (method, path, r.status, data)
            return data

    async def engineer(self, cluster: LocalCluster) -> tuple[str, str]:
        assert cluster.admin is not None
        user, pw = cluster.admin
        admin = (await self.call("POST", "/auth/login", body={"username": user, "password": pw}))[
            "token"
        ]
        if (await self.call("GET", "/me", admin))["must_change_password"]:
            # The first admin's printed password is one-time: nothing else works until
            # it is replaced (403 password_change_required).
            admin = await self.replace_password(admin, pw, pw + "-own")
            cluster.admin = (user, pw + "-own")
        name = f"eve{time.monotonic_ns() % 10**8}"
        await self.call("POST", "/users", admin, {"username": name, "name": "Eve Engineer",
                                                    "role": "engineer", "password": "pw-" + name * 2})  # fmt: skip
        eng = (await self.call("POST", "/auth/login", body={"username": name, "password": "pw-" + name * 2}))["token"]  # fmt: skip
        eng = await self.replace_password(eng, "pw-" + name * 2, "own-" + name * 2)
        return admin, eng

    async def replace_password(self, token: str, current: str, new: str) -> str:
        """Replace a one-time password; return the new token."""
        body = {"current_password": current, "new_password": new}
        changed: str = (await self.call("POST", "/auth/password", token, body))["token"]
        return changed


@asynccontextmanager
async def ws(
    url: str, path: str, ctx: ssl.SSLContext, origin: str | None = None
) -> AsyncIterator[Peer]:
    async with connect(
        url.replace("https://", "wss://") + path, ssl=ctx, subprotocols=PROTO,
        origin=Origin(origin) if origin else None, compression=None, max_size=None,
        open_timeout=5, close_timeout=2,
    ) as conn:  # fmt: skip
        yield Peer(conn)


async def start_session(
    api: Api, cluster: LocalCluster, eng: str, agent: Peer, perms: list[str]
) -> tuple[str, str]:
    """The agent's request and hello; returns (session id, join token)."""
    req = await api.call(
        "POST", "/agent/requests", body={"description": "Printer", "client_name": "Alice"}
    )
    await agent.say(m.Hello(token=req["token"], client="test-agent/cluster"))
    assert (await agent.expect("welcome")).session_id == req["session_id"]
    join = await api.call(
        "POST", f"/sessions/{req['session_id']}/join", eng, {"permissions": perms}
    )
    return req["session_id"], join["ws_token"]


def signer_key(cluster: LocalCluster) -> Any:
    pem = (cluster.data_dir / "ca" / "checkpoint.pem").read_bytes()
    return x509.load_pem_x509_certificates(pem)[0].public_key()
