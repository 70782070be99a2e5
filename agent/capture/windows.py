"""Where X11 windows are, for masking windows by title or id (G6).

Everything goes through the agent's one X11 binding (:mod:`agent.x11`, no
subprocess): titles are resolved to window ids by walking the window tree (rare: when
masks change and about once a second); geometry is read every frame, so a window that
moves stays masked in the very next frame.  Without an X display every lookup raises
:class:`WindowLookupError`; the pipeline then fails closed (it blanks the whole frame).

:class:`WindowLister` is the seam the pipeline depends on; :class:`WindowLocator` is
its X11 implementation (other desktops add their own, or none: then window masks
blank the whole frame).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass

from agent.capture.errors import CaptureError
from agent.x11 import MAX_WINDOWS, X11Connection, X11Unavailable

__all__ = ["MAX_WINDOWS", "WindowGeometry", "WindowLister", "WindowLocator", "WindowLookupError"]


class WindowLookupError(CaptureError):
    """Window positions cannot be looked up (no X display, no window list)."""


@dataclass(frozen=True, slots=True)
class WindowGeometry:
    """A viewable window's outer rectangle in desktop coordinates."""

    window_id: int
    x: int
    y: int
    width: int
    height: int


class WindowLister(ABC):
    """Finds other applications' windows for masks; raises WindowLookupError when it
    cannot (the pipeline then blanks everything)."""

    @abstractmethod
    def search(self, title: str) -> list[int]:
        """Ids of viewable windows whose title contains ``title`` (ignoring case)."""

    @abstractmethod
    def geometry(self, window_id: int) -> WindowGeometry | None:
        """The window's rectangle, or None if it is gone or not viewable."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (idempotent)."""


class WindowLocator(WindowLister):
    """Looks up X11 windows on ``display`` (default ``$DISPLAY``), connecting lazily."""

    def __init__(self, display: str | None = None) -> None:
        self.display = display or os.environ.get("DISPLAY") or ""
        self._x: X11Connection | None = None

    def _conn(self) -> X11Connection:
        if self._x is None:
            try:
                self._x = X11Connection(self.display)
            except X11Unavailable as exc:
                raise WindowLookupError(str(exc)) from exc
        return self._x

    def search(self, title: str) -> list[int]:
        """Ids of viewable windows whose title contains ``title`` (ignoring case).

        Reads ``_NET_WM_NAME`` (UTF-8), else ``WM_NAME``, of every window in the tree
        (xdotool's regex search misses non-ASCII titles in Latin-1 ``WM_NAME``).
        """
        x = self._conn()
        needle = title.casefold()
        found: list[int] = []
        stack, seen = [x.root_id], 0
        while stack and seen < MAX_WINDOWS:
            win = stack.pop()
            seen += 1
            stack.extend(reversed(x.children(win)))
            if win == x.root_id:
                continue
            name = x.title(win)
            if name is not None and needle in name.casefold() and x.viewable(win):
                found.append(win)
        return found

    def title_of(self, window: int) -> str | None:
        """The window's title, or None if it has none."""
        return self._conn().title(window)

    def geometry(self, window_id: int) -> WindowGeometry | None:
        """The rectangle of the window's top-level frame (decorations and border
        included: the title bar may show what the title says), or None if the window
        is gone or not viewable."""
        x = self._conn()
        top = x.toplevel(window_id)
        if top is None or not x.viewable(window_id) or not x.viewable(top):
            return None
        r = x.rect(top)
        if r is None:
            return None
        return WindowGeometry(window_id, r.x, r.y, r.width, r.height)

    def close(self) -> None:
        """Close the X connection."""
        if self._x is not None:
            self._x.close()
            self._x = None
