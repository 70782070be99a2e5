"""A real local cluster for tests/cluster: NATS, two broker processes on the NATS relay
backend, HAProxy (TLS passthrough, round robin) in front, one PostgreSQL
(tools/cluster.py; configuration in deploy/cluster/)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.testing import drop_test_databases, postgres_test_database
from tools.cluster import LocalCluster

PG_ENV = "CLEARPANE_TEST_DATABASE_URL"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One cluster per module (starting two brokers costs seconds)."""
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        pytest.skip("the cluster shares a PostgreSQL store: make test-postgres runs it")
    for tool in ("nats-server", "haproxy"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: make system-deps installs it")
    name = f"cp_cluster_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(postgres_test_database(server_url, name))
    workdir: Path = tmp_path_factory.mktemp("cluster")
    with LocalCluster(workdir, url) as running:
        yield running
    asyncio.run(drop_test_databases())
