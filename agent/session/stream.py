"""The capture/send loop with flow control (G2, G5, G6; DESIGN §6).

Nothing is grabbed or sent unless some viewer holds ``view`` and the content key,
the stream is not paused and the session not killed; at most
``MAX_INFLIGHT_UPDATES`` unacknowledged updates are in flight (expired after
``INFLIGHT_EXPIRY_S``). Also pause/resume and mask changes, which force a full
frame, and closing the capture source.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from agent.session.consent_flow import ConsentMixin
from agent.session.core import FLAG_FULL, INFLIGHT_EXPIRY_S
from agent.video import VideoPipeline, VideoUpdate
from protocol.limits import MAX_INFLIGHT_UPDATES
from protocol.media import ScreenUpdate, ScreenUpdateFrame, VideoChunkFrame
from protocol.messages import MaskUpdate, Pause, Resume


class StreamMixin(ConsentMixin):
    """Capture → seal → send, gated by consent, kill switch and acknowledgements."""

    def _can_send(self) -> bool:
        if not self.killswitch.capture_allowed() or self.consent.closed:
            return False
        keys = self._keys
        if keys is None or not any(self.consent.may(v, "view") for v in keys.wrapped):
            return False
        now = time.monotonic()
        for seq in [s for s, t in self._inflight.items() if now - t > INFLIGHT_EXPIRY_S]:
            del self._inflight[seq]
        return len(self._inflight) < MAX_INFLIGHT_UPDATES

    async def _capture_loop(self, ws: ClientConnection) -> None:
        interval = 1.0 / self.config.max_fps
        assert self._wake is not None
        while not self.killswitch.killed:
            if not self._can_send():
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.25)
                continue
            started = time.monotonic()
            full = self._need_full
            codec = self.video.codec_for(self._viewing())
            update = await asyncio.to_thread(self._grab, full, codec)
            # Re-check after the grab: a kill, pause, revoke or epoch change may have
            # happened meanwhile. No await between this check and the send call.
            if update is None or not self._can_send():
                if isinstance(update, VideoUpdate):
                    self._need_full = True  # an encoded frame was not sent: restart the GOP
                await asyncio.sleep(interval)
                continue
            if self._need_full and not full and not isinstance(update, VideoUpdate):
                # A viewer joined (or asked to refresh) during the grab: it must start
                # from a complete picture, so this partial update is dropped.
                continue
            assert self._keys is not None
            with self.killswitch.gate:  # check + commit is atomic w.r.t. kill / pause
                if not self._can_send():
                    self._need_full = self._need_full or isinstance(update, VideoUpdate)
                    continue
                if isinstance(update, VideoUpdate):
                    # Never dropped after encoding (SPEC §4.4): decoders would lose the GOP.
                    frame: ScreenUpdateFrame | VideoChunkFrame = self._keys.seal_video(
                        update.key, bytes(update)
                    )
                    full = update.key
                else:
                    frame = self._keys.seal(FLAG_FULL if full else 0, bytes(update))
                self.committed_seq = frame.seq
            if full:
                self._need_full = False
            data = bytes(frame)
            self._inflight[frame.seq] = time.monotonic()
            self.frames_sent += 1
            self.bytes_sent += len(data)
            try:
                await ws.send(data)
            except ConnectionClosed:
                return  # the reader reports why
            self._send_desktop_info()  # monitors, the shared one, capabilities
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, interval - elapsed))

    def _viewing(self) -> list[str]:
        """Viewers holding ``view`` with the content key (the stream's audience)."""
        keys = self._keys
        if keys is None:
            return []
        return [v for v in keys.wrapped if self.consent.may(v, "view")]

    def _grab(self, full: bool, codec: str | None = None) -> ScreenUpdate | VideoUpdate | None:
        """Runs in a worker thread. Checks the kill flag before touching the screen.

        ``codec``: the negotiated video codec for this frame, None for tiles.
        """
        if not self.killswitch.capture_allowed():
            return None
        self._capture_thread_busy.set()
        try:
            if self._pipeline is None:
                self._source = self._source_factory()
                self._pipeline = self._pipeline_factory(self._source)
            with self._mask_lock:
                regions, windows = self._masks
                gen = self._mask_gen
            if gen != self._applied_mask_gen:
                from agent.pipeline.mask import WindowMask

                self._pipeline.set_masks(regions, [WindowMask(title=t) for t in windows])
                self._applied_mask_gen = gen
                full = True
            if isinstance(self._pipeline, VideoPipeline) and self._pipeline.set_codec(codec):
                full = True  # a new stream starts with a keyframe / FULL update
            if not self.killswitch.capture_allowed():
                return None
            self.grabs += 1
            update: ScreenUpdate | VideoUpdate | None = self._pipeline.next_update(full)
            with self._mask_lock:
                if self._mask_gen != gen:
                    return None  # masks changed during the grab: never send it
            return update
        finally:
            self._capture_thread_busy.clear()

    async def _release_capture_async(self) -> None:
        """Let a grab that was already running finish (bounded), then close the source."""
        for _ in range(50):
            if not self._capture_thread_busy.is_set():
                break
            await asyncio.sleep(0.01)
        self._release_capture()

    def _release_capture(self) -> None:
        """Close the capture source (the screen is no longer read)."""
        pipeline, source = self._pipeline, self._source
        self._pipeline = self._source = None
        if pipeline is not None:
            with contextlib.suppress(Exception):
                pipeline.close()
        if source is not None:
            with contextlib.suppress(Exception):
                source.close()

    # == pause and masks ================================================================

    def _after_pause(self) -> None:
        self._send(Pause())
        self._log_local("session.paused", {}, self._clock())
        self._publish_status()

    def _after_resume(self) -> None:
        self._send(Resume())
        self._need_full = True
        self._inflight.clear()
        self._log_local("session.resumed", {}, self._clock())
        self._publish_status()
        self._poke()

    def _after_masks(self, regions: int, windows: int) -> None:
        self._send(MaskUpdate(regions=regions, windows=windows))
        self._log_local("mask.changed", {"regions": regions, "windows": windows}, self._clock())
        self._need_full = True
        self._poke()
