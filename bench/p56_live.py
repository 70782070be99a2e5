"""P5 glass-to-glass and P6 kill switch: the real agent, broker and viewer.

The broker runs in its own process (``broker.testing.running_broker``, as in bench.relay);
the real agent (``agent.session.AgentSession``, headless, auto-consent for tests) runs
here with a 1920×1080 source whose top-left 64×64 marker we flip between black and
white; the real viewer runs in Chromium (Playwright, headless), logged in as an
engineer who joins from the queue page.

**P5** (target p95 ≤ 60 ms): the marker is flipped at a random moment (wall clock,
``time.time()``); page JS polls the canvas pixel under the marker on every
``requestAnimationFrame`` and notes when it flips (``performance.timeOrigin +
performance.now()``).  The page clock is aligned with ours by the round trip with the
smallest delay (error ≤ half of it, reported).  A hook on the canvas' ``drawImage``
also notes the moment the pixel actually changed in the canvas (before the next paint).

**P6** (targets ≤ 50 ms capture stopped, ≤ 250 ms viewer shows "ended", zero frames
after kill): ``AgentSession.kill("button")`` is timed (it returns once capture can no
longer commit a frame), the source's grabs after that are counted, the marker is
flipped right after the kill (a frame captured after the kill would show it), and the
page notes when the "Ended by the client" overlay appears and counts frames drawn.

Usage: ``python -m bench.p56_live [--rounds N] [--kills K]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import random
import ssl
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from agent.capture.base import CaptureSource, Frame
from agent.capture.pattern import PatternSource
from bench.common import (
    CHROMIUM,
    CHROMIUM_ARGS,
    env_int,
    isolated_home,
    percentile,
    print_table,
    write_result,
    xvfb,
)
from bench.relay import broker_main

P5_TARGET_MS = 60.0
P6_CAPTURE_MS = 50.0
P6_VIEWER_MS = 250.0
MARK = 64  # marker size, px, at (0, 0)

WATCH_JS = """() => {
  const canvas = document.querySelector('#screen');
  const ctx = canvas.getContext('2d', { alpha: false });
  const now = () => performance.timeOrigin + performance.now();
  const probe = () => (ctx.getImageData(32, 32, 1, 1).data[0] > 128 ? 1 : 0);
  window.__raf = []; window.__draw = []; window.__ended = null; window.__framesAtEnd = null; window.__framesAfter = null;
  let lastRaf = probe(), lastDraw = lastRaf;
  const proto = CanvasRenderingContext2D.prototype;
  const orig = proto.drawImage;
  proto.drawImage = function (...args) {
    const r = orig.apply(this, args);
    if (this === ctx) {
      const v = probe();
      if (v !== lastDraw) { lastDraw = v; window.__draw.push([v, now()]); }
    }
    return r;
  };
  const tick = () => {
    const v = probe();
    if (v !== lastRaf) { lastRaf = v; window.__raf.push([v, now()]); }
    const frames = Number(canvas.dataset.frames || 0);
    if (window.__ended === null) {
      const o = document.querySelector('#overlay[data-kind="killed"]');
      if (o && o.offsetParent !== null) {
        window.__ended = now();
        window.__framesAtEnd = frames;
        window.__seqAtEnd = canvas.dataset.seq;
        window.__framesAfter = 0;
      }
    } else if (frames > window.__framesAtEnd) {
      // Counted only upwards: the page may reset its counter when the session ends.
      window.__framesAfter = Math.max(window.__framesAfter, frames - window.__framesAtEnd);
      window.__afterSeq = [canvas.dataset.seq, now() - window.__ended, window.__seqAtEnd];
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  return lastRaf;
}"""


STAGES_INIT_JS = """(() => {
  const now = () => performance.timeOrigin + performance.now();
  window.__msgs = []; window.__vdec = []; window.__vout = [];
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...args) {
      super(...args);
      // Registered before the client's onmessage: runs first, on the same task.
      this.addEventListener('message', (ev) => {
        if (typeof ev.data !== 'string') window.__msgs.push([now(), ev.data.byteLength || ev.data.size || 0]);
      });
    }
  };
  if (typeof VideoDecoder !== 'undefined') {
    const VD = window.VideoDecoder;
    window.VideoDecoder = class extends VD {
      constructor(init) {
        const out = init.output;
        super({ ...init, output: (f) => { window.__vout.push([now(), f.timestamp]); out(f); } });
      }
      decode(chunk) { window.__vdec.push([now(), chunk.timestamp, this.decodeQueueSize]); return super.decode(chunk); }
    };
  }
})();"""
"""Stamps in the page (before any page script): binary message arrival, VideoDecoder
``decode`` calls and outputs — with the agent's stamps they split glass-to-glass."""


class MarkerSource(CaptureSource):
    """A 1080p office-like pattern with a 64×64 marker we flip; counts grabs."""

    def __init__(self) -> None:
        self._base = PatternSource(1920, 1080, motion=False).grab()
        self.value = 0
        self.lock = threading.Lock()
        self.grab_times: list[float] = []

    @property
    def size(self) -> tuple[int, int]:
        return 1920, 1080

    def set(self, value: int) -> float:
        """Flip the marker; return the wall-clock time of the change."""
        with self.lock:
            self.value = value
            return time.time()

    def grab(self) -> Frame:
        frame = self._base.copy()
        with self.lock:
            frame[:MARK, :MARK, :3] = 255 if self.value else 0
        self.grab_times.append(time.time())
        return frame


class AgentStamps:
    """Wall-clock stamps inside the agent (this process): each ``Stream.grab`` call
    (start, end, update kind, the video pipeline's stage times) and each binary
    WebSocket send. Installed by patching the classes for the bench's lifetime."""

    def __init__(self) -> None:
        self.grabs: list[tuple[float, float, str, Any]] = []
        self.sends: list[float] = []
        self._undo: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        from websockets.asyncio.client import ClientConnection

        from agent.session.stream import Stream
        from agent.video import VideoUpdate

        stamps = self
        orig_grab, orig_send = Stream.grab, ClientConnection.send

        def grab(self: Any, full: bool, codec: str | None = None) -> Any:
            t0 = time.time()
            update = orig_grab(self, full, codec)
            kind = (
                "none"
                if update is None
                else ("video" if isinstance(update, VideoUpdate) else "tiles")
            )
            pipeline = self._core.pipeline
            stats = getattr(pipeline, "video_stats", None) if kind == "video" else None
            stamps.grabs.append((t0, time.time(), kind, stats))
            return update

        async def send(self: Any, message: Any, *args: Any, **kw: Any) -> Any:
            if isinstance(message, bytes | bytearray | memoryview):
                stamps.sends.append(time.time())
            return await orig_send(self, message, *args, **kw)

        Stream.grab = grab  # type: ignore[method-assign]
        ClientConnection.send = send  # type: ignore[method-assign]
        self._undo = [(Stream, "grab", orig_grab), (ClientConnection, "send", orig_send)]

    def uninstall(self) -> None:
        for cls, name, orig in self._undo:
            setattr(cls, name, orig)
        self._undo = []


def _first(seq: list[float], after: float) -> float | None:
    return next((x for x in seq if x >= after), None)


def stage_split(
    changes: list[tuple[int, float]], grab_times: list[float], stamps: AgentStamps,
    page: dict[str, Any], offset: float,
) -> list[dict[str, float | None]]:  # fmt: skip
    """Per change, ms spent in each stage (None where a stage was not seen).

    Chained by time: the first grab after the change, the ``Stream.grab`` call that
    contains it, the next send, the next binary message in the page, the next
    ``decode`` call, its output, the canvas flip (drawImage hook), the rAF poll.
    Agent times are ``time.time()`` ms; page times are moved by ``offset``.
    """
    msgs = [t - offset for t, _ in page["msgs"]]
    vdec = [t - offset for t, *_ in page["vdec"]]
    vout = [t - offset for t, _ in page["vout"]]
    sends = [t * 1e3 for t in stamps.sends]
    grabs_ms = [g * 1e3 for g in grab_times]
    out: list[dict[str, float | None]] = []
    for value, t in changes:
        row: dict[str, float | None] = {}
        g = _first(grabs_ms, t)
        call = next(((a * 1e3, b * 1e3, k, st) for a, b, k, st in stamps.grabs
                     if g is not None and a * 1e3 <= g <= b * 1e3), None)  # fmt: skip
        draw = next(
            (ts - offset for sv, ts in page["draw"] if sv == value and ts - offset >= t), None
        )
        raf = next(
            (ts - offset for sv, ts in page["raf"] if sv == value and ts - offset >= t), None
        )
        row["wait_grab"] = None if g is None else g - t
        if call is None or g is None:
            out.append(row)
            continue
        row["pipeline"] = call[1] - g
        st = call[3]
        if st is not None:
            row["capture"], row["mask"], row["encode"] = st.capture_ms, st.mask_ms, st.encode_ms
        sent = _first(sends, call[1])
        row["to_send"] = None if sent is None else sent - call[1]
        arrived = _first(msgs, sent) if sent is not None else None
        row["network"] = None if arrived is None or sent is None else arrived - sent
        if call[2] == "video" and arrived is not None:
            dec = _first(vdec, arrived)
            outp = _first(vout, dec) if dec is not None else None
            row["open_to_decode"] = None if dec is None else dec - arrived
            row["decode"] = None if outp is None or dec is None else outp - dec
            row["out_to_draw"] = None if draw is None or outp is None else draw - outp
        elif arrived is not None:
            row["open_draw"] = None if draw is None else draw - arrived
        row["draw_to_raf"] = None if draw is None or raf is None else raf - draw
        row["total"] = None if raf is None else raf - t
        out.append(row)
    return out


class XMarkerSource:
    """The real X screen source (mss, XDamage) of a bench Xvfb; ``set`` paints the
    64×64 marker on the root window from a second X client, as an application would."""

    def __new__(cls, display: str) -> Any:
        from Xlib import display as xdisplay

        from agent.capture.screen import ScreenSource

        class _Source(ScreenSource):
            def __init__(self) -> None:
                super().__init__(display)
                self.value = 0
                self.lock = threading.Lock()
                self.grab_times: list[float] = []
                self._painter: Any = xdisplay.Display(display)
                root = self._painter.screen().root
                self._root = root
                self._gcs = [root.create_gc(foreground=c, subwindow_mode=1) for c in (0, 0xFFFFFF)]
                self.set(0)

            def set(self, value: int) -> float:
                with self.lock:
                    self.value = value
                    t = time.time()  # before the drawing: the figure errs long, not short
                    self._root.fill_rectangle(self._gcs[value], 0, 0, MARK, MARK)
                    self._painter.sync()
                    return t

            def grab(self) -> Frame:
                frame = super().grab()
                self.grab_times.append(time.time())
                return frame

            def close(self) -> None:
                with contextlib.suppress(Exception):
                    self._painter.close()
                super().close()

        return _Source()


async def _engineer(info: dict[str, Any]) -> tuple[str, str]:
    """Create an engineer through the REST API (as admin); return credentials."""
    ctx = ssl.create_default_context(cafile=info["cafile"])
    base = info["base_url"] + "/api/v1"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
        async with http.post(base + "/auth/login",
                             json={"username": info["admin"][0], "password": info["admin"][1]}) as r:  # fmt: skip
            admin = (await r.json())["token"]
        pw = "bench-pw-" + random.randbytes(6).hex()
        user = "bench-eng-" + random.randbytes(3).hex()
        async with http.post(base + "/users", headers={"Authorization": f"Bearer {admin}"},
                             json={"username": user, "name": "Erin Bench", "role": "engineer",
                                   "password": pw}) as r:  # fmt: skip
            if r.status != 201:
                raise RuntimeError(f"cannot create engineer: {r.status} {await r.text()}")
        # An admin-set password is one-time (must_change_password): the viewer would
        # show only the password page after login, so replace it here first.
        async with http.post(base + "/auth/login", json={"username": user, "password": pw}) as r:
            token = (await r.json())["token"]
        new_pw = pw + "-own"
        async with http.post(base + "/auth/password", headers={"Authorization": f"Bearer {token}"},
                             json={"current_password": pw, "new_password": new_pw}) as r:  # fmt: skip
            if r.status != 200:
                raise RuntimeError(
                    f"cannot set the engineer's password: {r.status} {await r.text()}"
                )
    return user, new_pw


async def _clock_offset(page: Any) -> tuple[float, float]:
    """(page wall ms − our wall ms, half round trip ms) from the tightest of 15 tries."""
    best: tuple[float, float] | None = None
    for _ in range(15):
        t0 = time.time() * 1e3
        js = await page.evaluate("() => performance.timeOrigin + performance.now()")
        t1 = time.time() * 1e3
        half = (t1 - t0) / 2
        if best is None or half < best[1]:
            best = (js - (t0 + t1) / 2, half)
    assert best is not None
    return best


async def one_session(
    info: dict[str, Any], page: Any, rounds: int, tmp: Path, first: bool,
    creds: tuple[str, str], max_fps: float, video: str, stamps: AgentStamps,
    x_display: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One agent session: join, ``rounds`` marker flips (P5), then the kill (P6)."""
    from agent.capture.damage import DamageTracker

    mode = video
    video, _, poll = video.partition("+")  # "off+poll": without the damage wake-up
    wait = DamageTracker.wait
    if poll == "poll":

        def polled(self: DamageTracker, timeout: float) -> bool:
            time.sleep(timeout)  # the capture loop's tick before the wake-up existed
            return False

        DamageTracker.wait = polled  # type: ignore[method-assign]
    try:
        return await _session(info, page, rounds, tmp, first, creds, max_fps, video, stamps,
                              x_display, mode)  # fmt: skip
    finally:
        DamageTracker.wait = wait  # type: ignore[method-assign]


async def _session(
    info: dict[str, Any], page: Any, rounds: int, tmp: Path, first: bool,
    creds: tuple[str, str], max_fps: float, video: str, stamps: AgentStamps,
    x_display: str | None, mode: str,
) -> dict[str, Any]:  # fmt: skip
    from agent.config import AgentConfig
    from agent.session import AgentSession
    from agent.testing import RecordingObserver

    config = AgentConfig(
        broker_url=info["base_url"], ca_pem=Path(info["cafile"]).read_text(),
        client_name="Bench Client", describe="bench: glass-to-glass", headless=True,
        source="pattern", log_dir=tmp / f"agent-logs-{random.randbytes(3).hex()}",
        injector="none", auto_consent_for_tests=("view",), max_fps=max_fps, video=video,
    ).check()  # fmt: skip
    source: Any = MarkerSource() if x_display is None else XMarkerSource(x_display)
    stamps.grabs.clear()
    stamps.sends.clear()
    session = AgentSession(config, RecordingObserver(), source_factory=lambda: source)
    task = asyncio.create_task(session.run())
    try:
        deadline = time.monotonic() + 20
        while not session.session_id:
            if time.monotonic() > deadline or task.done():
                raise RuntimeError("the agent did not get a session")
            await asyncio.sleep(0.02)
        if first:
            await page.goto(f"{info['base_url']}/#/login")
            await page.wait_for_selector("#login-form")
            await page.fill("#login-username", creds[0])
            await page.fill("#login-password", creds[1])
            await page.click("#login-submit")
        else:
            await page.goto(f"{info['base_url']}/#/queue")
        await page.wait_for_selector("#queue-list")
        item = page.locator(f'.queue-item[data-session="{session.session_id}"]')
        await item.wait_for(timeout=15_000)
        await item.locator("button.join").click()
        await page.wait_for_function(
            "() => Number(document.querySelector('#screen').dataset.frames || 0) >= 1",
            timeout=20_000,
        )
        await page.wait_for_selector("#overlay", state="hidden")
        await asyncio.sleep(0.5)
        value = int(await page.evaluate(WATCH_JS))
        offset, half_rtt = await _clock_offset(page)
        changes: list[tuple[int, float]] = []
        for _ in range(rounds):
            await asyncio.sleep(random.uniform(0.25, 0.45))
            value ^= 1
            changes.append((value, source.set(value) * 1e3))
        await asyncio.sleep(0.6)
        raf = await page.evaluate("() => window.__raf")
        draw = await page.evaluate("() => window.__draw")

        def match(seen: list[list[float]]) -> list[float]:
            out = []
            for v, t in changes:
                hit = next((ts for sv, ts in seen if sv == v and ts - offset >= t), None)
                if hit is not None:
                    out.append(hit - offset - t)
            return out

        g2g_raf, g2g_draw = match(raf), match(draw)
        page_stamps = {"raf": raf, "draw": draw, **(await page.evaluate(
            "() => ({msgs: window.__msgs, vdec: window.__vdec, vout: window.__vout})"))}  # fmt: skip
        stages = stage_split(changes, source.grab_times, stamps, page_stamps, offset)
        codec_used = getattr(session._core.pipeline, "codec", None)
        # How long each change waited for the agent's next grab (the capture tick).
        grabs = [g * 1e3 for g in source.grab_times]
        waits = [next((g - t for g in grabs if g >= t), float("nan")) for _, t in changes]
        # ---- P6: the kill switch
        frames_before = session.frames_sent
        t0 = time.time()
        session.kill("button")
        t1 = time.time()
        sent_at_kill = session.frames_sent
        source.set(value ^ 1)  # a frame captured after the kill would show this
        grabs_after = sum(1 for g in source.grab_times if g > t1)
        with contextlib.suppress(Exception):
            await page.wait_for_function("() => window.__ended !== null", timeout=5000)
        ended = await page.evaluate("() => window.__ended")
        await asyncio.sleep(0.5)
        frames_after = await page.evaluate("() => window.__framesAfter")
        after_seq = await page.evaluate("() => window.__afterSeq")
        post_kill_seen = any(sv == value ^ 1 and ts - offset > t1 * 1e3
                             for sv, ts in await page.evaluate("() => window.__raf"))  # fmt: skip
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        return {
            "g2g_raf_ms": g2g_raf, "g2g_draw_ms": g2g_draw, "rounds": rounds, "video": mode,
            "stages_ms": stages, "codec": codec_used,
            "missed": rounds - len(g2g_raf), "clock_error_ms": round(half_rtt, 2),
            "kill_call_ms": (t1 - t0) * 1e3,
            "viewer_ended_ms": (ended - offset - t0 * 1e3) if ended is not None else None,
            "grabs_after_kill": grabs_after,
            "agent_frames_after_kill": session.frames_sent - sent_at_kill,
            "viewer_frames_after_ended": frames_after,
            "viewer_after_ended_seq_ms_seqatend": after_seq,
            "capture_wait_ms": waits, "max_fps": max_fps,
            "post_kill_marker_seen": post_kill_seen, "frames_sent": session.frames_sent,
            "frames_before_kill": frames_before,
        }  # fmt: skip
    finally:
        if not task.done():
            session.kill("bench teardown")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)


async def run(
    rounds: int, kills: int, fps_list: list[float], videos: list[str], x_source: bool = False
) -> list[dict[str, Any]]:
    """Broker process + Chromium + ``kills`` agent sessions per fps and video mode,
    interleaved (off, vp9, off, vp9, …) so that every mode sees the same load;
    ``x_source``: on the real X screen of an Xvfb of our own (XMarkerSource)."""
    with contextlib.ExitStack() as stack:
        x_display = stack.enter_context(xvfb()).name if x_source else None
        return await _run(rounds, kills, fps_list, videos, x_display)


async def _run(
    rounds: int, kills: int, fps_list: list[float], videos: list[str], x_display: str | None
) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="clearpane-bench-") as tmp, isolated_home():
        parent, child = ctx.Pipe()
        server = ctx.Process(target=broker_main, args=(child, tmp), daemon=True)
        server.start()
        try:
            if not await asyncio.to_thread(parent.poll, 90):
                raise RuntimeError("broker did not start")
            info = parent.recv()
            creds = await _engineer(info)
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                   args=CHROMIUM_ARGS)  # fmt: skip
                context = await browser.new_context(ignore_https_errors=True,
                                                    viewport={"width": 1280, "height": 800})  # fmt: skip
                await context.add_init_script(STAGES_INIT_JS)
                page = await context.new_page()
                out = []
                first = True
                stamps = AgentStamps()
                stamps.install()
                try:
                    for fps in fps_list:
                        for k in range(kills):
                            per = rounds // kills + (1 if k < rounds % kills else 0)
                            for video in videos:
                                out.append(await one_session(info, page, per, Path(tmp), first,
                                                             creds, fps, video, stamps, x_display))  # fmt: skip
                                first = False
                finally:
                    stamps.uninstall()
                await browser.close()
            return out
        finally:
            with contextlib.suppress(Exception):
                parent.send("stop")
            await asyncio.to_thread(server.join, 15)
            if server.is_alive():
                server.kill()


STAGES = ("wait_grab", "capture", "mask", "encode", "pipeline", "to_send", "network",
          "open_to_decode", "decode", "out_to_draw", "open_draw", "draw_to_raf", "total")  # fmt: skip


def _p5_rows(sessions: list[dict[str, Any]], fps: float, video: str) -> list[dict[str, Any]]:
    mine = [s for s in sessions if s["max_fps"] == fps and s["video"] == video]
    raf = [x for s in mine for x in s["g2g_raf_ms"]]
    draw = [x for s in mine for x in s["g2g_draw_ms"]]
    waits = [x for s in mine for x in s["capture_wait_ms"] if x == x]
    codecs = sorted({str(s.get("codec")) for s in mine})
    tag = f"{fps:g} fps, video {video} ({'/'.join(codecs)})"
    rows = []
    for name, vals in ((f"{tag}: changed pixel -> seen in rAF poll", raf),
                       (f"{tag}: changed pixel -> drawn (drawImage hook)", draw),
                       (f"{tag}: of which waiting for the next grab", waits)):  # fmt: skip
        rows.append({"measure": name, "n": len(vals), "p50_ms": percentile(vals, 0.5),
                     "p95_ms": percentile(vals, 0.95), "max_ms": max(vals, default=None)})  # fmt: skip
    return rows


def _stage_rows(sessions: list[dict[str, Any]], fps: float, video: str) -> list[dict[str, Any]]:
    """p50 / p95 of each stage (ms) for one fps and video mode."""
    mine = [
        r for s in sessions if s["max_fps"] == fps and s["video"] == video for r in s["stages_ms"]
    ]
    rows = []
    for stage in STAGES:
        vals = [r[stage] for r in mine if r.get(stage) is not None]
        if vals:
            rows.append({"video": video, "stage": stage, "n": len(vals),
                         "p50_ms": percentile(vals, 0.5), "p95_ms": percentile(vals, 0.95)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run P5 and P6; print the tables; write bench/results/p5_p6.json."""
    ap = argparse.ArgumentParser(description="P5 glass-to-glass, P6 kill switch")
    ap.add_argument("--rounds", type=int, default=env_int("BENCH_P56_ROUNDS", 20))
    ap.add_argument("--kills", type=int, default=env_int("BENCH_P56_KILLS", 3))
    ap.add_argument("--fps", default="30,60",
                    help="agent max_fps values; the first is the agent's default (the P5 figure)")  # fmt: skip
    ap.add_argument("--video", default="off",
                    help="comma-separated agent --video modes run interleaved in one run "
                         "(off, auto, vp9, h264, av1); the first is the P5 figure")  # fmt: skip
    ap.add_argument("--source", choices=("pattern", "x"), default="pattern",
                    help="pattern: a test pattern (polled every tick); x: the real X screen "
                         "of a bench Xvfb (mss, XDamage), the marker painted by another client")  # fmt: skip
    args = ap.parse_args(argv)
    fps_list = [float(f) for f in args.fps.split(",")]
    videos = args.video.split(",")
    sessions = asyncio.run(run(args.rounds, args.kills, fps_list, videos, args.source == "x"))
    p5_rows = [r for fps in fps_list for v in videos for r in _p5_rows(sessions, fps, v)]
    print_table("P5 glass-to-glass, 1920x1080, loopback, headless Chromium", p5_rows,
                ["measure", "n", "p50_ms", "p95_ms", "max_ms"])  # fmt: skip
    stage_rows = [r for v in videos for r in _stage_rows(sessions, fps_list[0], v)]
    print_table(f"P5 by stage at {fps_list[0]:g} fps (ms)", stage_rows,
                ["video", "stage", "n", "p50_ms", "p95_ms"])  # fmt: skip
    cols = ["max_fps", "video", "kill_call_ms", "viewer_ended_ms", "grabs_after_kill",
            "agent_frames_after_kill", "viewer_frames_after_ended", "post_kill_marker_seen"]  # fmt: skip
    print_table("P6 kill switch (one row per session)", sessions, cols)
    ended = [s["viewer_ended_ms"] for s in sessions if s["viewer_ended_ms"] is not None]
    kill_ms = [s["kill_call_ms"] for s in sessions]
    # A frame drawn after the overlay but captured before the kill (in flight) is not a
    # frame after the kill: the agent-side counts and the post-kill marker decide.
    zero = all(s["agent_frames_after_kill"] == 0 and not s["post_kill_marker_seen"]
               and s["grabs_after_kill"] == 0 for s in sessions)  # fmt: skip
    main_rows = _p5_rows(sessions, fps_list[0], videos[0])
    p95, p50, drawn = main_rows[0]["p95_ms"], main_rows[0]["p50_ms"], main_rows[1]["p95_ms"]
    extra = ""
    if len(fps_list) > 1:
        alt = _p5_rows(sessions, fps_list[1], videos[0])
        extra = f"; at max_fps {fps_list[1]:g}: p95 {alt[0]['p95_ms']:.1f} ms"
    data: dict[str, Any] = {
        "command": "python -m bench.p56_live " + " ".join(argv or []),
        "sessions": sessions,
        "p5": {"rows": p5_rows, "stages": stage_rows, "summary": {
            "what": f"glass-to-glass p95 (rAF poll), agent max_fps {fps_list[0]:g}, video {videos[0]}, "
                    f"{main_rows[0]['n']} changes, clock error ≤ "
                    f"{max(s['clock_error_ms'] for s in sessions):.1f} ms",
            "result": f"p95 {p95:.1f} ms (p50 {p50:.1f}; drawn p95 {drawn:.1f}){extra}",
            "target": "p95 ≤ 60 ms", "baseline": "-"},
            "pass": p95 <= P5_TARGET_MS},
        "p6": {"summary": {
            "what": f"kill: capture stopped / viewer shows ended / frames after ({len(sessions)} kills)",
            "result": f"{max(kill_ms):.2f} ms / max {max(ended, default=float('nan')):.0f} ms "
                      f"(median {statistics.median(ended) if ended else float('nan'):.0f}) / "
                      f"{'zero' if zero else 'NOT zero'}",
            "target": "≤ 50 ms / ≤ 250 ms / zero", "baseline": "-"},
            "pass": bool(ended) and max(kill_ms) <= P6_CAPTURE_MS and max(ended) <= P6_VIEWER_MS and zero},
    }  # fmt: skip
    dest = write_result("P5_P6", data)
    print(
        f"P5 {data['p5']['summary']['result']}; P6 {data['p6']['summary']['result']}; wrote {dest}"
    )
    return data


if __name__ == "__main__":
    main()
