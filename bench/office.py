"""The scripted office scenario (P4, and the recorded frames of P3).

A real Chromium window (not headless) fills a 1920×1080 Xvfb screen, with three tabs
of local pages: ticket notes (a textarea), a long document, a spreadsheet-like grid.
:func:`drive` types into the notes at a typist's speed, scrolls the document while
"reading" and switches tabs, in a loop, until told to stop.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bench.common import CHROMIUM, CHROMIUM_ARGS

NOTES_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Ticket 4711 notes</title>
<style>body{margin:0;font:15px sans-serif;background:#f4f5f7}
header{background:#1f4e79;color:#fff;padding:12px 20px;font-size:18px}
main{display:flex;gap:20px;padding:20px}
aside{width:320px;background:#fff;border:1px solid #ccd;padding:12px;line-height:1.6}
textarea{flex:1;height:760px;font:16px/1.5 sans-serif;padding:12px;border:1px solid #99a}
</style></head><body><header>Helpdesk · Ticket 4711 · Printer offline after update</header>
<main><aside><b>Client</b><br>Acme Dental, reception PC<br><b>Tier</b> standard<br>
<b>Opened</b> 09:12<br><b>History</b><br>· driver reinstalled 2x<br>· spooler restarted<br>
· firmware 2.31</aside><textarea id="t" autofocus></textarea></main></body></html>"""

GRID_HTML_HEAD = """<!doctype html><html><head><meta charset="utf-8"><title>Inventory.xlsx</title>
<style>body{margin:0;font:13px sans-serif}table{border-collapse:collapse}
td,th{border:1px solid #c8c8c8;padding:3px 8px;min-width:90px;text-align:right}
th{background:#eef}</style></head><body><table>"""

WORDS = [
    "the",
    "printer",
    "shows",
    "offline",
    "although",
    "the",
    "spooler",
    "runs",
    "and",
    "the",
    "queue",
    "is",
    "empty",
    "so",
    "we",
    "checked",
    "the",
    "driver",
    "version",
    "and",
    "the",
    "port",
    "settings",
    "then",
    "restarted",
    "the",
    "service",
    "and",
    "asked",
    "the",
    "client",
    "to",
    "print",
    "a",
    "test",
    "page",
    "which",
    "failed",
    "again",
    "with",
    "the",
    "same",
    "error",
    "code",
    "next",
    "step",
    "is",
    "to",
    "remove",
    "the",
    "device",
    "and",
    "add",
    "it",
    "again",
    "with",
    "the",
    "vendor",
    "package",
]


def _doc_html(rng: random.Random) -> str:
    paras = []
    for i in range(120):
        n = rng.randint(40, 110)
        text = " ".join(rng.choice(WORDS) for _ in range(n))
        if i % 9 == 0:
            paras.append(f"<h2>Section {i // 9 + 1}: {rng.choice(WORDS).title()} settings</h2>")
        paras.append(f"<p>{text.capitalize()}.</p>")
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Printer manual</title>'
        "<style>body{margin:0 auto;max-width:900px;font:17px/1.6 serif;padding:30px;"
        "background:#fff}h2{color:#1f4e79}</style></head><body>" + "".join(paras) + "</body></html>"
    )


def _grid_html(rng: random.Random) -> str:
    rows = ["<tr><th></th>" + "".join(f"<th>{c}</th>" for c in "ABCDEFGHIJKLMN") + "</tr>"]
    for r in range(1, 60):
        cells = "".join(f"<td>{rng.randint(0, 99999) / 100:.2f}</td>" for _ in range(14))
        rows.append(f"<tr><th>{r}</th>{cells}</tr>")
    return GRID_HTML_HEAD + "".join(rows) + "</table></body></html>"


def write_pages(folder: Path, seed: int = 7) -> dict[str, str]:
    """Write the three pages; return their file:// URLs."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pages = {"notes": NOTES_HTML, "doc": _doc_html(rng), "grid": _grid_html(rng)}
    urls = {}
    for name, html in pages.items():
        path = folder / f"{name}.html"
        path.write_text(html)
        urls[name] = path.as_uri()
    return urls


class Office:
    """The Chromium window and its three tabs; ``phase`` says what is happening."""

    def __init__(self, pages: dict[str, Any]) -> None:
        self.pages = pages
        self.phase = "start"


@asynccontextmanager
async def chromium_office(display: str, folder: Path) -> AsyncIterator[Office]:
    """Chromium (headful) on ``display``, 1920×1080, with the three office tabs open."""
    from playwright.async_api import async_playwright

    urls = write_pages(folder)
    async with async_playwright() as pw:
        ctx = await pw.chromium.launch_persistent_context(
            str(folder / "profile"),
            executable_path=CHROMIUM,
            headless=False,
            no_viewport=True,
            args=[*CHROMIUM_ARGS, "--window-size=1920,1080", "--window-position=0,0"],
            env={"DISPLAY": display, "HOME": str(folder)},
        )
        try:
            pages: dict[str, Any] = {}
            first = ctx.pages[0] if ctx.pages else await ctx.new_page()
            for i, (name, url) in enumerate(urls.items()):
                pg = first if i == 0 else await ctx.new_page()
                await pg.goto(url)
                pages[name] = pg
            await pages["notes"].bring_to_front()
            await pages["notes"].click("#t")
            yield Office(pages)
        finally:
            await ctx.close()


async def drive(office: Office, stop: asyncio.Event, seed: int = 11) -> None:
    """Type, read/scroll and switch tabs in a loop until ``stop`` is set.

    Typing is ~7 characters/s (a fast office typist), reading scrolls three lines
    every ~0.7 s, and every phase ends with a tab switch (a full-screen change).
    """
    rng = random.Random(seed)
    notes, doc, grid = office.pages["notes"], office.pages["doc"], office.pages["grid"]

    async def wait(s: float) -> bool:
        try:
            await asyncio.wait_for(stop.wait(), s)
            return True
        except TimeoutError:
            return False

    while not stop.is_set():
        office.phase = "switch"
        await notes.bring_to_front()
        await notes.focus("#t")
        office.phase = "typing"
        t_end = asyncio.get_running_loop().time() + 8.0
        while asyncio.get_running_loop().time() < t_end and not stop.is_set():
            word = rng.choice(WORDS)
            for ch in word + " ":
                await notes.keyboard.type(ch)
                if await wait(rng.uniform(0.09, 0.19)):
                    return
            if rng.random() < 0.12:
                await notes.keyboard.press("Enter")
        office.phase = "switch"
        await doc.bring_to_front()
        office.phase = "scrolling"
        await doc.mouse.move(960, 540)
        for _ in range(8):
            await doc.mouse.wheel(0, 120)
            if await wait(rng.uniform(0.5, 0.9)):
                return
        office.phase = "switch"
        await grid.bring_to_front()
        office.phase = "reading"
        if await wait(2.5):
            return
