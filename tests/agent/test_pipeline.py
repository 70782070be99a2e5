"""ScreenPipeline: diff, full updates, masks (G6) and round trips through the decoder."""

from __future__ import annotations

import numpy as np
import pytest

from agent.capture import CaptureSource, Frame, PatternSource
from agent.pipeline import (
    Codec,
    MaskError,
    MaskRegion,
    ScreenPipeline,
    WindowMask,
    apply_update,
    decode_image,
    dirty_tiles,
)
from agent.pipeline.diff import grid_shape
from agent.pipeline.mask import mask_pattern
from protocol.media import ScreenUpdate


class FrameSource(CaptureSource):
    """Returns copies of whatever frame the test sets."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame

    @property
    def size(self) -> tuple[int, int]:
        return self.frame.shape[1], self.frame.shape[0]

    def grab(self) -> Frame:
        return self.frame.copy()


def _mae(a: Frame, b: Frame) -> float:
    return float(np.abs(a[:, :, :3].astype(np.int16) - b[:, :, :3]).mean())


def _reference_dirty(prev: Frame, cur: Frame, tile: int) -> np.ndarray:
    h, w = cur.shape[:2]
    rows, cols = grid_shape(w, h, tile)
    out = np.zeros((rows, cols), dtype=bool)
    for r in range(rows):
        for c in range(cols):
            sl = (slice(r * tile, (r + 1) * tile), slice(c * tile, (c + 1) * tile))
            out[r, c] = not np.array_equal(prev[sl], cur[sl])
    return out


# --- diff -------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [256, 200])  # fast path (multiple of 16) and general path
def test_dirty_tiles_exact_for_known_edits(width: int) -> None:
    prev = np.zeros((150, width, 4), dtype=np.uint8)
    cur = prev.copy()
    cur[70, 130, 0] = 1  # one channel of one pixel -> tile (1, 2)
    cur[0, 0, 3] = 9  # only the alpha byte -> tile (0, 0): words compare all 4 bytes
    cur[149, width - 1, 2] = 5  # bottom-right pixel of a ragged tile
    cur[63:65, 63:65] = 200  # a 2x2 blob straddling four tiles
    grid = dirty_tiles(prev, cur, 64)
    assert grid.shape == (3, 4)
    expected = np.zeros((3, 4), dtype=bool)
    expected[1, 2] = expected[0, 0] = expected[2, 3] = True
    expected[0:2, 0:2] = True
    assert np.array_equal(grid, expected)
    assert not dirty_tiles(prev, prev.copy(), 64).any()


def test_dirty_tiles_matches_reference_on_random_edits() -> None:
    rng = np.random.default_rng(7)
    for width, height, tile in [(1920, 1080, 64), (333, 177, 32), (512, 64, 16)]:
        prev = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
        cur = prev.copy()
        for _ in range(12):
            y, x = rng.integers(0, height), rng.integers(0, width)
            cur[y, x, rng.integers(0, 4)] ^= 0x80
        assert np.array_equal(dirty_tiles(prev, cur, tile), _reference_dirty(prev, cur, tile))


# --- updates ----------------------------------------------------------------------------


def test_first_update_is_full_then_none_when_nothing_changes() -> None:
    src = PatternSource(640, 480, motion=False)
    pipe = ScreenPipeline(src, tile=64, quality=80)
    first = pipe.next_update()
    assert first is not None and pipe.last_stats is not None and pipe.last_stats.full
    assert (first.width, first.height) == (640, 480)
    assert sum(r.w * r.h for r in first.rects) == 640 * 480
    assert pipe.next_update() is None
    assert pipe.last_stats.dirty_tiles == 0
    canvas = apply_update(None, first)
    assert _mae(canvas, src.render(0)) < 6


def test_full_update_on_request_covers_the_screen() -> None:
    src = PatternSource(320, 200, motion=False)
    pipe = ScreenPipeline(src)
    pipe.next_update()
    full = pipe.next_update(full=True)
    assert full is not None
    covered = np.zeros((200, 320), dtype=np.int32)
    for r in full.rects:
        covered[r.dy : r.dy + r.h, r.dx : r.dx + r.w] += 1
    assert (covered == 1).all()
    # Wire round trip of the plaintext.
    assert ScreenUpdate.parse(bytes(full)) == full


def test_update_holds_exactly_the_dirty_tiles() -> None:
    base = np.full((256, 384, 4), 128, dtype=np.uint8)
    src = FrameSource(base)
    pipe = ScreenPipeline(src, tile=64)
    pipe.next_update()
    edited = base.copy()
    edited[10:20, 70:80] = (0, 0, 255, 255)  # tile (0, 1)
    edited[200, 380] = 0  # tile (3, 5)
    src.frame = edited
    update = pipe.next_update()
    assert update is not None and pipe.last_stats is not None
    assert pipe.last_stats.dirty_tiles == 2 and not pipe.last_stats.full
    dests = sorted((r.dx, r.dy, r.w, r.h) for r in update.rects)
    assert dests == [(64, 0, 64, 64), (320, 192, 64, 64)]
    canvas = apply_update(new_from(base), update)
    assert _mae(canvas, edited) < 3


def new_from(frame: Frame) -> Frame:
    out = frame.copy()
    out[:, :, 3] = 255
    return out


def test_round_trip_over_typical_changes() -> None:
    src = PatternSource(960, 540, motion=True)
    pipe = ScreenPipeline(src, quality=75)
    canvas: Frame | None = None
    steps = [
        lambda: None,
        lambda: src.type_text("Hello"),
        lambda: src.type_text(" world"),
        lambda: src.backspace(3),
        lambda: src.scroll(2),
        lambda: src.set_page(4),
        lambda: src.type_text("x"),
    ]
    sizes = []
    for step in steps:
        step()
        update = pipe.next_update()
        assert update is not None  # the box moves every frame
        sizes.append(len(bytes(update)))
        canvas = apply_update(canvas, update)
        expected = src.render(src.index - 1)
        assert _mae(canvas, expected) < 6
    # Typing sends far less than the first full frame.
    assert sizes[1] < sizes[0] / 10


def test_small_text_changes_use_lossless_png() -> None:
    src = PatternSource(640, 480, motion=False)
    pipe = ScreenPipeline(src)
    canvas = apply_update(None, pipe.next_update())
    src.type_text("abc")
    update = pipe.next_update()
    assert update is not None
    assert [i.codec for i in update.images] == [Codec.PNG]
    canvas = apply_update(canvas, update)
    r = update.rects[0]
    region = (slice(r.dy, r.dy + r.h), slice(r.dx, r.dx + r.w))
    assert np.array_equal(canvas[region][:, :, :3], src.render(0)[region][:, :, :3])
    # lossless_max_area=0 forces JPEG.
    jpeg_only = ScreenPipeline(PatternSource(640, 480, motion=False), lossless_max_area=0)
    jpeg_only.next_update()
    assert jpeg_only.last_stats is not None
    jpeg_only.source.type_text("abc")  # type: ignore[attr-defined]
    upd = jpeg_only.next_update()
    assert upd is not None and [i.codec for i in upd.images] == [Codec.JPEG]


def test_screen_size_change_forces_full_update() -> None:
    src = FrameSource(np.zeros((128, 128, 4), dtype=np.uint8))
    pipe = ScreenPipeline(src)
    pipe.next_update()
    src.frame = np.zeros((64, 192, 4), dtype=np.uint8)
    update = pipe.next_update()
    assert update is not None and (update.width, update.height) == (192, 64)
    assert pipe.last_stats is not None and pipe.last_stats.full


def test_bad_parameters() -> None:
    src = PatternSource(128, 128)
    with pytest.raises(ValueError):
        ScreenPipeline(src, tile=50)
    with pytest.raises(ValueError):
        ScreenPipeline(src, quality=0)


# --- masks (G6) -------------------------------------------------------------------------


def _is_red(img: Frame) -> np.ndarray:
    b, g, r = (img[:, :, i].astype(np.int16) for i in range(3))
    return (r > 150) & (g < 90) & (b < 90)


def test_masked_region_never_reaches_the_encoder() -> None:
    src = PatternSource(640, 480, motion=True)
    red_bar = (640 * 5 // 8, 0, 640 // 8, src.bar_h)  # the red colour bar is the "secret"
    assert _is_red(src.render(0)).sum() > 1000
    pipe = ScreenPipeline(src)
    pipe.set_masks([red_bar])
    canvas: Frame | None = None
    for i in range(4):
        update = pipe.next_update(full=(i == 2))
        assert update is not None
        for image in update.images:
            assert not _is_red(decode_image(image)).any()
        canvas = apply_update(canvas, update)
    assert canvas is not None
    x, y, w, h = red_bar
    fill = mask_pattern(640, 480)[y : y + h, x : x + w]
    assert _mae(canvas[y : y + h, x : x + w], fill) < 8
    # Outside the mask the picture is intact (the yellow bar next to it, etc.).
    assert _mae(canvas[:, :x], src.render(3)[:, :x]) < 6


def test_mask_changes_take_effect_on_the_next_frame() -> None:
    src = PatternSource(640, 480, motion=False)
    pipe = ScreenPipeline(src)
    canvas = apply_update(None, pipe.next_update())
    assert _is_red(canvas).sum() > 1000
    pipe.set_masks([MaskRegion(0, 0, 640, 480)])
    canvas = apply_update(canvas, pipe.next_update())
    assert not _is_red(canvas).any()
    assert _mae(canvas, mask_pattern(640, 480)) < 8
    pipe.set_masks([])
    canvas = apply_update(canvas, pipe.next_update())
    assert _is_red(canvas).sum() > 1000
    assert pipe.masks == ((), ())


def test_set_masks_validates_before_changing_anything() -> None:
    pipe = ScreenPipeline(PatternSource(128, 128))
    pipe.set_masks([(0, 0, 10, 10)])
    with pytest.raises(MaskError):
        pipe.set_masks([(0, 0, 10, 10)] * 65)
    with pytest.raises(MaskError):
        pipe.set_masks([(0, 0, -1, 10)])
    with pytest.raises(MaskError):
        pipe.set_masks([(1, 2, 3)])
    with pytest.raises(MaskError):
        WindowMask()
    with pytest.raises(MaskError):
        WindowMask(title="")
    assert pipe.masks == ((MaskRegion(0, 0, 10, 10),), ())
    # A region partly or wholly outside the screen is clipped, not an error.
    pipe.set_masks([(-10, -10, 20, 20), (500, 500, 10, 10)])
    update = pipe.next_update()
    assert update is not None


def test_window_mask_without_x_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    src = PatternSource(320, 240, motion=False)
    pipe = ScreenPipeline(src)
    pipe.set_masks(windows=[WindowMask(title="Online banking")])
    update = pipe.next_update()
    assert update is not None
    canvas = apply_update(None, update)
    # Nobody can say where the window is: the whole screen is blanked.
    assert _mae(canvas, mask_pattern(320, 240)) < 8
    pipe.close()
