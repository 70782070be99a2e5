"""The capture contract: a source of BGRA screen frames (DESIGN §6)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType

import numpy as np
import numpy.typing as npt

#: A captured frame: shape (height, width, 4), dtype uint8, channel order B, G, R, A.
Frame = npt.NDArray[np.uint8]


class CaptureError(Exception):
    """Root exception of ``agent.capture``: a source cannot be opened or read."""


class CaptureSource(ABC):
    """A source of screen frames, like aiortc's ``MediaStreamTrack.recv()``.

    ``grab()`` returns a C-contiguous ``(height, width, 4)`` uint8 BGRA array that the
    caller owns: the source never writes into an array it has returned, so the
    pipeline may mask it in place and keep it as the previous frame.
    """

    @property
    @abstractmethod
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames, in pixels."""

    @property
    def origin(self) -> tuple[int, int]:
        """Top-left of the captured area in X root coordinates (for window masks)."""
        return 0, 0

    @abstractmethod
    def grab(self) -> Frame:
        """Capture one frame (BGRA, C-contiguous, owned by the caller)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most sources hold nothing
        """Release the source's resources; idempotent."""

    def __enter__(self) -> CaptureSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
