"""An image-sequence source: a folder of PNG files shown in name order, looping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from agent.capture.base import CaptureError, CaptureSource, Frame


def load_bgra(path: Path) -> Frame:
    """Read an image file as a C-contiguous BGRA uint8 array."""
    with Image.open(path) as img:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
    return np.ascontiguousarray(rgba[:, :, [2, 1, 0, 3]])


class SequenceSource(CaptureSource):
    """Frames from ``*.png`` files in ``directory`` (sorted by name), looping forever.

    All images are decoded once when the source opens (benchmarks must not time PNG
    decoding) and must have the same size.
    """

    def __init__(self, directory: str | Path) -> None:
        folder = Path(directory)
        if not folder.is_dir():
            raise CaptureError(f"sequence folder not found: {folder}")
        files = sorted(folder.glob("*.png"))
        if not files:
            raise CaptureError(f"no PNG files in {folder}")
        try:
            self._frames = [load_bgra(f) for f in files]
        except OSError as exc:
            raise CaptureError(f"cannot read image in {folder}: {exc}") from exc
        h, w = self._frames[0].shape[:2]
        for f, arr in zip(files, self._frames, strict=True):
            if arr.shape[:2] != (h, w):
                raise CaptureError(f"{f.name} is {arr.shape[1]}x{arr.shape[0]}, expected {w}x{h}")
        self._size = (w, h)
        self.index = 0

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def __len__(self) -> int:
        return len(self._frames)

    def grab(self) -> Frame:
        frame = self._frames[self.index % len(self._frames)].copy()
        self.index += 1
        return frame
