"""Capture sources without an X server: pattern, sequence, factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.capture import CaptureError, PatternSource, SequenceSource, open_source
from agent.capture.pattern import BAR_COLOURS, BOX, BOX_SIZE, COUNTER_BLOCK, COUNTER_ON


def test_pattern_frames_are_bgra_and_deterministic() -> None:
    a, b = PatternSource(320, 240), PatternSource(320, 240)
    frames_a = [a.grab() for _ in range(5)]
    frames_b = [b.grab() for _ in range(5)]
    for i, (fa, fb) in enumerate(zip(frames_a, frames_b, strict=True)):
        assert fa.shape == (240, 320, 4) and fa.dtype == np.uint8
        assert fa.flags.c_contiguous
        assert np.array_equal(fa, fb)
        assert np.array_equal(fa, a.render(i))
    # Motion: consecutive frames differ (box and counter move).
    assert not np.array_equal(frames_a[0], frames_a[1])


def test_pattern_pixels_are_predictable() -> None:
    src = PatternSource(640, 480)
    frame = src.render(5)  # counter 5 = ...0101
    # Colour bars: first bar white, sixth red (BGRA).
    assert tuple(frame[2, 2]) == BAR_COLOURS[0]
    assert tuple(frame[2, 640 * 5 // 8 + 2]) == (0, 0, 255, 255)
    # The box at its predicted place.
    bx, by = src.box_position(5)
    assert tuple(frame[by + BOX_SIZE // 2, bx + BOX_SIZE // 2]) == BOX
    # Counter: last block (bit 0) on, the one before (bit 1) off, bit 2 on.
    y = src.band_y + 2 + COUNTER_BLOCK // 2

    def block(bit: int) -> tuple[int, ...]:
        return tuple(frame[y, 4 + (15 - bit) * (COUNTER_BLOCK + 2) + 2])

    assert block(0) == COUNTER_ON and block(2) == COUNTER_ON
    assert block(1) != COUNTER_ON


def test_pattern_grab_returns_a_new_array_each_time() -> None:
    src = PatternSource(128, 128, motion=False)
    first = src.grab()
    first[:] = 0
    assert src.grab().any()


def test_pattern_scene_changes_are_local_or_global() -> None:
    src = PatternSource(640, 480, motion=False)
    before = src.grab()
    assert np.array_equal(before, src.grab())  # no motion: identical frames
    src.type_text("hi")
    typed = src.grab()
    rows = np.flatnonzero((typed != before).any(axis=(1, 2)))
    assert rows.size and rows.min() >= src.input_y  # typing touches the input line only
    src.backspace(2)
    assert np.array_equal(src.grab(), before)
    src.scroll(1)
    scrolled = src.grab()
    doc = slice(src.doc_y, src.doc_y + src.doc_h)
    assert np.array_equal(scrolled[doc][:-20], before[doc][20:])
    src.set_page(3)
    assert not np.array_equal(src.grab()[doc], scrolled[doc])


def test_pattern_rejects_silly_sizes() -> None:
    with pytest.raises(CaptureError):
        PatternSource(10, 10)


def _write_pngs(folder: Path, colours: list[tuple[int, int, int]]) -> None:
    for i, rgb in enumerate(colours):
        Image.new("RGB", (32, 24), rgb).save(folder / f"{i:03d}.png")


def test_sequence_loops_in_name_order(tmp_path: Path) -> None:
    _write_pngs(tmp_path, [(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    src = SequenceSource(tmp_path)
    assert src.size == (32, 24) and len(src) == 3
    got = [tuple(src.grab()[0, 0]) for _ in range(4)]
    # BGRA order; the fourth grab loops to the first file.
    assert got == [(0, 0, 255, 255), (0, 255, 0, 255), (255, 0, 0, 255), (0, 0, 255, 255)]


def test_sequence_frames_are_owned_by_the_caller(tmp_path: Path) -> None:
    _write_pngs(tmp_path, [(10, 20, 30)])
    src = SequenceSource(tmp_path)
    src.grab()[:] = 0
    assert tuple(src.grab()[5, 5]) == (30, 20, 10, 255)


def test_sequence_errors(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no PNG"):
        SequenceSource(tmp_path)
    with pytest.raises(CaptureError, match="not found"):
        SequenceSource(tmp_path / "missing")
    Image.new("RGB", (32, 24)).save(tmp_path / "a.png")
    Image.new("RGB", (16, 24)).save(tmp_path / "b.png")
    with pytest.raises(CaptureError, match="expected 32x24"):
        SequenceSource(tmp_path)


def test_factory(tmp_path: Path) -> None:
    default = open_source("pattern")
    assert isinstance(default, PatternSource) and default.size == (1920, 1080)
    sized = open_source("pattern:320x200")
    assert sized.size == (320, 200) and sized.grab().shape == (200, 320, 4)
    _write_pngs(tmp_path, [(1, 2, 3)])
    seq = open_source(f"sequence:{tmp_path}")
    assert isinstance(seq, SequenceSource) and seq.size == (32, 24)
    for bad in ("pattern:320", "pattern:axb", "sequence:", "webcam", ""):
        with pytest.raises(CaptureError):
            open_source(bad)


def test_factory_screen_without_display_fails_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(CaptureError, match="DISPLAY"):
        open_source("screen")
    with pytest.raises(CaptureError):
        open_source("screen::250")  # no such X server
