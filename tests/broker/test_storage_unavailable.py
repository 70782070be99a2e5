"""Every storage failure on the HTTP API answers 503 ``unavailable`` with nothing
half-written (issue 13, finding 3: a full disk answered 500 ``internal``).

The real case: the broker's data directory on a small tmpfs the test mounts, filled to
the last byte; tickets are created until the database cannot grow, the answer is 503,
and after space returns exactly the tickets answered 201 exist. The unit cases inject
each kind of storage error into the one error middleware.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy.exc
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broker.errors import Unavailable, is_storage_failure
from broker.middleware import error_middleware
from broker.store import queries
from broker.store.db import DB
from broker.testing import running_broker
from tests.faults import DiskFiller, small_tmpfs


async def test_a_full_disk_answers_503_and_keeps_nothing(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "24m") as disk:
        # The embedded default keeps its SQLite in the data directory; that is the case
        # here, also under ``make test-postgres`` (whose server lives elsewhere).
        async with running_broker(disk, database_url=None) as b:
            token = await b.login(b.admin_username, b.admin_password)
            filler = DiskFiller(disk)
            filler.fill()
            created: list[str] = []
            status, body = 201, None
            for n in range(4000):  # the WAL reuses its pages for a while, then must grow
                status, body, headers = await b.request(
                    "POST",
                    "/api/v1/tickets",
                    token=token,
                    json={"title": f"full-disk-{n}", "description": "x" * 9000},
                )
                if status != 201:
                    break
                created.append(body["id"])
            assert status == 503, (status, body)
            assert body["error"]["code"] == "unavailable", body
            assert headers["Retry-After"]
            # Still full: reads keep working, and a second write is refused the same way.
            status, body, _ = await b.request(
                "POST", "/api/v1/tickets", token=token, json={"title": "full-disk-again"}
            )
            assert (status, body["error"]["code"]) == (503, "unavailable")
            filler.free()
            tickets = await queries.list_tickets(b.app[DB], q="full-disk", limit=5000)
            assert sorted(t.id for t in tickets) == sorted(created)  # none half-written
            status, body, _ = await b.request(
                "POST", "/api/v1/tickets", token=token, json={"title": "after"}
            )
            assert status == 201, body


def _sqlite_full() -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError(
        "INSERT …", {}, sqlite3.OperationalError("database or disk is full")
    )


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (_sqlite_full(), 503),
        (OSError(errno.ENOSPC, "No space left on device"), 503),
        (OSError(errno.EIO, "Input/output error"), 503),
        (OSError(errno.EROFS, "Read-only file system"), 503),
        (sqlalchemy.exc.InterfaceError("connect", {}, Exception("connection closed")), 503),
        (RuntimeError("wrapped"), 503),  # raised from a storage error (``__cause__``)
        (Unavailable("the recording cannot be written"), 503),
        (OSError(errno.ENOENT, "No such file"), 500),
        (ValueError("a bug"), 500),
    ],
    ids=["sqlite-full", "enospc", "eio", "erofs", "db-gone", "cause", "explicit", "enoent", "bug"],
)
async def test_the_middleware_translates_storage_failures(exc: Exception, status: int) -> None:
    if str(exc) == "wrapped":
        exc.__cause__ = OSError(errno.ENOSPC, "No space left on device")

    async def handler(_: web.Request) -> web.Response:
        raise exc

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/x", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/x")
        body = await response.json()
    assert response.status == status
    assert body["error"]["code"] == ("unavailable" if status == 503 else "internal")
    assert is_storage_failure(exc) == (status == 503 and not isinstance(exc, Unavailable))
