"""The whole product as a customer runs it: separate processes, nothing in-process.

``clearpane broker`` and ``clearpane agent --headless`` run as subprocesses; the agent
shares a real X screen (Xvfb) on which Tk windows of known colours are open; the
engineer is added with ``clearpane users add`` and works in real Chromium. The canvas
must show what is on the X screen, chat must cross both ways, the verification codes
must agree, the agent must hold no listening socket (G1), the client's ``kill`` typed on
the terminal must end the session for the engineer ("Ended by the client") and the
agent process, and ``clearpane audit`` must verify the company's log against the
client's copy (G10).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from agent.capture.screen import ScreenSource
from agent.capture.testing import x_window
from tests.e2e.fullstack import (
    AgentProcess,
    BrokerProcess,
    add_user,
    agent_process,
    broker_process,
    clearpane,
    process_sockets,
)
from tests.helpers import eventually
from tests.viewer.conftest import ui_login, watch_console

# Two windows of known colours on the 1920x1080 X screen: (x, y, w, h, RGB).
ORANGE = (160, 120, 640, 360, (0xE0, 0x70, 0x20))
BLUE = (1100, 560, 520, 300, (0x20, 0x60, 0xD0))


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


async def canvas_rgb(page: Any) -> np.ndarray:
    """The viewer's canvas as an RGB array (lossless PNG from the page)."""
    url = await page.evaluate("() => document.querySelector('#screen').toDataURL('image/png')")
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def block_means(rgb: np.ndarray, block: int = 16) -> np.ndarray:
    """Average colour of each ``block``×``block`` cell (evens out JPEG noise and the
    root window's one-pixel weave)."""
    h, w = rgb.shape[0] // block * block, rgb.shape[1] // block * block
    cells = rgb[:h, :w].astype(np.float32).reshape(h // block, block, w // block, block, 3)
    means: np.ndarray = cells.mean(axis=(1, 3))
    return means


def assert_region(rgb: np.ndarray, region: tuple[int, int, int, int, tuple[int, int, int]]) -> None:
    """The window's inside (8 px in from its edges) has its colour, within JPEG noise."""
    x, y, w, h, colour = region
    inside = rgb[y + 8 : y + h - 8, x + 8 : x + w - 8].astype(np.int16)
    diff = np.abs(inside - np.array(colour, dtype=np.int16))
    assert diff.max(axis=2).mean() < 6, (diff.max(axis=2).mean(), colour)
    assert (diff.max(axis=2) < 24).mean() > 0.99, colour


async def wait_line(agent: AgentProcess, pattern: str, timeout: float = 10) -> re.Match[str]:
    """Wait for the agent's terminal to print a line (without blocking the loop)."""
    return await asyncio.to_thread(agent.output.wait_for, pattern, timeout)


async def join(page: Any, url: str, password: str, sid: str, problem: str) -> None:
    """The engineer logs in, finds the request in the queue, joins and sees frames."""
    await ui_login(page, url, "erin", password)
    item = page.locator(f'.queue-item[data-session="{sid}"]')
    await item.wait_for(timeout=10_000)
    assert problem in (await item.text_content() or "")
    await item.locator("button.join").click()
    await page.wait_for_function(
        "() => Number(document.querySelector('#screen')?.dataset.frames || 0) >= 1",
        timeout=15_000,
    )
    await page.wait_for_selector("#overlay", state="hidden", timeout=5_000)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BrokerProcess, str]]:
    """One ``clearpane broker`` for this module's sessions, and the engineer's password
    (``clearpane users add``): starting both costs seconds of real argon2 and PKI."""
    data = tmp_path_factory.mktemp("company") / "data"
    with broker_process(data) as broker:
        assert broker.url.startswith("https://127.0.0.1:")
        assert broker.admin_username == "admin" and broker.admin_password
        yield broker, add_user(data, "erin", "engineer", "Erin Engineer")


async def test_customer_flow_across_real_processes(
    company: tuple[BrokerProcess, str],
    tmp_path: Path,
    page: Any,
    xvfb_display: str,
    artifacts_dir: Path,
) -> None:
    broker, password = company
    data = broker.data_dir
    agent_logs = tmp_path / "agent-logs"
    problems = watch_console(page)
    with (
        x_window(xvfb_display, "Orange", *ORANGE[:4], _hex(ORANGE[4])),
        x_window(xvfb_display, "Blue", *BLUE[:4], _hex(BLUE[4])),
    ):
        broker_port = int(broker.url.rsplit(":", 1)[1])

        with agent_process(
            broker.enrollment_path,
            agent_logs,
            describe="Outlook keeps crashing",
            display=xvfb_display,
            source="screen",
            # The tile path, whose JPEG noise the colour checks below allow for; the video
            # path (VP9 crf 40 shifts a flat saturated orange by ~11 levels) has its own
            # pixel tests with their tolerance (tests/viewer/test_video.py).
            extra=["--video", "off"],
        ) as agent:
            sid = await asyncio.to_thread(agent.session_id)

            await join(page, broker.url, password, sid, "Outlook keeps crashing")

            # G1: while it streams, the agent listens on nothing and dials the broker.
            sockets = process_sockets(agent.pid)
            assert sockets.listening == (), sockets
            assert broker_port in sockets.connected_ports, sockets
            # (The same reading finds the broker's listening socket: the check can fail.)
            served = process_sockets(broker.proc.pid).listening
            assert f"tcp 0100007F:{broker_port:04X}" in served, served

            # The canvas is the X screen: the windows' colours where they are, and the
            # whole picture close to a fresh grab of the display.
            assert await page.evaluate(
                "() => [document.querySelector('#screen').width,"
                " document.querySelector('#screen').height]"
            ) == [1920, 1080]
            got = await canvas_rgb(page)
            assert_region(got, ORANGE)
            assert_region(got, BLUE)
            source = ScreenSource(xvfb_display)
            try:
                want = np.ascontiguousarray(source.grab()[..., 2::-1])
            finally:
                source.close()
            coarse = np.abs(block_means(got) - block_means(want))
            assert coarse.max() < 12, coarse.max()

            # The same verification code on both sides (G8).
            code = (await page.text_content("#verify-code") or "").strip()
            shown = await wait_line(agent, r"Verification code with Erin Engineer: (\d{3} \d{3})")
            assert code == shown.group(1)

            # Chat both ways: the engineer types in the page, the client on the terminal.
            await page.fill("#chat-input", "Hi Bob, I can see Outlook. One moment.")
            await page.press("#chat-input", "Enter")
            await wait_line(agent, r"<Erin Engineer> Hi Bob, I can see Outlook\. One moment\.")
            agent.type_line("say Thanks, it crashes when I open the calendar")
            theirs = page.locator(".chat-msg.theirs .chat-text")
            await theirs.wait_for(timeout=5_000)
            assert await theirs.text_content() == "Thanks, it crashes when I open the calendar"
            await page.screenshot(path=str(artifacts_dir / "live.png"))

            # The client types `kill` on the terminal: the engineer sees it at once and
            # the agent process ends with the kill switch's exit status.
            started = time.monotonic()
            agent.type_line("kill")
            await page.wait_for_selector(
                '#overlay[data-kind="killed"]', state="visible", timeout=5_000
            )
            assert await page.text_content("#overlay-title") == "Ended by the client"
            assert time.monotonic() - started < 3.0
            await page.screenshot(path=str(artifacts_dir / "killed.png"))
            assert await asyncio.to_thread(agent.proc.wait, 10) == 3
            # Its own check of the log at the end: the broker's records it holds match
            # the checkpoint the broker sealed, whose signature it checked with the
            # signer certificate from the enrollment file (nothing left unchecked).
            verified = await wait_line(agent, r"^\s+log verified: \d+ records match.*$", 1)
            assert verified.group(0).strip().endswith("the signed copy"), verified.group(0)
            assert agent.errors.text == "", agent.errors.text

        # G10: the company's log, exported, verifies against the client's own copy
        # under the organisation root from the enrollment.
        client_copy = agent_logs / sid / "broker.jsonl"
        assert (data / "sessions" / sid / "log.jsonl").is_file()
        assert client_copy.is_file() and (agent_logs / sid / "checkpoint.json").is_file()
        records = [json.loads(line) for line in client_copy.read_text().splitlines()]
        assert [r["event"] for r in records[-2:]] == ["kill.triggered", "session.ended"]
        assert records[-1]["detail"]["reason"] == "killed_by_client"
        bundle = tmp_path / f"{sid}.zip"
        clearpane("audit", "export", sid, "--data-dir", str(data), "-o", str(bundle))
        verify = ("audit", "verify", str(bundle), "--ca", str(broker.root_ca))
        report = clearpane(*verify, "--client-copy", str(client_copy))
        assert report.startswith("VALID"), report
        assert "identical: both copies hold the same" in report, report
        # The check has teeth: the client's copy with one chat line edited is refused.
        forged = tmp_path / "forged.jsonl"
        forged.write_text(client_copy.read_text().replace("calendar", "inbox"))
        with pytest.raises(AssertionError, match="INVALID"):
            clearpane(*verify, "--client-copy", str(forged))
    assert problems == []


async def test_ctrl_c_on_the_agent_terminal_is_the_kill_switch(
    company: tuple[BrokerProcess, str], tmp_path: Path, page: Any, artifacts_dir: Path
) -> None:
    broker, password = company
    data = broker.data_dir
    with agent_process(
        broker.enrollment_path,
        tmp_path / "agent-logs",
        describe="Disk full on the file server",
        source="pattern:800x600",
    ) as agent:
        sockets: list[Any] = []
        page.on("websocket", lambda ws: sockets.append(ws))
        sid = await asyncio.to_thread(agent.session_id)
        await join(page, broker.url, password, sid, "Disk full on the file server")
        await wait_line(agent, r"Verification code with Erin Engineer")

        started = time.monotonic()
        agent.press_ctrl_c()
        await page.wait_for_selector('#overlay[data-kind="killed"]', state="visible", timeout=5_000)
        assert await page.text_content("#overlay-title") == "Ended by the client"
        assert time.monotonic() - started < 3.0
        assert await asyncio.to_thread(agent.proc.wait, 10) == 3
        # No frame reaches the page after the kill (P6: zero frames after kill).
        frames = await page.evaluate("() => document.querySelector('#screen').dataset.frames")
        # The agent has exited and the broker closes the viewer's socket after the end:
        # nothing can arrive any more, so the count is final.
        await eventually(
            lambda: sockets and all(ws.is_closed() for ws in sockets),
            what="the viewer's WebSocket closed after the kill",
        )
        assert (
            await page.evaluate("() => document.querySelector('#screen').dataset.frames") == frames
        )
        await page.screenshot(path=str(artifacts_dir / "killed.png"))
    log = [json.loads(x) for x in (data / "sessions" / sid / "log.jsonl").read_text().splitlines()]
    assert log[-1]["event"] == "session.ended"
    assert log[-1]["detail"]["reason"] == "killed_by_client"
    kill = next(r for r in log if r["event"] == "kill.triggered")
    assert kill["actor"] == "client"
