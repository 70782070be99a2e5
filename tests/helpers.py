"""Helpers every test folder shares. Import them from here, never from another test
module (a test module is not a library).

:func:`eventually` is the one way a test waits for something to become true. To show
that something did **not** happen, do not sleep: wait for the event that would have
caused it, or for a later one that must follow it, then assert.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually", "eventually_blocking"]

T = TypeVar("T")

#: How often a condition is re-checked: short against the seconds a test may wait.
INTERVAL_S = 0.02


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 10.0,
    what: str = "",
    interval: float = INTERVAL_S,
    tick: Callable[[], object] | None = None,
) -> T:
    """Re-check ``check`` (sync or async) until it returns something truthy; return it.

    ``tick`` runs before each check (e.g. Qt's ``processEvents``). Raises
    ``AssertionError`` naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        await asyncio.sleep(interval)


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
