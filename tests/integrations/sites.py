"""Start a test Django site (django_sites/serve.py) as a subprocess and talk to its
fixture channel."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


class DjangoSite:
    """A running site: its ``url`` and :meth:`command` for fixtures."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log
        self._lock = asyncio.Lock()

    async def command(self, cmd: str, **args: Any) -> Any:
        """Run a fixture command in the site's process; return its result."""
        assert self.process.stdin is not None and self.process.stdout is not None
        async with self._lock:
            self.process.stdin.write((json.dumps({"cmd": cmd, "args": args}) + "\n").encode())
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        answer = json.loads(line)
        if "error" in answer:
            raise AssertionError(f"{cmd} failed in the site:\n{answer['error']}")
        return answer["ok"]


def migrated_template(site: str, folder: Path) -> Path:
    """A migrated, set-up database of ``site`` (made once per test run by starting the
    site with stdin closed: it migrates, sets up, prints its URL and stops). Copying it
    is much faster than migrating django-helpdesk's database for every test."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "tests.integrations.django_sites.serve", site, str(folder)],
        cwd=str(ROOT),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"{site} could not be migrated:\n{done.stderr[-3000:]!r}")
    return folder / "db.sqlite3"


@asynccontextmanager
async def django_site(
    site: str, folder: Path, *, template: Path | None = None
) -> AsyncIterator[DjangoSite]:
    """Run ``site`` with its data in ``folder`` (starting from a copy of ``template``,
    see :func:`migrated_template`); stop it (stdin closed) afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if template is not None:
        env["CLEARPANE_DJANGO_TEMPLATE"] = str(template)
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integrations.django_sites.serve",
            site,
            str(folder),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            cwd=str(ROOT),
            env=env,
        )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
        if not line:
            raise AssertionError(f"{site} did not start:\n{log.read_text()[-3000:]}")
        yield DjangoSite(process, json.loads(line)["url"], log)
    finally:
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
