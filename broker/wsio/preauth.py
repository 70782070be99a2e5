"""Sockets that have not yet said a valid ``hello`` (issue 14): at most so many per
client address and in total. Each such socket may hold a frame buffer and a handshake
timer for up to ``HANDSHAKE_TIMEOUT_S``; without a cap, anyone could open thousands.
A socket counts from before the WebSocket upgrade until its ``hello`` verified or it
closed; over a cap the upgrade is refused with 429 and ``Retry-After``."""

from __future__ import annotations

from collections import Counter

__all__ = ["PreAuthGate"]


class PreAuthGate:
    """Counts unauthenticated sockets by address (not thread-safe: one event loop)."""

    def __init__(self, *, per_address: int, total: int) -> None:
        self.per_address = per_address
        self.total = total
        self._by_address: Counter[str] = Counter()
        self._holders: dict[int, str] = {}  # id(socket) -> its address

    def enter(self, holder: object, address: str) -> bool:
        """Count ``holder`` (a socket) for ``address``; False (not counted) over a cap."""
        if len(self._holders) >= self.total or self._by_address[address] >= self.per_address:
            return False
        self._holders[id(holder)] = address
        self._by_address[address] += 1
        return True

    def leave(self, holder: object) -> None:
        """``holder`` authenticated or closed (idempotent)."""
        address = self._holders.pop(id(holder), None)
        if address is None:
            return
        self._by_address[address] -= 1
        if self._by_address[address] <= 0:
            del self._by_address[address]

    def count(self, address: str | None = None) -> int:
        """Unauthenticated sockets now (of ``address``, or all)."""
        return len(self._holders) if address is None else self._by_address[address]
