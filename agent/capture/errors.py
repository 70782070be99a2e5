"""The root exception of :mod:`agent.capture`, in a module of its own so that the
capture contract (:mod:`.base`) and the window lister (:mod:`.windows`) both use it
without importing each other in a cycle."""

from __future__ import annotations

__all__ = ["CaptureError"]


class CaptureError(Exception):
    """Root exception of ``agent.capture``: a source cannot be opened or read."""
