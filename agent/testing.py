"""Fakes for tests and demos of the agent (never used by the product itself).

- ``RecordingInjector``: an ``Injector`` that records every call.
- ``CountingSource``: wraps a capture source and counts grabs (and when they happened),
  so tests can prove capture stopped.
- ``RecordingObserver``: a ``SessionObserver`` that keeps everything it is told.
- ``ScriptedViewer``: the engineer's side over a real WebSocket — the Python
  ``protocol.e2e`` viewer half, counting every screen byte it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from agent.consent import Decision, Prompt
from agent.inject import Injector
from agent.observer import LogLine, SessionObserver, SessionOutcome, SessionStatus
from protocol.e2e import (
    FrameOpener,
    InputSealer,
    PeerKeys,
    ViewerKeyAgreement,
    unwrap_content_key,
    viewer_number,
)
from protocol.media import (
    AckFrame,
    InputBatch,
    InputEvent,
    InputFrame,
    ScreenUpdate,
    ScreenUpdateFrame,
    VideoChunk,
    VideoChunkFrame,
    parse_binary,
)
from protocol.messages import (
    ControlMessage,
    Hello,
    KeyAgent,
    KeyCommit,
    KeyReveal,
    KeyWrap,
    PermissionRequest,
    Ticket,
    Welcome,
    parse_control,
    serialize_control,
)


class RecordingInjector(Injector):
    """Records ``(action, args...)`` tuples instead of touching the machine."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.closed = False

    def move(self, x: int, y: int) -> None:
        self.calls.append(("move", x, y))

    def button(self, x: int, y: int, button: int, pressed: bool) -> None:
        self.calls.append(("button", x, y, button, pressed))

    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        self.calls.append(("wheel", x, y, dx, dy))

    def key(self, keysym: int, pressed: bool) -> None:
        self.calls.append(("key", keysym, pressed))

    def close(self) -> None:
        self.closed = True


class CountingSource:
    """A capture source wrapper that counts grabs and records their times."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.grab_times: list[float] = []
        self.closed_at: float | None = None
        self._lock = threading.Lock()

    @property
    def size(self) -> tuple[int, int]:
        """The wrapped source's size."""
        w, h = self.inner.size
        return int(w), int(h)

    @property
    def origin(self) -> tuple[int, int]:
        """The wrapped source's origin."""
        x, y = getattr(self.inner, "origin", (0, 0))
        return int(x), int(y)

    def grab(self) -> Any:
        """Grab from the wrapped source, noting the time."""
        with self._lock:
            self.grab_times.append(time.monotonic())
        return self.inner.grab()

    def close(self) -> None:
        """Close the wrapped source, noting the time."""
        if self.closed_at is None:
            self.closed_at = time.monotonic()
        self.inner.close()

    @property
    def grabs(self) -> int:
        """How many frames were grabbed."""
        with self._lock:
            return len(self.grab_times)


@dataclass
class RecordingObserver(SessionObserver):
    """Keeps everything the session reports; can answer prompts automatically."""

    prompts: list[Prompt] = field(default_factory=list)
    closed: list[Decision] = field(default_factory=list)
    statuses: list[SessionStatus] = field(default_factory=list)
    lines: list[LogLine] = field(default_factory=list)
    chats: list[tuple[str, str]] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    outcome: SessionOutcome | None = None
    prompt_event: threading.Event = field(default_factory=threading.Event)

    def status(self, status: SessionStatus) -> None:
        self.statuses.append(status)

    def prompt(self, prompt: Prompt) -> None:
        self.prompts.append(prompt)
        self.prompt_event.set()

    def prompt_closed(self, decision: Decision) -> None:
        self.closed.append(decision)

    def log_line(self, line: LogLine) -> None:
        self.lines.append(line)

    def chat(self, sender: str, text: str, at_ms: int) -> None:
        self.chats.append((sender, text))

    def verification_code(self, viewer_id: str, name: str, code: str) -> None:
        self.codes[viewer_id] = code

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def call_requested(self, viewer_id: str, name: str) -> None:
        self.calls.append((viewer_id, name))

    def ended(self, outcome: SessionOutcome) -> None:
        self.outcome = outcome


class ScriptedViewer:
    """An engineer's viewer over a real ``/ws/viewer`` socket, scripted by a test.

    Performs the §8.1 key agreement with commitment, unwraps content keys,
    decrypts and counts every screen update (and every binary byte received), acks
    what it "drew", and can send sealed input — or hostile frames.
    """

    def __init__(self, ws_url: str, ssl_ctx: ssl.SSLContext, origin: str) -> None:
        self.ws_url, self.ssl_ctx, self.origin = ws_url, ssl_ctx, origin
        self.ws: ClientConnection | None = None
        self.welcome: Welcome | None = None
        self.messages: list[ControlMessage] = []
        self.updates: list[tuple[ScreenUpdateFrame, ScreenUpdate]] = []
        #: Video codecs offered in ``key.commit`` (SPEC §4.4); None = tiles only.
        self.video_codecs: tuple[str, ...] | None = None
        self.chunks: list[tuple[VideoChunkFrame, VideoChunk]] = []
        self.binary_bytes = 0
        self.binary_frames = 0
        self.rejected: list[str] = []
        self.errors: list[str] = []
        self.close_code: int | None = None
        self.keys: PeerKeys | None = None
        self.opener: FrameOpener | None = None
        self.sealer: InputSealer | None = None
        self._agreement: ViewerKeyAgreement | None = None
        self._reader: asyncio.Task[None] | None = None
        self.auto_ack = True
        self.changed = asyncio.Event()

    @property
    def viewer_id(self) -> str:
        """Our id from ``welcome``."""
        assert self.welcome is not None and self.welcome.viewer_id is not None
        return self.welcome.viewer_id

    async def connect(self, token: str) -> Welcome:
        """Open the socket, send ``hello``, wait for ``welcome``, start reading."""
        self.ws = await connect(
            self.ws_url,
            ssl=self.ssl_ctx,
            subprotocols=["clearpane.v1"],  # type: ignore[list-item]
            compression=None,
            origin=self.origin,  # type: ignore[arg-type]
            max_size=8 * 1024 * 1024,
        )
        await self.ws.send(serialize_control(Hello(token=token, client="scripted-viewer/0")))
        msg = parse_control(await asyncio.wait_for(self.ws.recv(), 10))
        if not isinstance(msg, Welcome):
            raise AssertionError(f"expected welcome, got {msg}")
        self.welcome = msg
        assert self.welcome.session_id
        self.opener = FrameOpener(self.welcome.session_id)
        self._reader = asyncio.create_task(self._read())
        return msg

    async def send(self, msg: ControlMessage) -> None:
        """Send a control message."""
        assert self.ws is not None
        await self.ws.send(serialize_control(msg))

    async def ask(self, *permissions: str) -> None:
        """``permission.request``."""
        await self.send(PermissionRequest(permissions=tuple(permissions)))

    async def start_keys(self) -> None:
        """Send ``key.commit`` (step 1 of §8.1); the rest happens as messages arrive."""
        assert self.welcome is not None
        self._agreement = ViewerKeyAgreement(self.welcome.session_id, self.viewer_id)
        await self.send(
            KeyCommit(commitment=self._agreement.commitment, video_codecs=self.video_codecs)
        )

    async def send_input(self, *events: InputEvent) -> InputFrame:
        """Seal and send one input batch with our input key."""
        assert self.sealer is not None and self.ws is not None
        frame = self.sealer.seal(bytes(InputBatch(tuple(events))))
        await self.ws.send(bytes(frame))
        return frame

    async def send_raw(self, data: bytes) -> None:
        """Send arbitrary binary bytes (hostile tests)."""
        assert self.ws is not None
        await self.ws.send(data)

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` is true."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("condition not reached")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.2))

    def of_type(self, kind: type[Any]) -> list[Any]:
        """Control messages received of one type."""
        return [m for m in self.messages if isinstance(m, kind)]

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                try:
                    if isinstance(raw, bytes):
                        await self._on_binary(raw)
                    else:
                        await self._on_text(raw)
                except ConnectionClosed:
                    raise
                except Exception as exc:  # keep reading; the test can inspect errors
                    self.errors.append(repr(exc))
                self.changed.set()
        self.close_code = self.ws.close_code
        self.changed.set()

    async def _on_text(self, raw: str) -> None:
        msg = parse_control(raw)
        self.messages.append(msg)
        if isinstance(msg, KeyAgent) and self._agreement is not None:
            public, self.keys = self._agreement.reveal(msg.agent_public)
            assert self.welcome is not None
            self.sealer = InputSealer(
                self.welcome.session_id, viewer_number(self.viewer_id), self.keys.input_key
            )
            await self._reply(serialize_control(KeyReveal(viewer_public=public)))
        elif isinstance(msg, KeyWrap) and self.keys is not None and self.opener is not None:
            assert self.welcome is not None
            key = unwrap_content_key(
                self.keys.wrap_key, self.welcome.session_id, msg.viewer_id, msg.epoch,
                msg.wrapped_key,
            )  # fmt: skip
            self.opener.add_key(msg.epoch, key)

    async def _on_binary(self, raw: bytes) -> None:
        self.binary_bytes += len(raw)
        self.binary_frames += 1
        frame = parse_binary(raw)
        if isinstance(frame, VideoChunkFrame) and self.opener is not None:
            try:
                chunk = VideoChunk.parse(self.opener.open(frame))
            except Exception as exc:
                self.rejected.append(type(exc).__name__)
                return
            self.chunks.append((frame, chunk))
            if self.auto_ack:
                await self._reply(bytes(AckFrame(frame.seq)))
            return
        if not isinstance(frame, ScreenUpdateFrame) or self.opener is None:
            return
        try:
            update = ScreenUpdate.parse(self.opener.open(frame))
        except Exception as exc:
            self.rejected.append(type(exc).__name__)
            return
        self.updates.append((frame, update))
        if self.auto_ack:
            await self._reply(bytes(AckFrame(frame.seq)))

    async def _reply(self, data: str | bytes) -> None:
        """Answer what was just read. The broker may have closed meanwhile (its
        close frame already received): the reply is dropped, and reading goes on,
        because what the broker sent before its close (``session.ended``) is still
        queued for the reader."""
        if self.ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self.ws.send(data)

    async def close(self) -> None:
        """Close the socket and stop reading."""
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader


class MachineController:
    """An ``AgentController`` wired straight to the pure state machines, with no
    network: lets UI tests prove that buttons drive consent and kill for real."""

    def __init__(self, observer: SessionObserver, clock_ms: Any = None) -> None:
        from agent.consent import ConsentMachine
        from agent.killswitch import KillSwitch

        self.observer = observer
        self.consent = ConsentMachine()
        self.killswitch = KillSwitch()
        self.clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.chats: list[str] = []
        self.masks: list[tuple[Any, Any]] = []
        self.ratings: list[tuple[int, str]] = []
        self.shown: list[str] = []
        self.calls: list[str] = []

    def offer(self, request_id: str, viewer_id: str, name: str, *perms: str) -> Prompt:
        """Simulate a ``consent.request`` arriving from the broker."""
        prompt = self.consent.request(
            request_id=request_id, viewer_id=viewer_id, user_id="u-" + viewer_id,
            user_name=name, role="engineer", ticket_id="T-42", ticket_title="Printer offline",
            permissions=perms, now_ms=self.clock_ms(),
        )  # fmt: skip
        self.observer.prompt(prompt)
        return prompt

    def _status(self) -> None:
        from agent.observer import ViewerStatus

        viewers = tuple(
            ViewerStatus(v, name, role, perms)
            for v, (name, role, perms) in self.consent.viewers().items()
        )
        controlled = tuple(
            self.consent.viewer_name(v) for v in self.consent.viewers_with("control")
        )
        phase = (
            "ended" if self.killswitch.killed else ("paused" if self.killswitch.paused else "live")
        )
        self.observer.status(SessionStatus(phase, "s-1", "T-42", "Printer offline", viewers,
                                           self.killswitch.capture_allowed(), controlled))  # fmt: skip

    def kill(self, source: str = "button") -> object:
        record = self.killswitch.kill(self.clock_ms(), source)
        decisions, _ = self.consent.close()
        for d in decisions:
            self.observer.prompt_closed(d)
        self._status()
        return record

    def answer(self, request_id: str, allowed: Any) -> None:
        decision = self.consent.answer(request_id, allowed, self.clock_ms())
        self.observer.prompt_closed(decision)
        self._status()

    def mark_shown(self, request_id: str) -> None:
        self.consent.mark_shown(request_id)
        self.shown.append(request_id)

    def revoke(self, viewer_id: str, permissions: Any) -> None:
        self.consent.revoke(viewer_id, permissions)
        self._status()

    def pause(self) -> None:
        self.killswitch.pause()
        self._status()

    def resume(self) -> None:
        self.killswitch.resume()
        self._status()

    def send_chat(self, text: str) -> None:
        self.chats.append(text)

    def set_masks(self, regions: Any, windows: Any = ()) -> None:
        self.masks.append((list(regions), list(windows)))

    def rate(self, score: int, comment: str = "") -> None:
        self.ratings.append((score, comment))

    def call_start(self) -> None:
        self.calls.append("start")

    def call_accept(self) -> None:
        self.calls.append("accept")

    def call_decline(self) -> None:
        self.calls.append("decline")

    def call_hangup(self) -> None:
        self.calls.append("hangup")

    def call_mute(self, *, audio: bool, video: bool) -> None:
        self.calls.append(f"mute audio={audio} video={video}")

    def call_view(self) -> Any:
        from agent.observer import CallView

        return CallView()


class FreezableProxy:
    """A TCP proxy (test side) between the agent and the broker that can *freeze*:
    it stops forwarding in both directions without closing anything — what a hung
    broker or a dead network looks like from the agent."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.frozen = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.bytes_to_broker = 0
        #: Connections accepted so far (a test waits for the agent to have dialed).
        self.connections = 0

    async def start(self) -> int:
        """Listen on 127.0.0.1 (a random port); return the port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def drop(self) -> None:
        """Cut every current connection (a network failure); keep accepting new ones."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def freeze(self) -> None:
        """Stop forwarding (connections stay open, bytes pile up unread)."""
        self.frozen.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_r, up_w = await asyncio.open_connection(*self.target)
        for src, dst, count in ((reader, up_w, True), (up_r, writer, False)):
            task = asyncio.create_task(self._pump(src, dst, count))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool
    ) -> None:
        try:
            while not self.frozen.is_set():
                data = await src.read(65536)
                if not data or self.frozen.is_set():
                    break
                if count:
                    self.bytes_to_broker += len(data)
                dst.write(data)
                await dst.drain()
            if self.frozen.is_set():
                await asyncio.Event().wait()  # hang forever, like a stopped process
        finally:
            dst.close()
            with contextlib.suppress(Exception):
                src._transport.close()  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task


class HostileBroker:
    """A scripted, *hostile* broker (test side): real TLS with its own throw-away
    organisation CA, the two REST calls the agent makes, and ``/ws/agent`` driven by
    the test. It forwards whatever the test wants, ignoring every rule — which is
    the point: the agent must stay safe anyway (G2, G4)."""

    def __init__(self, workdir: Any) -> None:
        from pathlib import Path

        self.workdir = Path(workdir)
        self.ws: Any = None
        self.texts: list[ControlMessage] = []
        self.binary: list[bytes] = []
        self.connected = asyncio.Event()
        self.changed = asyncio.Event()
        self.ca_pem = ""
        self.base_url = ""
        self.session_id = "s-hostile"
        self._runner: Any = None
        self._done = asyncio.Event()

    async def start(self) -> None:
        """Issue a CA + server certificate for 127.0.0.1 and listen on a random port."""
        from aiohttp import web
        from cryptography.hazmat.primitives import serialization

        from certs.keys import write_private_key_unencrypted
        from certs.testing import MemoryPki
        from certs.tls import server_context

        pki = MemoryPki.create("Hostile Org")
        leaf = pki.issuing.issue_server(ip_addresses=["127.0.0.1"])
        chain, key = self.workdir / "chain.pem", self.workdir / "key.pem"
        chain.write_bytes(leaf.fullchain_pem())
        write_private_key_unencrypted(key, leaf.key)
        self.ca_pem = pki.root.root.public_bytes(serialization.Encoding.PEM).decode()
        app = web.Application()
        app.router.add_post("/api/v1/agent/requests", self._request)
        app.router.add_get("/ws/agent", self._ws)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=server_context(chain, key))
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"https://127.0.0.1:{port}"

    async def _request(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response(
            {"session_id": self.session_id, "ticket_id": "t-1", "token": "agent-token"}
        )

    async def _ws(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        ws = web.WebSocketResponse(protocols=["clearpane.v1"])
        await ws.prepare(request)
        hello = await ws.receive()
        assert hello.type == WSMsgType.TEXT and isinstance(parse_control(hello.data), Hello)
        await ws.send_str(
            serialize_control(
                Welcome(
                    session_id=self.session_id, ticket=Ticket(id="t-1", title="Printer"),
                    role="agent", state="waiting", server_time_ms=time.time_ns() // 1_000_000,
                    resume_token="agent-token-2",
                )
            )
        )  # fmt: skip
        self.ws = ws
        self.connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.texts.append(parse_control(msg.data))
            elif msg.type == WSMsgType.BINARY:
                self.binary.append(bytes(msg.data))
            self.changed.set()
        self._done.set()
        return ws

    async def send(self, msg: ControlMessage) -> None:
        """Send a control message to the agent."""
        await self.ws.send_str(serialize_control(msg))

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame to the agent."""
        await self.ws.send_bytes(data)

    def of_type(self, kind: type[Any]) -> list[Any]:
        """Control messages received from the agent, of one type."""
        return [m for m in self.texts if isinstance(m, kind)]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` is true."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 0.1)

    async def close(self) -> None:
        """Stop the server."""
        if self.ws is not None:
            await self.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
