"""Routing leaves nothing running when the broker stops: a kick wakes the router's
one task (no task per kick), and the routing context cancels and awaits it."""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

import pytest

from broker.routing import ROUTER
from broker.store.queries import routing as rq
from broker.testing import running_broker


def _router_tasks() -> list[asyncio.Task[object]]:
    """This loop's unfinished tasks that run the router's code."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and t.get_coro().__qualname__.startswith("Router.")  # type: ignore[union-attr]
    ]


async def test_a_kicked_pass_in_flight_is_cancelled_on_shutdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    entered = asyncio.Event()
    never = asyncio.Event()

    async def stuck_pass(*args: object, **kwargs: object) -> list[rq.Assignment]:
        # Edge case only a fake can hold still: a pass that is in flight at shutdown.
        entered.set()
        await never.wait()
        return []

    monkeypatch.setattr(rq, "route_waiting", stuck_pass)
    caplog.set_level(logging.ERROR, logger="asyncio")
    async with running_broker(tmp_path) as broker:
        router = broker.app[ROUTER]
        await asyncio.wait_for(entered.wait(), 10)  # the start-up pass is in flight
        before = len(_router_tasks())
        for _ in range(5):
            router.kick()  # a new request, an engineer available, ...
        await asyncio.sleep(0)  # let any task a kick made start
        assert len(_router_tasks()) == before  # kicks wake the worker, start nothing
    left = _router_tasks()
    assert not left, f"router tasks still pending after the broker stopped: {left}"
    gc.collect()
    assert "Task was destroyed but it is pending" not in caplog.text
