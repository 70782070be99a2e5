"""Engineer presence (issue 19): what an engineer says (available, busy, away) and
what routing makes of it. Pure: no I/O.

An engineer *sets* ``available``, ``busy`` or ``away`` (the viewer's header, or
``PUT /api/v1/me/presence``); an engineer who never set anything is ``away`` — work is
pushed only to someone who said they are there. The *effective* presence adds what
the broker knows: an available engineer whose live sessions reach the capacity
(``routing_capacity``) is shown and treated as ``busy`` until one of them ends, and one
whose viewer has not renewed the lease for ``presence_lease_s`` (a closed browser) is
``away``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["AVAILABLE", "AWAY", "BUSY", "DEFAULT_STATUS", "PRESENCE_STATUSES", "effective"]

AVAILABLE: Final = "available"
BUSY: Final = "busy"
AWAY: Final = "away"
PRESENCE_STATUSES: Final = (AVAILABLE, BUSY, AWAY)
DEFAULT_STATUS: Final = AWAY


def effective(
    stored: str | None,
    live_sessions: int,
    capacity: int,
    *,
    seen_ms: int | None = None,
    now_ms: int | None = None,
    lease_ms: int | None = None,
) -> str:
    """The presence routing and the viewer use: what the engineer set, except that
    ``available`` with ``live_sessions >= capacity`` is ``busy`` (derived), and
    ``available`` not seen for ``lease_ms`` (the viewer renews it while open) is
    ``away`` — unless a live session shows they are there."""
    status = stored if stored in PRESENCE_STATUSES else DEFAULT_STATUS
    if status == AVAILABLE and live_sessions >= capacity:
        return BUSY
    if (
        status == AVAILABLE
        and live_sessions == 0
        and seen_ms is not None
        and now_ms is not None
        and lease_ms is not None
        and now_ms - seen_ms > lease_ms
    ):
        return AWAY
    return status
