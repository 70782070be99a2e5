"""Packing dirty tiles into few images (SPEC §4.1, DESIGN §6).

Each image costs a JPEG header (≈600 bytes) and a decode call on the viewer, so dirty
tiles are first merged into rectangles (horizontal runs of tiles in a row, then equal
runs in consecutive rows), and the rectangles are shelf-packed into a few strip images
whose width is bounded by the screen width.  Slots inside a strip start on 16-pixel
boundaries so no JPEG block (16×16 MCU at 4:2:0) straddles two rectangles.  A single
rectangle is encoded straight from the frame (no copy when it spans whole rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.capture.base import Frame
from agent.pipeline.diff import TileGrid
from protocol.limits import MAX_IMAGES, MAX_RECTS

ALIGN = 16


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass(frozen=True, slots=True)
class Box:
    """A screen rectangle in pixels."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class Placement:
    """Copy (sx, sy, w, h) of image ``image`` to (dx, dy) on the screen (SPEC §4.1 rect)."""

    image: int
    sx: int
    sy: int
    dx: int
    dy: int
    w: int
    h: int


def dirty_boxes(grid: TileGrid, tile: int, width: int, height: int) -> list[Box]:
    """Merge the dirty tiles of ``grid`` into rectangles clipped to the screen.

    Every dirty tile lies in exactly one rectangle and no clean tile in any.
    """
    rows, cols = grid.shape
    # Per row: the runs (c0, c1) of dirty tiles, found with one vectorised diff per row.
    padded = np.zeros((rows, cols + 2), dtype=np.int8)
    padded[:, 1:-1] = grid
    edges = np.diff(padded, axis=1)
    open_: dict[tuple[int, int], int] = {}  # run -> first row of the rect growing down
    out: list[tuple[int, int, int, int]] = []  # (r0, r1, c0, c1) in tiles
    for r in range(rows):
        starts = np.flatnonzero(edges[r] == 1)
        ends = np.flatnonzero(edges[r] == -1)
        runs = {(int(a), int(b)) for a, b in zip(starts, ends, strict=True)}
        for run in [k for k in open_ if k not in runs]:
            out.append((open_.pop(run), r, *run))
        for run in runs:
            open_.setdefault(run, r)
    out.extend((r0, rows, c0, c1) for (c0, c1), r0 in open_.items())
    boxes = []
    for r0, r1, c0, c1 in sorted(out):
        x, y = c0 * tile, r0 * tile
        boxes.append(Box(x, y, min(c1 * tile, width) - x, min(r1 * tile, height) - y))
    if len(boxes) > MAX_RECTS:
        # Pathological patterns (a checkerboard on a huge screen): whole tile rows.
        boxes = [
            Box(0, r * tile, width, min((r + 1) * tile, height) - r * tile)
            for r in range(rows)
            if grid[r].any()
        ]
    return boxes


def pack_boxes(
    frame: Frame, boxes: list[Box], max_width: int, max_height: int
) -> tuple[list[Frame], list[Placement]]:
    """Copy ``boxes`` of ``frame`` into few images; returns (images, placements).

    Images are at most ``max_width`` wide (or as wide as the widest box) and roughly
    ``max_height`` tall; padding between slots is zero (never stale memory).
    """
    if not boxes:
        return [], []
    if len(boxes) == 1:
        b = boxes[0]
        view = frame[b.y : b.y + b.h, b.x : b.x + b.w]
        return [np.ascontiguousarray(view)], [Placement(0, 0, 0, b.x, b.y, b.w, b.h)]
    limit_w = max(_align(max_width), max(_align(b.w) for b in boxes))
    # Shelf packing, tallest first: (image, shelf y, x cursor, shelf height).
    order = sorted(boxes, key=lambda b: (-b.h, b.y, b.x))
    slots: list[tuple[int, int, int, Box]] = []  # (image, sx, sy, box)
    sizes: list[list[int]] = [[0, 0]]  # per image: used width, used height
    shelf_y, shelf_h, cursor, image = 0, 0, 0, 0
    for b in order:
        w, h = _align(b.w), _align(b.h)
        if cursor + w > limit_w:  # next shelf
            shelf_y, cursor, shelf_h = shelf_y + shelf_h, 0, 0
        if shelf_y > 0 and shelf_y + h > max_height and image + 1 < MAX_IMAGES:
            image, shelf_y, cursor, shelf_h = image + 1, 0, 0, 0
            sizes.append([0, 0])
        slots.append((image, cursor, shelf_y, b))
        cursor += w
        shelf_h = max(shelf_h, h)
        sizes[image][0] = max(sizes[image][0], cursor)
        sizes[image][1] = max(sizes[image][1], shelf_y + shelf_h)
    images = [np.zeros((h, w, 4), dtype=np.uint8) for w, h in sizes]
    placements = []
    for img, sx, sy, b in slots:
        images[img][sy : sy + b.h, sx : sx + b.w] = frame[b.y : b.y + b.h, b.x : b.x + b.w]
        placements.append(Placement(img, sx, sy, b.x, b.y, b.w, b.h))
    return images, placements
