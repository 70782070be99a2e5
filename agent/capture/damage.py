"""Damage-driven capture (DESIGN §6): on a still screen, nothing is grabbed.

Where the X server offers the DAMAGE extension, :class:`DamageTracker` watches the
root window (drawing into any window damages it) at the ``NonEmpty`` level: the
server sends one ``DamageNotify`` when the damaged region stops being empty, and
nothing more until the tracker re-arms it with ``DamageSubtract``. One cheap
pointer query per check adds what damage does not see: the cursor is a sprite the
capture draws in itself, so moving it damages nothing.

The pipeline asks :meth:`DamageTracker.changed` before each grab that is not a full
one; it returns True (grab) when the screen or the pointer may have changed since
the previous call. It fails open: any X error, a lost connection or no extension
means "changed", so a broken tracker costs the old polling, never a stale picture.

Uses its own connection of the agent's X11 binding (:mod:`agent.x11`), so it is
independent of the capture's and the injector's threads.
"""

from __future__ import annotations

import logging
import select
from typing import Any

from Xlib import X, error
from Xlib.ext import damage

from agent.x11 import X11Connection, X11Unavailable

__all__ = ["DamageTracker", "DamageUnavailable"]

log = logging.getLogger(__name__)


class DamageUnavailable(X11Unavailable):
    """The display has no DAMAGE extension (or cannot be opened)."""


class DamageTracker:
    """Tells whether the screen of ``display`` changed since the last question."""

    def __init__(self, display: str | None = None) -> None:
        self._x = X11Connection(display)
        d: Any = self._x.display
        if not d.has_extension(damage.extname):
            self._x.close()
            raise DamageUnavailable(f"{self._x.name} has no DAMAGE extension")
        try:
            d.damage_query_version()
            root: Any = self._x.root  # damage_create is added to drawables by the extension
            self._damage = root.damage_create(damage.DamageReportNonEmpty)
            d.sync()
        except (error.XError, error.ConnectionClosedError, OSError) as exc:
            self._x.close()
            raise DamageUnavailable(f"DAMAGE on {self._x.name} failed: {exc}") from exc
        self._pointer: tuple[int, int] | None = None
        self._failed = False
        self.checks = 0
        """Questions asked (tests, benchmarks)."""
        self.notifies = 0
        """``DamageNotify`` events seen."""

    def changed(self) -> bool:
        """True if the screen may have changed since the previous call (first: True)."""
        if self._failed or self._x.closed:
            return True
        self.checks += 1
        d: Any = self._x.display
        try:
            damaged = False
            while d.pending_events():
                if d.next_event().type == d.extension_event.DamageNotify:
                    damaged = True
            if damaged:
                self.notifies += 1
                # Re-arm: empty the region so the next drawing sends a new notify.
                d.damage_subtract(self._damage, X.NONE, X.NONE)
                d.flush()
            p = self._x.root.query_pointer()
            pointer = (int(p.root_x), int(p.root_y))
        except (error.XError, error.ConnectionClosedError, OSError) as exc:
            log.warning("damage tracking stopped (%s): every frame is grabbed", exc)
            self._failed = True
            return True
        moved = pointer != self._pointer
        first = self._pointer is None
        self._pointer = pointer
        return damaged or moved or first

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` s for X to report drawing; True if it may have.

        Lets the capture loop grab a change at once instead of at its next tick (P5);
        the pointer is not evented here, ``changed`` still polls it every tick.
        """
        if self._failed or self._x.closed:
            return True
        d: Any = self._x.display
        try:
            if d.pending_events():
                return True
            ready, _, _ = select.select([d.fileno()], [], [], max(0.0, timeout))
        except (error.ConnectionClosedError, OSError, ValueError):
            return True  # closed meanwhile: the caller's next check says so
        return bool(ready)

    def close(self) -> None:
        """Destroy the damage object and close the connection (idempotent)."""
        if not self._x.closed:
            d: Any = self._x.display
            try:
                d.damage_destroy(self._damage)
                d.flush()
            except (error.XError, error.ConnectionClosedError, OSError):
                pass
        self._x.close()
