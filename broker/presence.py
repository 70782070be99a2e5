"""Engineer presence (issue 19): what an engineer says (available, busy, away) and
what routing makes of it. Pure: no I/O.

An engineer *sets* ``available``, ``busy`` or ``away`` (the viewer's header, or
``PUT /api/v1/me/presence``); an engineer who never set anything is ``away`` — work is
pushed only to someone who said they are there. The *effective* presence adds what
the broker knows: an available engineer whose live sessions reach the capacity
(``routing_capacity``) is shown and treated as ``busy`` until one of them ends.
"""

from __future__ import annotations

from typing import Final

__all__ = ["AVAILABLE", "AWAY", "BUSY", "DEFAULT_STATUS", "PRESENCE_STATUSES", "effective"]

AVAILABLE: Final = "available"
BUSY: Final = "busy"
AWAY: Final = "away"
PRESENCE_STATUSES: Final = (AVAILABLE, BUSY, AWAY)
DEFAULT_STATUS: Final = AWAY


def effective(stored: str | None, live_sessions: int, capacity: int) -> str:
    """The presence routing and the viewer use: what the engineer set, except that
    ``available`` with ``live_sessions >= capacity`` is ``busy`` (derived)."""
    status = stored if stored in PRESENCE_STATUSES else DEFAULT_STATUS
    if status == AVAILABLE and live_sessions >= capacity:
        return BUSY
    return status
