"""The real screen, through mss on an X display (MACHINE-NOTES "Screen capture")."""

from __future__ import annotations

import os
from typing import Any

import mss
import numpy as np

from agent.capture.base import CaptureError, CaptureSource, Frame


class ScreenSource(CaptureSource):
    """One monitor of an X display (``monitor=1`` is the first; 0 is all of them).

    ``grab()`` wraps mss's fresh BGRA buffer in a numpy array without copying it.
    """

    def __init__(self, display: str | None = None, monitor: int = 1) -> None:
        display = display or os.environ.get("DISPLAY")
        if not display:
            raise CaptureError("no X display: set DISPLAY")
        try:
            self._sct: Any = mss.MSS(display=display)
            monitors = self._sct.monitors
            self._monitor = dict(monitors[monitor])
        except IndexError as exc:
            self._sct.close()
            raise CaptureError(f"monitor {monitor} not found on {display}") from exc
        except Exception as exc:  # mss raises ScreenShotError and OSError variants
            raise CaptureError(f"cannot open X display {display}: {exc}") from exc
        self.display = display
        self._closed = False

    @property
    def size(self) -> tuple[int, int]:
        return int(self._monitor["width"]), int(self._monitor["height"])

    @property
    def origin(self) -> tuple[int, int]:
        return int(self._monitor["left"]), int(self._monitor["top"])

    def grab(self) -> Frame:
        if self._closed:
            raise CaptureError("screen source is closed")
        try:
            shot = self._sct.grab(self._monitor)
        except Exception as exc:
            raise CaptureError(f"screen grab failed: {exc}") from exc
        w, h = shot.width, shot.height
        # shot.raw is a new bytearray per grab: writable, owned by the caller, no copy.
        return np.frombuffer(shot.raw, dtype=np.uint8).reshape(h, w, 4)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sct.close()
