"""Make the README's product pictures from one real, live session.

    .venv/bin/python tools/screenshot_readme.py [--out docs/img]

What runs (the machinery of tests/e2e): ``clearpane broker`` as a subprocess on
127.0.0.1 with a throw-away data directory; an engineer added with ``clearpane users
add``; the client's real Qt window (``agent.ui``, offscreen) with a real
``AgentSession`` sharing the deterministic test pattern; the engineer in real Chromium
(headless). The engineer joins, the client allows ``view`` in the window's consent
panel, both chat, and both sides show the same verification code. Writes:

- ``viewer-live-session.png`` — the engineer's live session page;
- ``agent-window.png`` — the client's window during the same session.

Everything started here is stopped here (the session ends with the kill switch).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENGINEER = ("erin", "Erin Engineer")
CLIENT = "Bob Client"
PROBLEM = "Outlook keeps crashing when I open the calendar"
ENGINEER_SAYS = "Hi Bob, I can see your screen. Which calendar do you open?"
CLIENT_SAYS = "The shared team calendar — it crashes right away."
VIEWPORT = (1440, 900)


class Shared:
    """What the Qt thread (main) and the browser thread tell each other."""

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.code: str | None = None
        self.viewer_shot = threading.Event()  # the page is photographed
        self.agent_shot = threading.Event()  # the window is photographed: the page may go
        self.viewer_done = threading.Event()
        self.agent_replied = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None


def _wait(predicate: Callable[[], Any], timeout: float, what: str, pump: Callable[[], None]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        pump()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def _viewer(url: str, password: str, shared: Shared, out: Path) -> None:
    """The engineer's side, in its own thread and event loop."""
    from playwright.async_api import async_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.viewer.conftest import ui_login

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                ignore_https_errors=True, viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]}
            )
            page = await context.new_page()
            await ui_login(page, url, ENGINEER[0], password)
            while shared.session_id is None:
                await asyncio.sleep(0.05)
            item = page.locator(f'.queue-item[data-session="{shared.session_id}"]')
            await item.wait_for(timeout=15_000)
            await item.locator("button.join").click()
            await page.wait_for_function(
                "() => Number(document.querySelector('#screen')?.dataset.frames || 0) >= 5",
                timeout=30_000,
            )
            await page.wait_for_selector("#overlay", state="hidden", timeout=10_000)
            shared.code = (await page.text_content("#verify-code") or "").strip()
            await page.fill("#chat-input", ENGINEER_SAYS)
            await page.press("#chat-input", "Enter")
            await asyncio.to_thread(shared.agent_replied.wait, 30)
            await page.locator(".chat-msg.theirs .chat-text").wait_for(timeout=10_000)
            await page.wait_for_timeout(600)  # a few more frames: the picture settles
            await page.screenshot(path=str(out / "viewer-live-session.png"))
            shared.viewer_shot.set()
            # Stay connected while the window is photographed (it would say "left").
            await asyncio.to_thread(shared.agent_shot.wait, 30)
        finally:
            await browser.close()


def _run_viewer(url: str, password: str, shared: Shared, out: Path) -> None:
    try:
        asyncio.run(_viewer(url, password, shared, out))
    except BaseException as exc:  # handed to the main thread
        shared.error = exc
    finally:
        shared.viewer_done.set()


def make_pictures(out: Path) -> None:
    """Run the session and write both PNGs into ``out``."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QRadioButton

    from agent.config import AgentConfig
    from agent.session import AgentSession
    from agent.ui.app import make_starter
    from agent.ui.qt_window import AgentWindow
    from tests.e2e.fullstack import add_user, broker_process

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="clearpane-shots-"))
    shots = tmp / "shots"  # both pictures land in out/ together, or neither does
    shots.mkdir()
    os.environ["HOME"] = str(tmp / "home")
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "home" / ".config")
    os.environ["XDG_CACHE_HOME"] = str(tmp / "home" / ".cache")
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QApplication.instance() or QApplication([])
    pump = app.processEvents
    try:
        with broker_process(tmp / "data") as broker:
            password = add_user(tmp / "data", ENGINEER[0], "engineer", ENGINEER[1])
            config = AgentConfig.from_env(
                {},
                enrollment=str(broker.enrollment_path),
                client_name=CLIENT,
                source="pattern:1280x720",
                log_dir=tmp / "agent-logs",
                injector="none",
            ).check()
            start, threads = make_starter(config)
            window = AgentWindow(start)  # type: ignore[arg-type]
            window.resize(760, 600)
            window.show()
            shared = Shared()
            viewer = threading.Thread(
                target=_run_viewer, args=(broker.url, password, shared, shots), daemon=True
            )
            try:
                window.describe_edit.setPlainText(PROBLEM)
                window.get_help.click()
                session: AgentSession = _wait(
                    lambda: window.controller, 10, "the session to start", pump
                )
                shared.session_id = _wait(lambda: session.session_id, 15, "the request", pump)
                viewer.start()
                # The client reads the prompt and allows `view` in the window.
                panel = _wait(
                    lambda: next(iter(window.panels.values()), None) or shared.error,
                    30,
                    "the consent prompt",
                    pump,
                )
                if shared.error is not None:
                    raise shared.error
                allow = panel.findChild(QRadioButton, "allow_view")
                QTest.mouseClick(
                    allow,
                    Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier,
                    QPoint(6, allow.height() // 2),
                )
                QTest.mouseClick(panel.confirm, Qt.MouseButton.LeftButton)
                _wait(
                    lambda: (
                        any(
                            ENGINEER_SAYS in window.chat_view.item(i).text()
                            for i in range(window.chat_view.count())
                        )
                        or shared.viewer_done.is_set()
                    ),
                    30,
                    "the engineer's chat in the window",
                    pump,
                )
                if shared.error is not None:
                    raise shared.error
                window.chat_edit.setText(CLIENT_SAYS)
                QTest.keyClick(window.chat_edit, Qt.Key.Key_Return)
                shared.agent_replied.set()
                _wait(
                    lambda: shared.viewer_shot.is_set() or shared.viewer_done.is_set(),
                    60,
                    "the viewer's screenshot",
                    pump,
                )
                if shared.error is not None:
                    raise shared.error
                code = shared.code or ""
                _wait(lambda: code and code in window.code_label.text(), 5, "the same code", pump)
                pump()
                lines = [window.log_list.item(i).text() for i in range(window.log_list.count())]
                glitches = [x for x in lines if "interrupted" in x or "reconnect" in x.lower()]
                if glitches:  # a product picture shows a clean session; run again
                    raise RuntimeError(f"the session was interrupted: {glitches}")
                if not window.grab().save(str(shots / "agent-window.png")):
                    raise RuntimeError("could not save agent-window.png")
            finally:
                shared.agent_replied.set()
                shared.agent_shot.set()
                if window.controller is not None:
                    window.kill("button")
                for thread in threads:
                    deadline = time.monotonic() + 10
                    while thread.is_alive() and time.monotonic() < deadline:
                        pump()
                        thread.join(0.05)
                if viewer.is_alive():
                    viewer.join(30)
                window.close()
        for name in ("viewer-live-session.png", "agent-window.png"):
            shutil.copyfile(shots / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: write the README pictures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args(argv)
    make_pictures(args.out)
    for name in ("viewer-live-session.png", "agent-window.png"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
