"""The GStreamer frame reader (the Wayland plan), fed by videotestsrc."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from agent.capture.base import CaptureError
from agent.capture.gstreamer import GstPipeSource, pipewire_source


@pytest.fixture(autouse=True)
def _gstreamer() -> None:
    if shutil.which("gst-launch-1.0") is None:
        pytest.fail("gstreamer1.0-tools is not installed: run `make test`, which installs it")


def test_frames_arrive_in_bgra_at_the_asked_size() -> None:
    src = GstPipeSource("videotestsrc is-live=true pattern=red", 64, 48)
    try:
        frame = src.grab()
        assert frame.shape == (48, 64, 4) and frame.dtype == np.uint8
        assert frame.flags.writeable and frame.flags.c_contiguous
        assert (frame.reshape(-1, 4) == (0, 0, 255, 255)).all()  # red in BGRA
        frame[:] = 0  # the caller owns it: the next grab is untouched
        assert (src.grab()[:, :, 2] == 255).all()
    finally:
        src.close()
    src.close()  # idempotent
    with pytest.raises(CaptureError, match="closed"):
        src.grab()


def test_colour_bars_keep_their_positions() -> None:
    # SMPTE bars: white, yellow, cyan, green, magenta, red, blue from the left.
    src = GstPipeSource("videotestsrc is-live=true pattern=smpte", 140, 80)
    try:
        row = src.grab()[10].astype(int)
        want = [
            (255, 255, 255),
            (0, 255, 255),
            (255, 255, 0),
            (0, 255, 0),
            (255, 0, 255),
            (0, 0, 255),
            (255, 0, 0),
        ]  # BGR, as GStreamer converts them to RGB
        for i, bgr in enumerate(want):
            x = i * 20 + 10
            assert np.abs(row[x, :3] - bgr).max() <= 8, (i, row[x, :3])
    finally:
        src.close()


def test_a_pipeline_that_fails_is_a_capture_error() -> None:
    src = GstPipeSource("no-such-element-xyz", 16, 16)
    try:
        with pytest.raises(CaptureError):
            src.grab()
    finally:
        src.close()
    with pytest.raises(CaptureError):
        GstPipeSource("videotestsrc", 0, 16)


def test_pipewire_source_element() -> None:
    assert pipewire_source(42) == "pipewiresrc fd=3 path=42 do-timestamp=true"
