"""Time for the broker: one injectable clock so that tests never sleep.

Every time the broker stores or compares is an integer count of milliseconds since
the Unix epoch (UTC), like the ``*_ms`` fields of protocol/SPEC.md.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from aiohttp import web

__all__ = ["CLOCK", "Clock", "SystemClock", "iso_ms"]


class Clock(Protocol):
    """Something that tells the time in epoch milliseconds."""

    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch (UTC)."""
        ...


class SystemClock:
    """The real wall clock."""

    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch (UTC), from :func:`time.time_ns`."""
        return time.time_ns() // 1_000_000


def iso_ms(ms: int | None) -> str | None:
    """Format epoch milliseconds as RFC 3339 UTC (``2026-01-02T03:04:05.678Z``)."""
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


# The application's clock (set by broker.app.create_app; tests inject a fake).
CLOCK = web.AppKey[Clock]("clock")
