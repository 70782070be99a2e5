"""Packing dirty tiles into strips: coverage, bounds, and limits (SPEC §4.1)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from agent.pipeline import Box, ScreenPipeline, dirty_boxes, pack_boxes
from agent.pipeline.pack import ALIGN
from protocol.limits import MAX_IMAGES, MAX_RECTS
from protocol.media import EncodedImage, Rect, ScreenUpdate


@st.composite
def screens(draw: st.DrawFn) -> tuple[np.ndarray, int, int, int]:
    tile = draw(st.sampled_from([16, 32, 64]))
    rows = draw(st.integers(1, 10))
    cols = draw(st.integers(1, 10))
    # Ragged last row/column: the screen need not be a multiple of the tile.
    width = (cols - 1) * tile + draw(st.integers(1, tile))
    height = (rows - 1) * tile + draw(st.integers(1, tile))
    grid = draw(arrays(np.bool_, (rows, cols)))
    return grid, tile, width, height


@settings(max_examples=150, deadline=None)
@given(screens())
def test_every_dirty_tile_is_covered_exactly_once(case: tuple[np.ndarray, int, int, int]) -> None:
    grid, tile, width, height = case
    boxes = dirty_boxes(grid, tile, width, height)
    covered = np.zeros((height, width), dtype=np.int32)
    for b in boxes:
        assert b.w > 0 and b.h > 0
        assert b.x >= 0 and b.x + b.w <= width and b.y >= 0 and b.y + b.h <= height
        covered[b.y : b.y + b.h, b.x : b.x + b.w] += 1
    # Expand the tile grid to pixels: dirty pixels covered once, clean ones never.
    want = np.kron(grid, np.ones((tile, tile), dtype=np.int32))[:height, :width]
    assert np.array_equal(covered, want)
    assert len(boxes) <= max(1, int(grid.sum()))

    # Pack real pixels and rebuild the screen from the strips alone.
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    images, placements = pack_boxes(frame, boxes, width, height)
    assert len(images) <= MAX_IMAGES and len(placements) == len(boxes)
    for img in images:
        assert img.flags.c_contiguous and img.dtype == np.uint8
        assert img.shape[1] <= max(-(-width // ALIGN) * ALIGN, max(b.w for b in boxes) + ALIGN)
    rebuilt = np.zeros_like(frame)
    for p in placements:
        src = images[p.image][p.sy : p.sy + p.h, p.sx : p.sx + p.w]
        assert src.shape[:2] == (p.h, p.w)  # inside its image
        rebuilt[p.dy : p.dy + p.h, p.dx : p.dx + p.w] = src
    mask = want.astype(bool)
    assert np.array_equal(rebuilt[mask], frame[mask])
    if len(placements) > 1:  # slots start on JPEG MCU boundaries
        assert all(p.sx % ALIGN == 0 and p.sy % ALIGN == 0 for p in placements)
    # The result is a valid SPEC §4.1 payload.
    if placements:
        ScreenUpdate(
            width,
            height,
            tuple(EncodedImage(1, b"x") for _ in images),
            tuple(Rect(p.image, p.sx, p.sy, p.dx, p.dy, p.w, p.h) for p in placements),
        )


def test_runs_merge_into_rectangles() -> None:
    grid = np.zeros((4, 6), dtype=bool)
    grid[1:3, 1:4] = True  # one 3x2 block of tiles
    grid[0, 5] = True
    boxes = dirty_boxes(grid, 64, 6 * 64, 4 * 64)
    assert sorted(boxes, key=lambda b: (b.y, b.x)) == [
        Box(320, 0, 64, 64),
        Box(64, 64, 192, 128),
    ]


def test_many_scattered_tiles_pack_into_one_strip() -> None:
    # A checkerboard of 1080p tiles: hundreds of rects, few images, within the limits.
    grid = np.indices((17, 30)).sum(axis=0) % 2 == 0
    boxes = dirty_boxes(grid, 64, 1920, 1080)
    assert len(boxes) == int(grid.sum()) <= MAX_RECTS
    frame = np.zeros((1080, 1920, 4), dtype=np.uint8)
    images, _placements = pack_boxes(frame, boxes, 1920, 1080)
    assert len(images) <= 2
    assert all(img.shape[1] <= 1920 for img in images)


def test_typed_word_is_one_small_image() -> None:
    from agent.capture import PatternSource

    src = PatternSource(1920, 1080, motion=False)
    pipe = ScreenPipeline(src)
    pipe.next_update()
    src.type_text("Invoice 2026-11 overdue")
    update = pipe.next_update()
    assert update is not None and pipe.last_stats is not None
    assert len(update.images) == 1
    assert pipe.last_stats.dirty_tiles == 4  # 23 glyphs x 10 px on one tile row
    assert len(bytes(update)) < 8_000
