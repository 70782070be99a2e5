"""Window masking (G6) under a real X server with a real window located by title."""

from __future__ import annotations

import numpy as np
import pytest

from agent.capture import open_source
from agent.capture.testing import x_window
from agent.pipeline import ScreenPipeline, WindowMask, apply_update, decode_image
from agent.pipeline.mask import mask_pattern

pytestmark = pytest.mark.xvfb


def _is_magenta(img: np.ndarray) -> np.ndarray:
    b, g, r = (img[:, :, i].astype(np.int16) for i in range(3))
    return (r > 170) & (b > 170) & (g < 80)


def test_masked_window_is_blank_and_mask_follows_it(xvfb_display: str) -> None:
    src = open_source(f"screen:{xvfb_display}")
    pipe = ScreenPipeline(src)
    try:
        with x_window(xvfb_display, "Online banking - secret", 400, 300, 240, 160, "#ff00ff") as w:
            # Unmasked, the secret window is on screen (proves the check below can fail).
            canvas = apply_update(None, pipe.next_update(full=True))
            assert _is_magenta(canvas).sum() > 240 * 160 * 0.9

            pipe.set_masks(windows=[WindowMask(title="Online banking")])
            fill = mask_pattern(1920, 1080)
            for step in range(3):
                if step == 1:
                    w.move(900, 500)  # the mask must follow in the very next frame
                if step == 2:
                    w.set_colour("#ff00fe")  # content changes under the mask
                update = pipe.next_update(full=(step == 0))
                if update is not None:
                    for image in update.images:
                        assert not _is_magenta(decode_image(image)).any()
                    canvas = apply_update(canvas, update)
                assert not _is_magenta(canvas).any()
            x, y = 900, 500
            region = canvas[y : y + 160, x : x + 240, :3].astype(np.int16)
            assert np.abs(region - fill[y : y + 160, x : x + 240, :3]).mean() < 8

            # Masking by window id works too.
            pipe.set_masks(windows=[WindowMask(window_id=w.window_id)])
            canvas = apply_update(canvas, pipe.next_update(full=True))
            assert not _is_magenta(canvas).any()

            pipe.set_masks()
            canvas = apply_update(canvas, pipe.next_update())
            assert _is_magenta(canvas).sum() > 240 * 160 * 0.9
    finally:
        pipe.close()
        src.close()
