"""What the REST API may ask of the relay, and the ``RELAY`` key it is found under.

The relay service (``broker.ws.setup``) stores itself under :data:`RELAY`; the API
depends only on this interface, not on the WebSocket layer.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from broker.store.queries import User

__all__ = ["RELAY", "RelayControl"]


class RelayControl(Protocol):
    """What the REST API needs from the relay.

    ``end_session`` tells the live parties the session ended, seals the log and
    records the end in the store (``queries.mark_ended``). It returns False when the
    relay does not know the session (nobody connected); the API then marks the
    session ended in the store itself.
    """

    async def end_session(
        self, sid: str, *, reason: str, by: User | None, resolution: str | None
    ) -> bool:
        """End session ``sid`` for ``reason``; see the class docstring."""
        ...

    async def notice(self, sid: str, event: str, detail: dict[str, Any]) -> bool:
        """Put a broker notice (an audit event name) in a live session's log, which
        the client's agent shows; False when the relay does not hold the session."""
        ...


# Present only when broker.ws.setup registered the relay.
RELAY = web.AppKey[RelayControl]("relay")
