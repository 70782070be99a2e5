"""Per-viewer flow control, "latest frame wins" (SPEC §6).

Pure state: no I/O, no clock. A :class:`ViewerFlow` holds at most
``MAX_INFLIGHT_UPDATES`` screen updates sent but not acknowledged plus **one**
pending slot; a newer update replaces the pending one. Updates are the
immutable :class:`Update` objects the session received from the agent, shared
by reference between viewers, so a viewer that never acknowledges (or never
reads its socket) costs a bounded number of references, never a copy.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from protocol.limits import MAX_INFLIGHT_UPDATES

__all__ = ["Update", "ViewerFlow"]


@dataclass(frozen=True, slots=True)
class Update:
    """One screen update as received from the agent (SPEC §4.1).

    ``data`` is the whole binary frame (clear header + ciphertext); the relay
    forwards it unchanged and never looks past the header.
    """

    seq: int
    full: bool
    data: bytes


class ViewerFlow:
    """Credit for one viewer: in-flight updates plus one pending slot (SPEC §6)."""

    __slots__ = ("_inflight", "_max_inflight", "acked", "dropped", "pending", "sent")

    def __init__(self, max_inflight: int = MAX_INFLIGHT_UPDATES) -> None:
        self._max_inflight = max_inflight
        self._inflight: deque[int] = deque()
        self.pending: Update | None = None
        self.acked = 0
        """Highest seq the viewer said it has drawn."""
        self.sent = 0
        """Highest seq handed to the viewer's connection."""
        self.dropped = 0
        """Updates replaced in the pending slot before they could be sent."""

    @property
    def inflight(self) -> int:
        """Number of updates sent but not acknowledged."""
        return len(self._inflight)

    def offer(self, update: Update) -> Update | None:
        """A new update from the agent: return it if it may be sent now, else park it.

        A parked update replaces the pending one (latest wins; a ``FULL`` update
        makes every older one useless anyway). The replaced update is counted in
        :attr:`dropped` so the viewer will see a gap and ask for a ``refresh``.
        """
        if len(self._inflight) < self._max_inflight and self.pending is None:
            self._mark_sent(update)
            return update
        if self.pending is not None:
            self.dropped += 1
        self.pending = update
        return None

    def ack(self, seq: int) -> tuple[bool, Update | None]:
        """The viewer acknowledged ``seq`` (SPEC §4.3).

        Returns ``(advanced, to_send)``: whether the ack moved :attr:`acked`
        forward, and the pending update to send now that credit is free. An ack
        for a seq never sent to this viewer, or not newer than the last one, is
        ignored (it grants no credit).
        """
        if seq <= self.acked or seq > self.sent:
            return False, None
        self.acked = seq
        while self._inflight and self._inflight[0] <= seq:
            self._inflight.popleft()
        return True, self._release()

    def clear(self) -> None:
        """Forget everything (viewer lost ``view``, or the session paused)."""
        self._inflight.clear()
        self.pending = None

    def drop_pending(self) -> None:
        """Discard the pending slot (pause: nothing is forwarded while paused)."""
        self.pending = None

    def release(self) -> Update | None:
        """Send the pending update if there is credit (after resume)."""
        return self._release()

    def _release(self) -> Update | None:
        if self.pending is not None and len(self._inflight) < self._max_inflight:
            update, self.pending = self.pending, None
            self._mark_sent(update)
            return update
        return None

    def _mark_sent(self, update: Update) -> None:
        self._inflight.append(update.seq)
        self.sent = max(self.sent, update.seq)
