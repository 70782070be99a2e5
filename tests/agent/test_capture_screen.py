"""Real capture from a real X server (Xvfb) and real X windows (Tk)."""

from __future__ import annotations

import numpy as np
import pytest

from agent.capture import CaptureError, WindowLocator, WindowLookupError, open_source
from agent.capture.screen import ScreenSource
from agent.capture.testing import x_window
from agent.x11 import X11Connection
from tests.helpers import eventually_blocking

pytestmark = pytest.mark.xvfb


def _wait_for(source: ScreenSource, y: int, x: int, bgr: tuple[int, int, int]) -> np.ndarray:
    """The next grab whose pixel (y, x) is ``bgr`` (the X server draws asynchronously)."""

    def grab() -> list[np.ndarray]:  # a list: an array has no truth value
        frame = source.grab()
        return [frame] if tuple(frame[y, x, :3]) == bgr else []

    return eventually_blocking(grab, timeout=3, what=f"colour {bgr} at ({x}, {y})")[0]


def test_screen_capture_shows_a_real_window(xvfb_display: str) -> None:
    pointer = X11Connection(xvfb_display)
    pointer.fake_motion(1900, 1060)  # the cursor is drawn into frames: keep it away
    pointer.sync()
    pointer.close()
    with (
        open_source(f"screen:{xvfb_display}") as src,
        x_window(xvfb_display, "capture-probe", 200, 100, 160, 120, "#ff0000"),
    ):
        assert isinstance(src, ScreenSource)
        assert src.size == (1920, 1080) and src.origin == (0, 0)
        frame = _wait_for(src, 150, 250, (0, 0, 255))
        assert frame.shape == (1080, 1920, 4) and frame.dtype == np.uint8
        assert frame.flags.c_contiguous and frame.flags.writeable
        # Each grab is a new buffer: the pipeline keeps the previous frame for its diff.
        assert not np.shares_memory(frame, src.grab())
        # Exactly the window's rectangle is red (BGR order), nothing around it.
        red = np.all(frame[:, :, :3] == (0, 0, 255), axis=2)
        ys, xs = np.nonzero(red)
        assert (ys.min(), ys.max(), xs.min(), xs.max()) == (100, 219, 200, 359)
        assert red.sum() == 160 * 120


def test_screen_source_uses_display_env(xvfb_display: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", xvfb_display)
    src = open_source("screen")
    try:
        assert src.grab().shape == (1080, 1920, 4)
    finally:
        src.close()
    with pytest.raises(CaptureError, match="closed"):
        src.grab()


def test_window_locator_finds_and_follows_a_window(xvfb_display: str) -> None:
    loc = WindowLocator(xvfb_display)
    try:
        with x_window(xvfb_display, "Bank [statement] (1)", 300, 400, 200, 100, "#00ff00") as w:
            ids = loc.search("Bank [statement] (1)")  # literal text, not a regex
            assert len(ids) == 1
            geo = loc.geometry(ids[0])
            assert geo is not None and (geo.x, geo.y, geo.width, geo.height) == (300, 400, 200, 100)
            assert loc.search("Bank [statement] (2)") == []
            # A child window resolves to its whole top-level window.
            child = loc.geometry(w.child_id)
            assert child is not None and (child.x, child.y, child.width) == (300, 400, 200)
            w.move(50, 60)
            moved = loc.geometry(ids[0])
            assert moved is not None and (moved.x, moved.y) == (50, 60)
        # The window is gone: no geometry, no crash (Xlib errors are ignored).
        assert loc.geometry(ids[0]) is None
        assert loc.search("Bank [statement] (1)") == []
    finally:
        loc.close()


def test_window_search_matches_non_ascii_titles_ignoring_case(xvfb_display: str) -> None:
    loc = WindowLocator(xvfb_display)
    try:
        with x_window(xvfb_display, "Bänk — Überweisung", 10, 10, 50, 50, "#0000ff"):
            ids = loc.search("bänk — über")
            assert len(ids) == 1
            assert loc.title_of(ids[0]) == "Bänk — Überweisung"
            assert loc.search("Bank") == []
    finally:
        loc.close()


def test_window_locator_without_x_raises_lookup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(WindowLookupError):
        WindowLocator("").search("anything")
    with pytest.raises(WindowLookupError):
        WindowLocator(":250").geometry(1)
