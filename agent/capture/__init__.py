"""Screen capture for the agent (DESIGN §6): sources of BGRA frames behind one ABC.

``open_source(spec)`` picks a backend, like aiortc's codec factory: ``pattern`` (a
deterministic synthetic screen), ``pattern:WIDTHxHEIGHT``, ``sequence:DIR`` (PNG files,
looping) and ``screen`` (the X display in ``$DISPLAY``, through mss; ``screen:DISPLAY``
names another; ``monitor`` picks one of its monitors or ``all``, and the cursor is drawn
in).  ``windows`` finds X11 windows to mask by title or id.
"""

from __future__ import annotations

import re

from agent.capture.base import CaptureError, CaptureSource, Frame
from agent.capture.pattern import PatternSource
from agent.capture.sequence import SequenceSource
from agent.capture.windows import (
    WindowGeometry,
    WindowLister,
    WindowLocator,
    WindowLookupError,
)

__all__ = [
    "CaptureError",
    "CaptureSource",
    "Frame",
    "PatternSource",
    "SequenceSource",
    "WindowGeometry",
    "WindowLister",
    "WindowLocator",
    "WindowLookupError",
    "open_source",
]

_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


def open_source(spec: str, monitor: str = "primary") -> CaptureSource:
    """Open the capture source named by ``spec`` (see the module docstring).

    Raises :class:`CaptureError` for an unknown or malformed spec, or a source that
    cannot be opened.
    """
    kind, _, arg = spec.partition(":")
    if kind == "pattern":
        if not arg:
            return PatternSource()
        m = _SIZE.match(arg)
        if m is None:
            raise CaptureError(f"bad pattern size {arg!r}: expected WIDTHxHEIGHT")
        return PatternSource(int(m.group(1)), int(m.group(2)))
    if kind == "sequence":
        if not arg:
            raise CaptureError("sequence: needs a folder, e.g. sequence:/path/to/pngs")
        return SequenceSource(arg)
    if kind == "screen":
        from agent.capture.screen import ScreenSource  # imports mss only when needed

        return ScreenSource(arg or None, monitor)
    raise CaptureError(f"unknown capture source {spec!r}: use pattern, sequence:DIR or screen")
