"""Helpers every test folder shares. Import them from here, never from another test
module (a test module is not a library).

:func:`broker_process` is the one way a test starts ``clearpane broker`` as a separate
process (:class:`OutputLog` drains its output, :func:`stop_process` ends it by id).

:func:`eventually` is the one way a test waits for something to become true. To show
that something did **not** happen, do not sleep: wait for the event that would have
caused it, or for a later one that must follow it, then assert.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = [
    "BrokerProcess",
    "OutputLog",
    "broker_process",
    "clean_env",
    "eventually",
    "eventually_blocking",
    "stop_process",
]

ROOT = Path(__file__).resolve().parent.parent
#: ``clearpane`` from this checkout (not whatever is installed).
CLI = (sys.executable, "-m", "cli.main")

T = TypeVar("T")

#: How often a condition is re-checked: short against the seconds a test may wait.
INTERVAL_S = 0.02
ASYNC_INTERVAL_S = 0.1


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 10.0,
    what: str = "",
    interval: float | None = None,
    tick: Callable[[], object] | None = None,
) -> T:
    """Re-check ``check`` (sync or async) until it returns something truthy; return it.

    ``interval`` defaults to 20 ms for a plain check and 100 ms for an async one (an
    HTTP or database round trip: polling it faster only loads the broker under test).
    ``tick`` runs before each check (e.g. Qt's ``processEvents``). Raises
    ``AssertionError`` naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
        value = check()
        pause = INTERVAL_S
        if inspect.isawaitable(value):
            value = await value
            pause = ASYNC_INTERVAL_S
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        await asyncio.sleep(pause if interval is None else interval)


def eventually_blocking(
    check: Callable[[], T], *, timeout: float = 10.0, what: str = "", interval: float = INTERVAL_S
) -> T:
    """:func:`eventually` for code without an event loop (an X server, a subprocess)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(interval)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without ``CLEARPANE_*`` variables, unbuffered, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARPANE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class OutputLog:
    """Drains a process's text stream in a thread (a full pipe would block the
    process) and lets the test wait for a line."""

    def __init__(self, stream: object, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def text(self) -> str:
        """Everything read so far."""
        with self._cond:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float, start: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in a line at index ``start`` or later."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self.lines):
                    found = regex.search(self.lines[index])
                    if found:
                        return found
                    index += 1
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise AssertionError(
                        f"{self.name}: no line matching {pattern!r} "
                        f"({'stream closed' if self._closed else f'{timeout} s'}); output:\n"
                        + "\n".join(self.lines[-40:])
                    )
                self._cond.wait(min(left, 0.2))


def stop_process(
    proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 10
) -> int:
    """End a process we started (by its id): ``sig``, then SIGKILL after ``timeout``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


@dataclass
class BrokerProcess:
    """A running ``clearpane broker``."""

    proc: subprocess.Popen[str]
    output: OutputLog
    data_dir: Path
    url: str
    enrollment_path: Path
    admin_username: str | None
    admin_password: str | None

    @property
    def root_ca(self) -> Path:
        """The organisation root the broker made on first start."""
        return self.data_dir / "ca" / "root.pem"


@contextlib.contextmanager
def broker_process(
    data_dir: Path,
    timeout: float = 30,
    *,
    command: Sequence[str] = CLI,
    extra: Sequence[str] = (),
) -> Iterator[BrokerProcess]:
    """``clearpane broker --data-dir DATA --host 127.0.0.1 --port 0``, up and serving;
    stopped (SIGTERM, then SIGKILL) on exit unless the test ended it. ``command`` is
    how ``clearpane`` is run (default: this checkout's ``python -m cli.main``; the
    end-to-end tests pass the installed console script)."""
    proc = subprocess.Popen(
        [
            *command,
            "broker",
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--ip",
            "127.0.0.1",
            "--hostname",
            "localhost",
            *extra,
        ],
        cwd=ROOT,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out = OutputLog(proc.stdout, "broker")
        url = out.wait_for(r"Clearpane broker listening on (https://\S+)", timeout).group(1)
        enrollment = out.wait_for(r"Enrollment file for agents: (\S+)", timeout).group(1)
        user = re.search(r"^\s*username: (\S+)$", out.text, re.M)
        password = re.search(r"^\s*password: (\S+)$", out.text, re.M)
        yield BrokerProcess(
            proc,
            out,
            data_dir,
            url,
            Path(enrollment),
            user.group(1) if user else None,
            password.group(1) if password else None,
        )
    finally:
        stop_process(proc)
