"""A real local cluster for tests/cluster: NATS, two broker processes on the NATS relay
backend, HAProxy (TLS passthrough, round robin, TLS health checks) in front, one
PostgreSQL (tools/cluster.py; configuration in deploy/cluster/). Node 2 reaches NATS
through a :class:`~tests.faults.ControlledProxy` the tests can stall or cut (a real
fault on the link, not a mock)."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from broker.testing import drop_test_databases, postgres_test_database
from tests.faults import ControlledProxy
from tools.cluster import LocalCluster

PG_ENV = "CLEARPANE_TEST_DATABASE_URL"


class LinkProxy:
    """A :class:`ControlledProxy` on its own event loop in a thread: it must outlive
    every test's loop (the cluster runs for the whole module)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="link proxy")
        self._thread.start()
        self.proxy: ControlledProxy | None = None

    def start(self, target_port: int) -> int:
        """Start forwarding to ``target_port``; return the proxy's port."""

        async def open_proxy() -> int:
            self.proxy = ControlledProxy(target_port)
            await self.proxy.__aenter__()
            return self.proxy.port

        return asyncio.run_coroutine_threadsafe(open_proxy(), self.loop).result(10)

    def call(self, what: Callable[[ControlledProxy], Any]) -> None:
        """Run ``what(proxy)`` on the proxy's loop and wait for it."""

        async def run() -> None:
            assert self.proxy is not None
            what(self.proxy)

        asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stall(self) -> None:
        """Nothing passes either way and nothing closes (a frozen link, as SIGSTOP)."""
        self.call(lambda p: p.half_open())

    def heal(self) -> None:
        """Cut the stalled connections and forward again: NATS clients reconnect."""

        def heal(p: ControlledProxy) -> None:
            p.forward()
            p.cut()

        self.call(heal)

    def close(self) -> None:
        """Stop the proxy and its thread."""
        if self.proxy is not None:
            proxy = self.proxy
            asyncio.run_coroutine_threadsafe(proxy.__aexit__(None, None, None), self.loop).result(
                10
            )
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def nats_link() -> Iterator[LinkProxy]:
    """Node 2's link to NATS (see the module docstring)."""
    link = LinkProxy()
    yield link
    link.close()


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, nats_link: LinkProxy
) -> Iterator[LocalCluster]:
    """One cluster per module (starting two brokers costs seconds). A module that sets
    ``ROUTE_VIEWERS = False`` gets nodes without ``CLEARPANE_NODE_URL`` (the join then
    answers the address the viewer came through: the cross-process path)."""
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        pytest.skip("the cluster shares a PostgreSQL store: make test-postgres runs it")
    for tool in ("nats-server", "haproxy"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: make system-deps installs it")
    name = f"cp_cluster_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(postgres_test_database(server_url, name))
    workdir: Path = tmp_path_factory.mktemp("cluster")
    cluster = LocalCluster(
        workdir, url, route_viewers=getattr(request.module, "ROUTE_VIEWERS", True)
    )
    cluster.nats_ports[1] = nats_link.start(cluster.nats_port)
    with cluster:
        yield cluster
    asyncio.run(drop_test_databases())
