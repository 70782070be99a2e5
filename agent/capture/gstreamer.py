"""Frames from a GStreamer pipeline (the Wayland plan: PipeWire through GStreamer).

On Wayland the ScreenCast portal hands the agent a PipeWire remote and a node per
monitor; ``pipewiresrc fd=3 path=NODE`` reads it.  The pipeline runs in a
``gst-launch-1.0`` child process that writes raw BGRx frames to a pipe (no native
binding in the agent's process, and a crash there cannot take the agent with it); a
reader thread keeps only the newest frame ("latest frame wins", DESIGN §6).

Only the reader is tested here, fed by ``videotestsrc``: ``pipewiresrc`` needs a
Wayland session with a GPU (docs/platforms.md).
"""

from __future__ import annotations

import shutil
import subprocess
import threading

import numpy as np

from agent.capture.base import CaptureError, CaptureSource, Frame

#: How long ``grab()`` waits for the first frame.
FIRST_FRAME_TIMEOUT_S = 10.0


def pipewire_source(node: int, fd: int = 3) -> str:
    """The GStreamer source element for a portal stream (PipeWire ``node``, the
    remote's file descriptor passed to the child as ``fd``)."""
    return f"pipewiresrc fd={int(fd)} path={int(node)} do-timestamp=true"


class GstPipeSource(CaptureSource):
    """``width``×``height`` BGRx frames from the GStreamer ``source`` element chain."""

    def __init__(
        self, source: str, width: int, height: int, *, pass_fds: tuple[int, ...] = ()
    ) -> None:
        launcher = shutil.which("gst-launch-1.0")
        if launcher is None:
            raise CaptureError("gst-launch-1.0 is not installed (gstreamer1.0-tools)")
        if not (0 < width <= 16384 and 0 < height <= 16384):
            raise CaptureError(f"bad frame size {width}x{height}")
        self._w, self._h = width, height
        caps = f"video/x-raw,format=BGRx,width={width},height={height}"
        cmd = [launcher, "-q", *source.split(), "!", "videoconvert", "!", "videoscale", "!"]
        cmd += [caps, "!", "fdsink", "fd=1", "sync=false"]
        self._proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            pass_fds=pass_fds,
        )
        self._latest: bytes | None = None
        self._error: str | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="gst-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        size = self._w * self._h * 4
        out = self._proc.stdout
        assert out is not None
        while True:
            chunk = out.read(size)  # a BufferedReader returns exactly size bytes, or EOF
            if len(chunk) < size:
                break
            with self._cond:
                self._latest = chunk
                self._cond.notify_all()
        err = self._proc.stderr.read().decode("utf-8", "replace") if self._proc.stderr else ""
        with self._cond:
            self._error = err.strip().splitlines()[-1] if err.strip() else "the pipeline ended"
            self._cond.notify_all()

    @property
    def size(self) -> tuple[int, int]:
        return self._w, self._h

    def grab(self) -> Frame:
        if self._closed:
            raise CaptureError("GStreamer source is closed")
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._latest is not None or self._error is not None,
                FIRST_FRAME_TIMEOUT_S,
            )
            data, error = self._latest, self._error
        if data is None:
            raise CaptureError(f"no frame from GStreamer: {error if ok else 'timed out'}")
        if error is not None:
            raise CaptureError(f"GStreamer stopped: {error}")
        # bytes are immutable: copy into a fresh array the caller owns (and may mask).
        frame = np.frombuffer(data, dtype=np.uint8).reshape(self._h, self._w, 4).copy()
        frame[:, :, 3] = 255  # BGRx: the padding byte is undefined
        return frame

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=5)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()
