"""The engineer's side over a real WebSocket, scripted by a test: the Python
``protocol.e2e`` viewer half, counting every screen byte it receives."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

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
    Welcome,
    parse_control,
    serialize_control,
)

__all__ = ["ScriptedViewer"]


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
