"""Runs a :class:`CallController` on the session's asyncio loop: carries out its
effects with real media (:mod:`agent.call.media`) and aiortc (:mod:`agent.call.peer`).

All methods must be called on the loop's thread (the agent session forwards the Qt
window's clicks with ``loop.call_soon_threadsafe``). They are synchronous: local media
are opened and *stopped* inline, so :meth:`CallRunner.kill` has stopped the camera and
microphone when it returns (G5); the slow work (offer, answer, closing the peer
connection) runs in order on one worker task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from agent.call.controller import (
    AddCandidate,
    ApplyAnswer,
    ApplyMute,
    CallController,
    CallState,
    CloseMedia,
    Effect,
    Log,
    OpenMedia,
    RemoteMute,
    Ring,
    Send,
)
from agent.call.ice import IceServer
from agent.call.media import LocalMedia, MediaError, MediaFactory
from agent.call.peer import CallPeer, FrameListener, ReceiveStats
from protocol.messages import ControlMessage

log = logging.getLogger(__name__)

SendFn = Callable[[ControlMessage], None]
LogFn = Callable[[str, dict[str, Any]], None]


class CallRunner:
    """One session's call: the controller, the local media, the peer connection.

    ``send`` queues a control message to the broker (must not block); ``log`` records
    an event in the client's log; ``on_ring(on)`` shows or withdraws the "engineer
    asks for a call" prompt; ``on_change()`` tells the UI to redraw the call panel.
    """

    def __init__(
        self,
        send: SendFn,
        log_event: LogFn,
        media_factory: MediaFactory,
        *,
        ice_servers: Sequence[IceServer] = (),
        on_ring: Callable[[bool], None] | None = None,
        on_change: Callable[[], None] | None = None,
        on_video_frame: FrameListener | None = None,
    ) -> None:
        self.controller = CallController()
        self._send = send
        self._log = log_event
        self._media_factory = media_factory
        self._ice_servers = tuple(ice_servers)
        self._on_ring = on_ring
        self._on_change = on_change
        self._on_video_frame = on_video_frame
        self.media: LocalMedia | None = None
        self.peer: CallPeer | None = None
        self._jobs: asyncio.Queue[Callable[[], Awaitable[None]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        #: Every media object this runner ever opened (tests check they all stopped).
        self.opened: list[LocalMedia] = []
        self.last_stats = ReceiveStats()

    # -- what the session / UI calls ---------------------------------------------------

    def use_servers(self, broker_servers: Sequence[IceServer]) -> None:
        """The broker's STUN/TURN servers for this session (its TURN credentials are
        short-lived, issued with the request), ahead of the agent's own; the next
        call uses them (relay-only when a TURN server is among them, G1)."""
        own = tuple(s for s in self._ice_servers if s not in broker_servers)
        self._ice_servers = tuple(broker_servers) + own

    @property
    def ice_servers(self) -> tuple[IceServer, ...]:
        """The servers the next call will use."""
        return self._ice_servers

    @property
    def state(self) -> CallState:
        """The controller's state."""
        return self.controller.state

    @property
    def stats(self) -> ReceiveStats:
        """What arrived from the engineer in the current (or last) call."""
        return self.peer.stats if self.peer is not None else self.last_stats

    def handle(self, msg: ControlMessage) -> None:
        """A ``call.request`` or ``rtc.*`` message from the broker."""
        self._apply(self.controller.on_message(msg))

    def client_start(self) -> None:
        """The client clicked "Start video call" (raises ``CallError`` if not allowed)."""
        self._apply(self.controller.client_start())

    def client_accept(self) -> None:
        """The client accepted the engineer's request."""
        self._apply(self.controller.client_accept())

    def client_decline(self) -> None:
        """The client declined the engineer's request."""
        self._apply(self.controller.client_decline())

    def client_mute(self, *, audio: bool, video: bool) -> None:
        """Mute / unmute the client's microphone and camera."""
        self._apply(self.controller.client_mute(audio=audio, video=video))

    def client_hangup(self, reason: str = "hangup") -> None:
        """The client hung up."""
        self._apply(self.controller.client_hangup(reason))

    def kill(self) -> None:
        """Kill switch: camera and microphone are stopped when this returns."""
        self._apply(self.controller.kill())

    async def aclose(self) -> None:
        """End any call and wait until the peer connection is closed (session end)."""
        self._apply(self.controller.client_hangup("session_ended"))
        if self._jobs is not None and self._worker is not None:
            await self._jobs.join()
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def idle(self) -> None:
        """Wait until every queued job (offer, answer, close) is done (for tests)."""
        if self._jobs is not None:
            await self._jobs.join()

    # -- effects -----------------------------------------------------------------------

    def _apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, OpenMedia):
                self._open()
            elif isinstance(effect, CloseMedia):
                self._close(effect.reason)
            elif isinstance(effect, Send):
                self._send(effect.message)
            elif isinstance(effect, Log):
                self._log(effect.event, dict(effect.detail))
            elif isinstance(effect, Ring):
                if self._on_ring is not None:
                    self._on_ring(effect.on)
            elif isinstance(effect, ApplyAnswer):
                self._job(self._accept_answer, effect.sdp)
            elif isinstance(effect, AddCandidate):
                self._job(self._add_candidate, effect)
            elif isinstance(effect, ApplyMute):
                if self.media is not None:
                    self.media.set_muted(audio=effect.audio, video=effect.video)
            elif isinstance(effect, RemoteMute):
                pass  # the controller keeps the flags; the panel redraws below
        if effects and self._on_change is not None:
            self._on_change()

    def _open(self) -> None:
        try:
            media = self._media_factory()
        except MediaError as exc:
            log.warning("call media: %s", exc)
            self._apply(self.controller.peer_failed("no_media"))
            return
        self.media = media
        self.opened.append(media)
        peer = CallPeer(
            self._ice_servers, on_failed=self._failed, on_video_frame=self._on_video_frame
        )
        self.peer = peer
        self._job(self._make_offer, peer, media)

    def _close(self, reason: str) -> None:
        # Stop capture first, synchronously; the network part follows on the worker.
        media, self.media = self.media, None
        if media is not None:
            media.close()
        peer, self.peer = self.peer, None
        if peer is not None:
            self.last_stats = peer.stats
            self._job(peer.close)
        log.info("call ended (%s)", reason)

    def _failed(self, why: str) -> None:
        self._apply(self.controller.peer_failed(why))

    async def _make_offer(self, peer: CallPeer, media: LocalMedia) -> None:
        if self.peer is not peer:
            return  # ended before the worker got here
        sdp = await peer.make_offer(media)
        if self.peer is peer:
            self._apply(self.controller.offer_ready(sdp))

    async def _accept_answer(self, sdp: str) -> None:
        if self.peer is not None:
            try:
                await self.peer.accept_answer(sdp)
            except ValueError as exc:  # aiortc rejects a malformed or mismatched answer
                log.info("bad rtc.answer: %s", exc)
                self._apply(self.controller.peer_failed("bad_answer"))

    async def _add_candidate(self, c: AddCandidate) -> None:
        if self.peer is not None:
            await self.peer.add_candidate(c.candidate, c.sdp_mid, c.sdp_mline_index)

    # -- worker ---------------------------------------------------------------------

    def _job(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        if self._jobs is None:
            self._jobs = asyncio.Queue()
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(self._jobs))
        self._jobs.put_nowait(lambda: fn(*args))

    async def _work(self, jobs: asyncio.Queue[Callable[[], Awaitable[None]]]) -> None:
        while True:
            job = await jobs.get()
            try:
                await job()
            except Exception:  # one failed step must not stop later ones (e.g. close)
                log.exception("call step failed")
            finally:
                jobs.task_done()
