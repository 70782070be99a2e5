"""Test helpers for capture: a real X window of a known colour (Tk in a subprocess).

A subprocess keeps Tk's Xlib error handler and event loop out of the test process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_TK_SCRIPT = r"""
import sys, tkinter
title, x, y, w, h, colour = sys.argv[1:7]
root = tkinter.Tk()
root.title(title)
root.configure(background=colour, borderwidth=0, highlightthickness=0)
root.geometry(f"{w}x{h}+{x}+{y}")
inner = tkinter.Frame(root, background=colour, width=8, height=8)
inner.place(x=10, y=10)
clicks = []
root.bind_all("<ButtonPress>", lambda e: clicks.append(f"{e.x_root},{e.y_root},{e.num}"))
root.update()
print("ready", root.winfo_id(), root.wm_frame(), inner.winfo_id(), flush=True)
for line in sys.stdin:
    parts = line.split()
    if parts and parts[0] == "clicks":
        root.update()
        print("ok", *clicks, flush=True)
        continue
    if parts and parts[0] == "move":
        root.geometry(f"+{parts[1]}+{parts[2]}")
    elif parts and parts[0] == "colour":
        root.configure(background=parts[1])
    root.update()
    print("ok", flush=True)
"""


class XWindow:
    """A running Tk window; ``move`` and ``set_colour`` return once Tk has applied them."""

    def __init__(self, proc: subprocess.Popen[str], window_id: int, child_id: int) -> None:
        self._proc = proc
        #: The Tk top-level widget window (inside the titled wrapper ``xdotool`` finds).
        self.window_id = window_id
        #: A small child window 10 px inside it (tests "mask the whole top level").
        self.child_id = child_id

    def _command(self, line: str) -> str:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        reply = self._proc.stdout.readline()
        if not reply.startswith("ok"):
            raise RuntimeError(f"Tk helper failed: {reply!r}")
        return reply

    def clicks(self) -> list[tuple[int, int, int]]:
        """Button presses the window received so far: ``(x_root, y_root, button)``."""
        out = []
        for item in self._command("clicks").split()[1:]:
            x, y, b = item.split(",")
            out.append((int(x), int(y), int(b)))
        return out

    def move(self, x: int, y: int) -> None:
        """Move the window's top-left corner to (x, y)."""
        self._command(f"move {x} {y}")

    def set_colour(self, colour: str) -> None:
        """Change the background colour (e.g. ``#00ff00``)."""
        self._command(f"colour {colour}")


@contextmanager
def x_window(
    display: str, title: str, x: int, y: int, w: int, h: int, colour: str
) -> Iterator[XWindow]:
    """Show a ``w×h`` window filled with ``colour`` at (x, y) on ``display``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _TK_SCRIPT, title, str(x), str(y), str(w), str(h), colour],
        env={**os.environ, "DISPLAY": display},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 4 or line[0] != "ready":
            raise RuntimeError(f"Tk window did not start: {line!r}")
        yield XWindow(proc, int(line[2], 0), int(line[3]))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


#: The two-monitor layout of the tests: (name, x, y, width, height), primary first.
DUAL_LAYOUT: tuple[tuple[str, int, int, int, int], ...] = (
    ("LEFT", 0, 0, 1200, 1080),
    ("RIGHT", 1200, 100, 720, 900),
)


def set_monitors(display: str, layout: Sequence[tuple[str, int, int, int, int]]) -> None:
    """Define RandR 1.5 monitors on ``display`` (as ``xrandr --setmonitor`` does).

    The first monitor takes the server's output (so the server's own monitor for it
    disappears) and is primary; monitors set before are deleted first.  Needs an
    Xvfb started with ``-noreset`` (a reset forgets client-defined monitors).
    """
    from Xlib import display as xdisplay
    from Xlib.ext import randr

    d = xdisplay.Display(display)
    try:
        root = d.screen().root
        output = randr.get_screen_resources(root).outputs[0]
        opcode = d.display.get_extension_major("RANDR")
        for old in randr.get_monitors(root, is_active=False).monitors:
            if not old.automatic:
                randr.delete_monitor(root, old.name)
        d.sync()
        for i, (name, x, y, w, h) in enumerate(layout):
            _SetMonitor(
                display=d.display,
                opcode=opcode,
                window=root,
                name=d.intern_atom(name),
                primary=i == 0,
                automatic=False,
                x=x,
                y=y,
                width=w,
                height=h,
                mm_width=w * 254 // 960,  # 96 dpi
                mm_height=h * 254 // 960,
                outputs=[output] if i == 0 else [],
            )
        d.sync()
    finally:
        d.close()


def _set_monitor_request() -> type:
    # python-xlib 0.33's SetMonitor cannot pack its nested MonitorInfo (a list inside
    # an Object): the same request (RandR 1.5, minor 43) with flat fields.
    from Xlib.protocol import rq

    class SetMonitor(rq.Request):
        _request = rq.Struct(
            rq.Card8("opcode"),
            rq.Opcode(43),
            rq.RequestLength(),
            rq.Window("window"),
            rq.Card32("name"),
            rq.Bool("primary"),
            rq.Bool("automatic"),
            rq.LengthOf("outputs", 2),
            rq.Int16("x"),
            rq.Int16("y"),
            rq.Card16("width"),
            rq.Card16("height"),
            rq.Card32("mm_width"),
            rq.Card32("mm_height"),
            rq.List("outputs", rq.Card32Obj),
        )

    return SetMonitor


_SetMonitor: Any = _set_monitor_request()
