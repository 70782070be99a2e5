"""Test helpers for calls: a media factory that counts what it opened, and loopback ICE.

aioice leaves 127.0.0.1 out of its host addresses, so on a loopback-only machine an
aiortc peer offers no candidate at all; :func:`use_loopback_ice` makes it offer
127.0.0.1 (MACHINE-NOTES "WebRTC on loopback").
"""

from __future__ import annotations

import asyncio
from typing import Any

import aioice.ice

from agent.call.media import LocalMedia, MediaFactory, media_factory


class CountingMediaFactory:
    """Opens synthetic media (small and slow: cheap to encode) and keeps every
    :class:`LocalMedia` it returned, so a test can check that nothing was opened, or
    that everything opened has stopped."""

    def __init__(self, video: str = "synthetic:320x240@10", audio: str = "synthetic") -> None:
        self._factory: MediaFactory = media_factory(video, audio)
        self.opened: list[LocalMedia] = []

    def __call__(self) -> LocalMedia:
        media = self._factory()
        self.opened.append(media)
        return media

    @property
    def any_live(self) -> bool:
        """True while some opened track still produces frames."""
        return any(m.live for m in self.opened)


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


def use_loopback_ice(monkeypatch: Any) -> None:
    """Make aiortc (aioice) gather a 127.0.0.1 host candidate; ``monkeypatch`` is
    pytest's fixture, which undoes the patch after the test."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", _loopback_addresses)


class AiortcEngineer:
    """An aiortc stand-in for the engineer's browser: answers the agent's offer with a
    synthetic camera and microphone, and counts what arrives from the agent."""

    def __init__(self, width: int = 160, height: int = 120, fps: int = 10) -> None:
        self.pc: Any = None
        self.frames = {"audio": 0, "video": 0}
        self._size = (width, height, fps)
        self._tracks: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def answer(self, offer_sdp: str) -> str:
        """Apply the offer, add the synthetic tracks, return the answer SDP."""
        from aiortc import RTCPeerConnection, RTCSessionDescription

        from agent.call.media import SyntheticAudioTrack, SyntheticVideoTrack

        pc = self.pc = RTCPeerConnection()
        pc.on("track", lambda t: self._tasks.append(asyncio.create_task(self._read(t))))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        self._tracks = [SyntheticAudioTrack(), SyntheticVideoTrack(*self._size)]
        for track in self._tracks:
            pc.addTrack(track)
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def _read(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        try:
            while True:
                await track.recv()
                self.frames[track.kind] += 1
        except MediaStreamError:
            pass

    async def tracks_ended(self) -> None:
        """Return once every track the agent sent has ended (its side hung up): from
        then on no frame can arrive, so a test can say "nothing more came"."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop the tracks and the connection."""
        for track in self._tracks:
            track.stop()
        if self.pc is not None:
            await self.pc.close()
        for task in self._tasks:
            task.cancel()
