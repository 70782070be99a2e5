"""Several monitors and the client's cursor, end to end: a real agent capturing a
two-monitor Xvfb (RandR) with XTest input, the real broker, the viewer in Chromium.
Pixels on the canvas and click positions on the client's windows are compared."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.capture.testing import XWindow, x_window
from agent.config import AgentConfig
from agent.inject import XTestInjector
from agent.session import AgentSession
from agent.testing import RecordingObserver
from agent.x11 import X11Connection
from tests.helpers import eventually
from tests.viewer.conftest import watch_console
from tests.viewer.testing import LiveAgent, canvas_rgb, join_live

pytestmark = pytest.mark.xvfb


@pytest.fixture
async def desk(
    broker: Any, tmp_path: Path, dual_monitor_display: str
) -> AsyncIterator[tuple[LiveAgent, XWindow, XWindow]]:
    """The agent shares monitor RIGHT and lets the engineer switch; a red window on
    RIGHT (root 1300,300) and a green one on LEFT (root 100,100) record clicks."""
    display = dual_monitor_display
    with (
        x_window(display, "right-app", 1300, 300, 100, 80, "#ff0000") as red,
        x_window(display, "left-app", 100, 100, 200, 150, "#00ff00") as green,
    ):
        config = AgentConfig(
            broker_url=broker.base_url,
            ca_pem=broker.ca_cert_path.read_text(),
            client_name="Dana Client",
            describe="Two monitors",
            headless=True,
            source=f"screen:{display}",
            monitor="RIGHT",
            monitor_switch=True,
            log_dir=tmp_path / "agent-logs",
            auto_consent_for_tests=("view", "control"),
        ).check()
        observer = RecordingObserver()
        injector = XTestInjector(display)
        session = AgentSession(config, observer, injector=injector)
        task = asyncio.create_task(session.run())
        await eventually(lambda: session.session_id, what="the agent's request")
        try:
            yield LiveAgent(session, observer, injector, task), red, green  # type: ignore[arg-type]
        finally:
            if not task.done():
                session.kill("test teardown")
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
            injector.close()


def _red(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[:, :, i].astype(np.int16) for i in range(3))
    return (r > 170) & (g < 80) & (b < 80)


def _green(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[:, :, i].astype(np.int16) for i in range(3))
    return (g > 170) & (r < 80) & (b < 80)


async def _canvas_size(page: Any) -> list[int]:
    size: list[int] = await page.evaluate(
        "() => [document.querySelector('#screen').width, document.querySelector('#screen').height]"
    )
    return size


async def _click_frame(page: Any, fx: int, fy: int, frame_w: int) -> None:
    """Click the canvas at frame pixel (fx, fy), whatever the page's scaling."""
    box = await page.evaluate(
        "() => { const r = document.querySelector('#screen').getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; }"
    )
    scale = box[2] / frame_w
    await page.mouse.click(box[0] + (fx + 0.5) * scale, box[1] + (fy + 0.5) * scale)


async def test_monitors_cursor_and_clicks_in_the_viewer(
    broker: Any,
    desk: tuple[LiveAgent, XWindow, XWindow],
    page: Any,
    dual_monitor_display: str,
    artifacts_dir: Path,
) -> None:
    live, red, green = desk
    problems = watch_console(page)
    x = X11Connection(dual_monitor_display)
    try:
        x.fake_motion(1500, 700)  # the client's pointer, on RIGHT at frame (300, 600)
        x.sync()
        await join_live(page, broker, live)

        # The client shares monitor 2 only: 720x900, its red window at frame (100, 200).
        await page.wait_for_function("() => document.querySelector('#screen').width === 720")
        assert await _canvas_size(page) == [720, 900]
        rgb = await canvas_rgb(page)
        ys, xs = np.nonzero(_red(rgb))
        assert abs(int(ys.min()) - 200) <= 1 and abs(int(xs.min()) - 100) <= 1
        assert abs(int(ys.max()) - 279) <= 1 and abs(int(xs.max()) - 199) <= 1
        assert not _green(rgb).any()  # the other monitor is not shown
        # The client's cursor is drawn where the pointer is (hot spot at 300, 600).
        around = rgb[590:630, 290:330].astype(np.int16).sum(axis=2)
        elsewhere = rgb[700:740, 500:540].astype(np.int16).sum(axis=2)
        assert (around > 60).sum() > 10 and (elsewhere > 60).sum() == 0
        await page.screenshot(path=str(artifacts_dir / "monitor-2-cursor.png"))

        # The picker lists both monitors and "all"; the capabilities need no note.
        await page.wait_for_selector("#monitor-select", state="visible")
        assert await page.eval_on_selector("#monitor-select", "s => s.dataset.monitor") == "2"
        assert await page.is_hidden("#desktop-notes")

        # Control: a click on the canvas lands on the right pixel of monitor 2.
        await page.click("#btn-control")
        await page.wait_for_function(
            "() => document.querySelector('#btn-control')?.dataset.mode === 'release'"
        )
        await _click_frame(page, 150, 240, 720)
        await eventually(lambda: red.clicks(), what="the click on the red window")
        (cx, cy, button), *_ = red.clicks()
        assert (abs(cx - 1350) <= 1, abs(cy - 340) <= 1, button) == (True, True, 1)

        # The engineer switches to monitor 1 (the client allowed it).
        await page.select_option("#monitor-select", "1")
        await page.wait_for_function("() => document.querySelector('#screen').width === 1200")
        await page.wait_for_function(
            "() => document.querySelector('#monitor-select').dataset.monitor === '1'"
        )
        rgb = await canvas_rgb(page)
        ys, xs = np.nonzero(_green(rgb))
        assert abs(int(ys.min()) - 100) <= 1 and abs(int(xs.min()) - 100) <= 1
        assert not _red(rgb).any()
        assert any("monitor 1" in n for n in live.observer.notices)  # the client is told
        await _click_frame(page, 160, 170, 1200)
        await eventually(lambda: green.clicks(), what="the click on the green window")
        (gx, gy, _), *_ = green.clicks()
        assert abs(gx - 160) <= 1 and abs(gy - 170) <= 1

        # All monitors: the desktop's bounding box, both windows where they are.
        await page.select_option("#monitor-select", "0")
        await page.wait_for_function("() => document.querySelector('#screen').width === 1920")
        rgb = await canvas_rgb(page)
        assert _red(rgb[300:380, 1300:1400]).mean() > 0.95
        assert _green(rgb[100:250, 100:300]).mean() > 0.95
        await page.screenshot(path=str(artifacts_dir / "all-monitors.png"))

        # The client picks monitor 2 again itself (its own choice needs no permission).
        live.session.select_monitor(2)
        await page.wait_for_function("() => document.querySelector('#screen').width === 720")
        await page.wait_for_function(
            "() => document.querySelector('#monitor-select').dataset.monitor === '2'"
        )
        # The client was shown what its computer allows, once.
        assert [n for n in live.observer.notices if n.startswith("This computer")] == [
            "This computer: screen yes, window list yes, input yes."
        ]
        assert problems == []
    finally:
        x.close()
