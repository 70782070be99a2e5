"""Shared fixtures: real Chromium (Playwright, Debian's build), a real X server
(Xvfb), and a folder for artifacts (screenshots) that tests keep."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The test machines have no camera or microphone; calls in tests use the synthetic
# sources by name (the product's ``auto`` sends nothing without a device). Agents the
# tests start as subprocesses inherit these.
os.environ.setdefault("CLEARPANE_CALL_VIDEO", "synthetic")
os.environ.setdefault("CLEARPANE_CALL_AUDIO", "synthetic")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-loopback-in-peer-connection",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@pytest.fixture(scope="session", autouse=True)
def _isolated_home() -> Iterator[None]:
    """Chromium and Qt write under HOME/XDG dirs even with temporary profiles."""
    home = tempfile.mkdtemp(prefix="clearpane-home-")
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    os.environ["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    os.environ["XDG_CACHE_HOME"] = os.path.join(home, ".cache")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """A folder under ``test-artifacts/`` named after the test, for screenshots."""
    safe = request.node.nodeid.replace("/", "_").replace("::", "__").replace("[", "_").strip("]")
    path = ARTIFACTS / safe
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A real headless Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A page in a fresh context that trusts any certificate (tests use their own CA)."""
    context = await browser.new_context(
        ignore_https_errors=True, viewport={"width": 1280, "height": 800}
    )
    pg = await context.new_page()
    try:
        yield pg
    finally:
        await context.close()


@contextmanager
def xvfb_server(size: str = "1920x1080x24") -> Iterator[str]:
    """Run a real X server (Xvfb); yields the DISPLAY string.

    Xvfb picks a free display number itself and reports it on a pipe
    (``-displayfd``), so parallel test runs never race for the same number.  ``-noreset``:
    without it the server resets when its last client leaves, and a test connecting
    during the reset fails.
    """
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail("Xvfb is not installed: run `make test`, which installs it")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [
            xvfb,
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            size,
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_fd,),
    )
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 15
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while not number.endswith(b"\n"):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("Xvfb did not start")
            chunk = pipe.read(16)
            if not chunk:
                break
            number += chunk
    if not number.strip().isdigit():
        proc.kill()
        pytest.fail("Xvfb did not report its display number")
    display = f":{int(number)}"
    try:
        yield display
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """A real X server (Xvfb) at 1920x1080x24 for the whole run; yields DISPLAY."""
    with xvfb_server() as display:
        yield display


@pytest.fixture(scope="module")
def dual_monitor_display() -> Iterator[str]:
    """Its own Xvfb (1920x1080) with two RandR monitors side by side, of different
    sizes: ``LEFT`` 1200x1080+0+0 (primary) and ``RIGHT`` 720x900+1200+100."""
    from agent.capture.testing import DUAL_LAYOUT, set_monitors

    with xvfb_server() as display:
        set_monitors(display, DUAL_LAYOUT)
        yield display
