"""The agent's side of the WebRTC connection (aiortc), one per call.

The agent always *offers* (the offer is made only after the client started the
call), the engineer's browser answers. aiortc gathers every candidate before the
offer is returned, so the offer carries them; the browser's candidates arrive one by
one as ``rtc.candidate``. What arrives from the browser is consumed and counted
(:class:`ReceiveStats`), and the latest video frame is kept for the call panel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from agent.call.ice import IceServer, to_aiortc
from agent.call.media import LocalMedia

log = logging.getLogger(__name__)


@dataclass
class ReceiveStats:
    """What arrived from the engineer's browser."""

    video_frames: int = 0
    audio_frames: int = 0
    video_size: tuple[int, int] | None = None
    remote_tracks_ended: int = 0


#: Called with each remote video frame (an ``av.VideoFrame``), e.g. to draw it in Qt.
FrameListener = Callable[[Any], None]


class CallPeer:
    """An ``RTCPeerConnection`` with the call's media; :meth:`close` ends it."""

    def __init__(
        self,
        ice_servers: Sequence[IceServer] = (),
        *,
        on_failed: Callable[[str], None] | None = None,
        on_video_frame: FrameListener | None = None,
    ) -> None:
        # G1: a call is the one time the agent opens UDP sockets that answer a peer
        # (ICE connectivity checks). With a TURN server configured, media goes only
        # through the organisation's relay, so no peer ever reaches the client's
        # machine directly; without one, host candidates are used (docs/video-calls.md).
        relay_only = any(s.is_usable_relay for s in ice_servers)
        self.configuration = RTCConfiguration(
            iceServers=[to_aiortc(s) for s in ice_servers],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY
            if relay_only
            else RTCIceTransportPolicy.ALL,
        )
        self.pc = RTCPeerConnection(configuration=self.configuration)
        self.stats = ReceiveStats()
        self.last_video_frame: Any = None
        self._on_failed = on_failed
        self._on_video_frame = on_video_frame
        self._readers: set[asyncio.Task[None]] = set()
        self._closed = False
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def connection_state(self) -> str:
        """aiortc's ``connectionState`` (new, connecting, connected, failed, closed)."""
        return str(self.pc.connectionState)

    async def make_offer(self, media: LocalMedia) -> str:
        """Add the local tracks (send and receive each kind) and return the offer SDP,
        with all local candidates in it."""
        for track in media.tracks:
            self.pc.addTrack(track)
        for kind in ("audio", "video"):  # still receive a kind the client does not send
            if getattr(media, kind) is None:
                self.pc.addTransceiver(kind, direction="recvonly")
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        return str(self.pc.localDescription.sdp)

    async def accept_answer(self, sdp: str) -> None:
        """Apply the browser's answer (starts ICE and DTLS in the background)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def add_candidate(
        self, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        """Add one remote candidate; an empty one (end of candidates) is ignored."""
        line = candidate.strip()
        if line.startswith("candidate:"):
            line = line[len("candidate:") :]
        if not line:
            return
        try:
            parsed = candidate_from_sdp(line)
        except (ValueError, IndexError):
            log.debug("ignored an unparsable ICE candidate")
            return
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index
        await self.pc.addIceCandidate(parsed)

    async def close(self) -> None:
        """Close the connection and stop reading remote tracks."""
        if self._closed:
            return
        self._closed = True
        await self.pc.close()
        for task in list(self._readers):
            task.cancel()
        for task in list(self._readers):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _on_state(self) -> None:
        state = self.pc.connectionState
        log.info("call connection %s", state)
        if state == "failed" and self._on_failed is not None and not self._closed:
            self._on_failed("failed")

    def _on_track(self, track: MediaStreamTrack) -> None:
        task = asyncio.get_running_loop().create_task(self._read(track))
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame: Any = await track.recv()
                if track.kind == "video":
                    self.stats.video_frames += 1
                    self.stats.video_size = (frame.width, frame.height)
                    self.last_video_frame = frame
                    if self._on_video_frame is not None:
                        self._on_video_frame(frame)
                else:
                    self.stats.audio_frames += 1
        except MediaStreamError:
            self.stats.remote_tracks_ended += 1
