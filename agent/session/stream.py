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

from agent.session.core import FLAG_FULL, INFLIGHT_EXPIRY_S, SessionCore
from agent.video import VideoPipeline, VideoUpdate
from protocol.limits import MAX_INFLIGHT_UPDATES
from protocol.media import ScreenUpdate, ScreenUpdateFrame, VideoChunkFrame
from protocol.messages import MaskUpdate, Pause, Resume


class Stream:
    """The session's stream part: capture → seal → send, gated by consent, kill
    switch and acknowledgements."""

    def __init__(self, core: SessionCore) -> None:
        self._core = core

    def can_send(self) -> bool:
        """Whether a frame may be grabbed and sent now."""
        if not self._core.killswitch.capture_allowed() or self._core.consent.closed:
            return False
        keys = self._core.keys
        if keys is None or not any(self._core.consent.may(v, "view") for v in keys.wrapped):
            return False
        now = time.monotonic()
        for seq in [s for s, t in self._core.inflight.items() if now - t > INFLIGHT_EXPIRY_S]:
            del self._core.inflight[seq]
        return len(self._core.inflight) < MAX_INFLIGHT_UPDATES

    async def capture_loop(self, ws: ClientConnection) -> None:
        """Grab, seal and send while allowed, paced and acknowledged."""
        interval = 1.0 / self._core.config.max_fps
        assert self._core.wake is not None
        while not self._core.killswitch.killed:
            if not self.can_send():
                self._core.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._core.wake.wait(), 0.25)
                continue
            started = time.monotonic()
            full = self._core.need_full
            codec = self._core.video.codec_for(self.viewing())
            update = await asyncio.to_thread(self.grab, full, codec)
            # Re-check after the grab: a kill, pause, revoke or epoch change may have
            # happened meanwhile. No await between this check and the send call.
            if update is None or not self.can_send():
                if isinstance(update, VideoUpdate):
                    self._core.need_full = True  # an encoded frame was not sent: restart the GOP
                # One tick per interval, the grab included: a change waits ≤ 1 interval;
                # where X reports damage, a still screen's tick ends at the first drawing
                # (grabbed at once: P5), never sooner than the last send allows.
                rest = max(0.0, interval - (time.monotonic() - started))
                pipeline = self._core.pipeline
                if (
                    update is None
                    and isinstance(pipeline, VideoPipeline)
                    and pipeline.damage is not None
                ):
                    await asyncio.to_thread(pipeline.wait_for_change, rest, interval)
                else:
                    await asyncio.sleep(rest)
                continue
            if self._core.need_full and not full and not isinstance(update, VideoUpdate):
                # A viewer joined (or asked to refresh) during the grab: it must start
                # from a complete picture, so this partial update is dropped.
                continue
            assert self._core.keys is not None
            with self._core.killswitch.gate:  # check + commit is atomic w.r.t. kill / pause
                if not self.can_send():
                    self._core.need_full = self._core.need_full or isinstance(update, VideoUpdate)
                    continue
                if isinstance(update, VideoUpdate):
                    # Never dropped after encoding (SPEC §4.4): decoders would lose the GOP.
                    frame: ScreenUpdateFrame | VideoChunkFrame = self._core.keys.seal_video(
                        update.key, bytes(update)
                    )
                    full = update.key
                else:
                    frame = self._core.keys.seal(FLAG_FULL if full else 0, bytes(update))
                self._core.committed_seq = frame.seq
            if full:
                self._core.need_full = False
            data = bytes(frame)
            self._core.inflight[frame.seq] = time.monotonic()
            self._core.frames_sent += 1
            self._core.bytes_sent += len(data)
            try:
                await ws.send(data)
            except ConnectionClosed:
                return  # the reader reports why
            self._core.send_desktop_info()  # monitors, the shared one, capabilities
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, interval - elapsed))

    def viewing(self) -> list[str]:
        """Viewers holding ``view`` with the content key (the stream's audience)."""
        keys = self._core.keys
        if keys is None:
            return []
        return [v for v in keys.wrapped if self._core.consent.may(v, "view")]

    def grab(self, full: bool, codec: str | None = None) -> ScreenUpdate | VideoUpdate | None:
        """Runs in a worker thread. Checks the kill flag before touching the screen.

        ``codec``: the negotiated video codec for this frame, None for tiles.
        """
        if not self._core.killswitch.capture_allowed():
            return None
        self._core.capture_thread_busy.set()
        try:
            if self._core.pipeline is None:
                self._core.source = self._core.source_factory()
                self._core.pipeline = self._core.pipeline_factory(self._core.source)
            with self._core.mask_lock:
                regions, windows = self._core.masks
                gen = self._core.mask_gen
            if gen != self._core.applied_mask_gen:
                from agent.pipeline.mask import WindowMask

                self._core.pipeline.set_masks(regions, [WindowMask(title=t) for t in windows])
                self._core.applied_mask_gen = gen
                full = True
            if isinstance(self._core.pipeline, VideoPipeline) and self._core.pipeline.set_codec(
                codec
            ):
                full = True  # a new stream starts with a keyframe / FULL update
            if not self._core.killswitch.capture_allowed():
                return None
            self._core.grabs += 1
            update: ScreenUpdate | VideoUpdate | None = self._core.pipeline.next_update(full)
            with self._core.mask_lock:
                if self._core.mask_gen != gen:
                    return None  # masks changed during the grab: never send it
            return update
        finally:
            self._core.capture_thread_busy.clear()

    async def release_capture_async(self) -> None:
        """Let a grab that was already running finish (bounded), then close the source."""
        for _ in range(50):
            if not self._core.capture_thread_busy.is_set():
                break
            await asyncio.sleep(0.01)
        self.release_capture()

    def release_capture(self) -> None:
        """Close the capture source (the screen is no longer read)."""
        pipeline, source = self._core.pipeline, self._core.source
        self._core.pipeline = self._core.source = None
        if pipeline is not None:
            with contextlib.suppress(Exception):
                pipeline.close()
        if source is not None:
            with contextlib.suppress(Exception):
                source.close()

    # == pause and masks ================================================================

    def after_pause(self) -> None:
        """Tell the broker and log the pause."""
        self._core.send(Pause())
        self._core.log_local("session.paused", {}, self._core.clock())
        self._core.publish_status()

    def after_resume(self) -> None:
        """Tell the broker, log, and restart from a FULL frame."""
        self._core.send(Resume())
        self._core.need_full = True
        self._core.inflight.clear()
        self._core.log_local("session.resumed", {}, self._core.clock())
        self._core.publish_status()
        self._core.poke()

    def after_masks(self, regions: int, windows: int) -> None:
        """Tell the broker, log, and send a FULL frame with the new masks."""
        self._core.send(MaskUpdate(regions=regions, windows=windows))
        self._core.log_local(
            "mask.changed", {"regions": regions, "windows": windows}, self._core.clock()
        )
        self._core.need_full = True
        self._core.poke()
