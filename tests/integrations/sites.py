"""Start a test Django site (django_sites/serve.py) as a subprocess and talk to its
fixture channel."""

from __future__ import annotations

import asyncio
import json
import os
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


@asynccontextmanager
async def django_site(site: str, folder: Path) -> AsyncIterator[DjangoSite]:
    """Run ``site`` with its data in ``folder``; stop it (stdin closed) afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
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
