"""The capture contract: a source of BGRA screen frames (DESIGN §6)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from agent.capture.errors import CaptureError
from agent.desktop.layout import FrameTransform, identity

if TYPE_CHECKING:
    from agent.capture.windows import WindowLister

__all__ = ["CaptureError", "CaptureSource", "Frame"]

#: A captured frame: shape (height, width, 4), dtype uint8, channel order B, G, R, A.
Frame = npt.NDArray[np.uint8]


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
        """Top-left of the captured area in desktop coordinates (for window masks)."""
        t = self.transform
        return t.x, t.y

    @property
    def transform(self) -> FrameTransform:
        """Frame pixels → desktop coordinates for the area captured now (input, masks).

        Sources without a desktop (patterns, recordings) map frame pixels to themselves.
        """
        return identity(*self.size)

    def window_lister(self) -> WindowLister | None:
        """A lister of this desktop's windows (for window masks), or None if it cannot
        list them: window masks then blank the whole frame (fail closed, G6)."""
        return None

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
