"""Fixtures for the viewer tests: the static viewer served over http on 127.0.0.1 (a
secure context, so WebCrypto works) with a blank page to import modules into."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

VIEWER = Path(__file__).resolve().parents[2] / "viewer"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob: data:; connect-src 'self'"
)
BLANK = "<!doctype html><html><head><meta charset=utf-8><title>t</title></head><body></body></html>"


@pytest.fixture
async def static_viewer() -> AsyncIterator[str]:
    """Serve viewer/ at / and an empty page at /blank.html under the broker's CSP."""

    async def blank(_: web.Request) -> web.Response:
        return web.Response(
            text=BLANK, content_type="text/html", headers={"Content-Security-Policy": CSP}
        )

    app = web.Application()
    app.router.add_get("/blank.html", blank)
    app.router.add_static("/", VIEWER)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def module_page(page: Any, static_viewer: str) -> Any:
    """A blank page on the static server; modules load with `await import('/js/…')`."""
    await page.goto(f"{static_viewer}/blank.html")
    return page


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Any]:
    """The REAL broker (TLS, SQLite, 127.0.0.1) serving the viewer at /."""
    from broker.testing import running_broker

    async with running_broker(tmp_path) as b:
        yield b


async def ui_login(page: Any, base_url: str, username: str, password: str) -> None:
    """Sign in through the login page and wait for the queue."""
    await page.goto(f"{base_url}/#/login")
    await page.wait_for_selector("#login-form")
    await page.fill("#login-username", username)
    await page.fill("#login-password", password)
    await page.click("#login-submit")
    await page.wait_for_selector("#queue-list")


def watch_console(page: Any) -> list[str]:
    """Collect page errors and CSP violations (the strict CSP must never be hit)."""
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text}")
            if m.type == "error" and ("Content Security Policy" in m.text or "Uncaught" in m.text)
            else None
        ),
    )
    return problems


async def login(page: Any, base_url: str, username: str, password: str) -> None:
    """Sign in through the login page (a reviewer has no queue)."""
    await page.goto(f"{base_url}/#/login")
    await page.fill("#login-username", username)
    await page.fill("#login-password", password)
    await page.click("#login-submit")
    await page.wait_for_selector("#whoami", state="visible")
