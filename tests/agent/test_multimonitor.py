"""Several monitors on a real X server (Xvfb with two RandR monitors): capture of one
or all, input on the right pixel of each (and after a layout change), the cursor."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from agent.capture import CaptureError
from agent.capture.screen import LAYOUT_INTERVAL_S, ScreenSource
from agent.capture.testing import DUAL_LAYOUT, set_monitors, x_window
from agent.desktop.layout import ALL
from agent.inject import XTestInjector
from agent.input import InputGate
from agent.pipeline import MaskRegion, ScreenPipeline, WindowMask, apply_update
from agent.pipeline.mask import mask_pattern
from agent.x11 import X11Connection
from protocol.media import ButtonDown, ButtonUp, PointerMove
from tests.agent.conftest import InputRig as Rig
from tests.helpers import eventually_blocking

pytestmark = pytest.mark.xvfb

RED = (0, 0, 255)  # BGR


def _wait_colour(src: ScreenSource, y: int, x: int, bgr: tuple[int, int, int]) -> np.ndarray:
    """The next grab whose pixel (y, x) is ``bgr`` (the X server draws asynchronously)."""

    def grab() -> list[np.ndarray]:  # a list: an array has no truth value
        frame = src.grab()
        return [frame] if tuple(frame[y, x, :3]) == bgr else []

    return eventually_blocking(grab, timeout=3, what=f"colour {bgr} at ({x}, {y})")[0]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def x(dual_monitor_display: str) -> Iterator[X11Connection]:
    conn = X11Connection(dual_monitor_display)
    yield conn
    conn.close()
    set_monitors(dual_monitor_display, DUAL_LAYOUT)


def test_one_monitor_or_all_of_them(dual_monitor_display: str, x: X11Connection) -> None:
    with x_window(dual_monitor_display, "right-probe", 1300, 300, 100, 80, "#ff0000"):
        right = ScreenSource(dual_monitor_display, "RIGHT", cursor=False)
        everything = ScreenSource(dual_monitor_display, "all", cursor=False)
        left = ScreenSource(dual_monitor_display, "primary", cursor=False)
        try:
            assert right.size == (720, 900) and right.origin == (1200, 100)
            assert left.size == (1200, 1080) and left.view == 1 and right.view == 2
            assert everything.size == (1920, 1080) and everything.view == ALL
            frame = _wait_colour(right, 200, 100, RED)
            red = np.all(frame[:, :, :3] == RED, axis=2)
            ys, xs = np.nonzero(red)
            # Root (1300, 300) is frame (100, 200) of the right monitor.
            assert (ys.min(), ys.max(), xs.min(), xs.max()) == (200, 279, 100, 199)
            assert not np.all(left.grab()[:, :, :3] == RED, axis=2).any()
            assert tuple(everything.grab()[300, 1300, :3]) == RED
            # The client (or an engineer allowed to) switches the view.
            left.select(2)
            assert left.size == (720, 900) and tuple(left.grab()[200, 100, :3]) == RED
            with pytest.raises(CaptureError):
                left.select(3)
        finally:
            for s in (right, everything, left):
                s.close()
    with pytest.raises(CaptureError, match="monitor"):
        ScreenSource(dual_monitor_display, "TV")


def _gate(src: ScreenSource, display: str) -> tuple[Rig, XTestInjector]:
    rig = Rig("v1")
    injector = XTestInjector(display)
    rig.gate = InputGate("s-123", rig.consent, rig.kill, injector, transform=lambda: src.transform)
    from tests.agent.conftest import keys_for

    key, sealer = keys_for("v1")
    rig.gate.add_viewer("v1", key)
    rig.sealers["v1"] = sealer
    rig.grant("v1", "view", "control")
    return rig, injector


def test_input_lands_on_the_right_pixel_of_each_monitor_and_after_a_change(
    dual_monitor_display: str, x: X11Connection
) -> None:
    clock = FakeClock()
    src = ScreenSource(dual_monitor_display, "2", cursor=False, clock=clock)
    rig, injector = _gate(src, dual_monitor_display)
    try:
        rig.gate.handle(rig.frame("v1", PointerMove(10, 20)))
        x.sync()
        assert x.pointer() == (1210, 120)
        src.select(1)
        rig.gate.handle(rig.frame("v1", ButtonDown(10, 20, 1), ButtonUp(10, 20, 1)))
        assert x.pointer() == (10, 20)
        src.select(ALL)
        rig.gate.handle(rig.frame("v1", PointerMove(1919, 1079)))
        assert x.pointer() == (1919, 1079)
        # The right monitor changes resolution and position: the next layout read moves
        # both the captured rectangle and the input mapping.
        src.select(2)
        set_monitors(dual_monitor_display, [DUAL_LAYOUT[0], ("RIGHT", 1200, 0, 600, 800)])
        clock.now += LAYOUT_INTERVAL_S
        assert src.grab().shape == (800, 600, 4)
        rig.gate.handle(rig.frame("v1", PointerMove(10, 20)))
        assert x.pointer() == (1210, 20)
        rig.gate.handle(rig.frame("v1", PointerMove(700, 900)))  # off the monitor: clamped
        assert x.pointer() == (1799, 799)
        # The shared monitor disappears: capture stops rather than show another one.
        set_monitors(dual_monitor_display, [("LEFT", 0, 0, 1920, 1080)])
        clock.now += LAYOUT_INTERVAL_S
        with pytest.raises(CaptureError, match="gone"):
            src.grab()
    finally:
        injector.close()
        src.close()


def _is_red(img: np.ndarray) -> np.ndarray:
    b, g, r = (img[:, :, i].astype(np.int16) for i in range(3))
    return (r > 170) & (g < 80) & (b < 80)  # JPEG moves colours a little


def _cursor_pixels(frame: np.ndarray, x0: int, y0: int, size: int = 24) -> int:
    """Pixels around (x0, y0) that differ from Xvfb's plain black root window."""
    patch = frame[max(y0 - size, 0) : y0 + size, max(x0 - size, 0) : x0 + size, :3]
    return int(np.any(patch != 0, axis=2).sum())


def test_cursor_is_drawn_on_its_monitor_and_never_over_a_mask(
    dual_monitor_display: str, x: X11Connection
) -> None:
    right = ScreenSource(dual_monitor_display, "RIGHT")
    left = ScreenSource(dual_monitor_display, "LEFT")
    pipe = ScreenPipeline(right)
    try:
        x.fake_motion(1500, 500)
        x.sync()
        assert _cursor_pixels(right.grab(), 300, 400) > 10
        assert _cursor_pixels(left.grab(), 300, 400) == 0  # not on this monitor
        canvas = apply_update(None, pipe.next_update(full=True))
        assert _cursor_pixels(canvas, 300, 400) > 10
        pipe.set_masks(regions=[MaskRegion(250, 350, 100, 100)])
        canvas = apply_update(canvas, pipe.next_update(full=True))
        # Only the mask's fill is there: the cursor under it is not drawn over it.
        fill = mask_pattern(720, 900)[350:450, 250:350, :3].astype(np.int16)
        assert np.abs(canvas[350:450, 250:350, :3].astype(np.int16) - fill).mean() < 8
        assert _cursor_pixels(right.grab(), 300, 400) > 10  # it is still on the screen
        # An application changes the cursor's shape: the next frame draws the new one.
        from Xlib import Xcursorfont

        before = right.grab()[376:424, 276:324].copy()
        font = x.display.open_font("cursor")
        hand = font.create_glyph_cursor(
            font, Xcursorfont.hand2, Xcursorfont.hand2 + 1, (65535, 0, 0), (0, 0, 0)
        )
        x.root.change_attributes(cursor=hand)
        x.sync()
        after = right.grab()[376:424, 276:324]
        assert not np.array_equal(before, after)
        x.root.change_attributes(cursor=0)
        x.sync()
    finally:
        pipe.close()
        right.close()
        left.close()


def test_window_mask_on_the_second_monitor(dual_monitor_display: str, x: X11Connection) -> None:
    with x_window(dual_monitor_display, "Payroll secret", 1400, 400, 120, 90, "#ff0000"):
        src = ScreenSource(dual_monitor_display, "RIGHT", cursor=False)
        pipe = ScreenPipeline(src)
        try:
            _wait_colour(src, 300, 200, RED)
            pipe.set_masks(windows=[WindowMask(title="Payroll")])
            canvas = apply_update(None, pipe.next_update(full=True))
            assert not _is_red(canvas).any()
            pipe.set_masks()
            canvas = apply_update(None, pipe.next_update(full=True))
            # Root (1400, 400) is frame (200, 300) of RIGHT (JPEG blurs the edges a bit).
            assert _is_red(canvas[300:390, 200:320]).mean() > 0.95
        finally:
            pipe.close()
            src.close()
