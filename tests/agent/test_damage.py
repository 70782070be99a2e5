"""Damage-driven capture on a real X server (Xvfb): a still screen is never grabbed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from Xlib import display as xdisplay

from agent.capture.damage import DamageTracker
from agent.capture.screen import ScreenSource
from agent.video import VideoPipeline, VideoUpdate, create_encoder
from protocol.media import ScreenUpdate
from tests.conftest import xvfb_server
from tests.helpers import eventually_blocking as eventually

pytestmark = pytest.mark.xvfb


@pytest.fixture(scope="module")
def x() -> Iterator[str]:
    with xvfb_server("640x480x24") as name:
        yield name


class CountingScreen(ScreenSource):
    """The real screen source, counting grabs."""

    grabs = 0

    def grab(self) -> Any:
        self.grabs += 1
        return super().grab()


def draw(name: str, colour: int, box: tuple[int, int, int, int] = (20, 20, 80, 60)) -> None:
    """Another X client paints a rectangle on the root window, then waits for it."""
    d = xdisplay.Display(name)
    root = d.screen().root
    gc = root.create_gc(foreground=colour, subwindow_mode=1)
    root.fill_rectangle(gc, *box)
    d.sync()
    d.close()


def test_tracker_sees_drawing_and_the_pointer_and_nothing_else(x: str) -> None:
    t = DamageTracker(x)
    try:
        assert t.changed()  # the first question: nothing known yet
        assert not t.changed() and not t.changed()
        draw(x, 0xFF0000)
        assert eventually(t.changed)
        assert not t.changed()
        d = xdisplay.Display(x)
        d.screen().root.warp_pointer(300, 200)
        d.sync()
        d.close()
        assert eventually(t.changed)  # the cursor is drawn in by the capture
        assert not t.changed()
    finally:
        t.close()


@pytest.mark.parametrize("codec", [None, "vp9"])
def test_pipeline_does_not_grab_a_still_screen(x: str, codec: str | None) -> None:
    src = CountingScreen(x)
    pipe = VideoPipeline(src, create_encoder)
    try:
        assert pipe.damage is not None
        pipe.set_codec(codec)
        assert pipe.next_update(True) is not None  # join: always a full picture
        grabs = src.grabs
        for _ in range(20):
            assert pipe.next_update() is None
        assert src.grabs == grabs  # still screen: no grab at all
        draw(x, 0x00FF00 if codec else 0x0000FF, (100, 100, 50, 40))
        update = eventually(pipe.next_update)
        assert isinstance(update, VideoUpdate if codec else ScreenUpdate)
        assert src.grabs > grabs
        assert pipe.next_update(True) is not None  # full grabs regardless of damage
    finally:
        pipe.close()
        src.close()


def test_wait_wakes_at_the_first_drawing_and_times_out_on_a_still_screen(x: str) -> None:
    """P5: the capture loop blocks in ``wait`` between ticks; drawing ends the wait at
    once (not at the next 33 ms tick), a still screen lets it run to its timeout."""
    import threading
    import time

    t = DamageTracker(x)
    try:
        t.changed()
        assert not t.changed()
        t0 = time.monotonic()
        assert t.wait(0.05) is False  # still: the whole timeout, nothing reported
        assert time.monotonic() - t0 >= 0.04
        woke: list[tuple[bool, float]] = []
        waiter = threading.Thread(target=lambda: woke.append((t.wait(10.0), time.monotonic())))
        waiter.start()
        drawn = time.monotonic()
        draw(x, 0x00FF00, (100, 100, 30, 30))
        waiter.join(5)
        assert woke and woke[0][0] is True
        assert woke[0][1] - drawn < 2.0  # woken by the drawing, not the 10 s timeout
        assert t.changed()  # and the drawing is reported as a change
    finally:
        t.close()


def test_a_wake_up_never_grabs_sooner_than_the_frame_gap_after_the_last_grab(x: str) -> None:
    """An application redrawing identical pixels must not make the agent grab faster
    than its frame rate; after a still spell (no grab for long) a change wakes it at
    once."""
    import time

    pipe = VideoPipeline(ScreenSource(x), create_encoder)
    try:
        assert pipe.damage is not None
        pipe.damage.changed()
        draw(x, 0x0000FF, (200, 200, 20, 20))
        t0 = time.monotonic()
        assert pipe.wait_for_change(5.0, min_gap=2.0)  # never grabbed: no gap to keep
        assert time.monotonic() - t0 < 1.5
        t0 = time.monotonic()  # at or before the grab: the gap counts from the grab
        assert pipe.next_update(full=True) is not None  # a grab, now
        draw(x, 0xFFFF00, (200, 200, 20, 20))  # may take a while on a loaded machine
        assert pipe.wait_for_change(5.0, min_gap=0.3)
        assert time.monotonic() - t0 >= 0.29  # held to the gap after that grab
    finally:
        pipe.close()
