"""The broker's event loop: uvloop when it is installed, asyncio otherwise.

uvloop (libuv under asyncio's API) cuts the broker's CPU per relayed frame
(docs/BENCHMARKS.md, "uvloop": measured against asyncio in the same run);
``CLEARPANE_EVENT_LOOP`` picks ``auto`` (uvloop if importable), ``uvloop`` (an
error if missing) or ``asyncio``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["EVENT_LOOPS", "loop_factory", "run"]

log = logging.getLogger(__name__)

T = TypeVar("T")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")


def loop_factory(kind: str) -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """``(name, factory)`` for ``kind``; ``factory`` is None for asyncio's default.

    Raises ``RuntimeError`` when ``uvloop`` is asked for explicitly and missing."""
    if kind == "asyncio":
        return "asyncio", None
    try:
        import uvloop
    except ImportError:
        if kind == "uvloop":
            raise RuntimeError("CLEARPANE_EVENT_LOOP=uvloop but uvloop is not installed") from None
        return "asyncio", None
    return "uvloop", uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], kind: str = "auto") -> T:
    """Run ``main`` to completion on the loop ``kind`` names (like ``asyncio.run``)."""
    name, factory = loop_factory(kind)
    log.info("event loop: %s", name)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
