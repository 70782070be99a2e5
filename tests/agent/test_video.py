"""agent.video: real PyAV encoders, the video pipeline, codec choice and a live session."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from agent.capture import PatternSource
from agent.capture.base import Frame
from agent.video import (
    AUTO_CODECS,
    CodecProbe,
    VideoChoice,
    VideoEncoder,
    VideoError,
    VideoPipeline,
    VideoUpdate,
    create_encoder,
    negotiate,
    rank,
)
from agent.video.base import STRIP, EncodedFrame, Rows
from agent.video.pipeline import KEYFRAME_MAX_CHUNKS, changed_rows
from agent.video.pyav import PyAVEncoder
from broker.testing import running_broker
from protocol.limits import VIDEO_KEYFRAME_INTERVAL_S
from protocol.media import VIDEO_VP9, ScreenUpdate, VideoChunk
from tests.helpers import eventually

DECODERS = {"vp9": "vp9", "h264": "h264", "av1": "libdav1d"}
#: Mean absolute error (0–255) allowed between the source and the decoded frame:
#: 4:2:0 and crf 26–35 blur coloured text edges; a wrong picture is ≥ 20.
TOLERANCE = 6.0


def decode(name: str, chunks: list[VideoChunk]) -> list[Frame]:
    """Decode chunks with FFmpeg's decoders as BGRA (what the viewer's canvas shows)."""
    ctx: Any = av.CodecContext.create(DECODERS[name], "r")
    out = []
    for c in chunks:
        for f in ctx.decode(av.Packet(c.data)):
            out.append(f.to_ndarray(format="bgra")[: c.height, : c.width])
    out += [f.to_ndarray(format="bgra")[: c.height, : c.width] for f in ctx.decode(None)]
    return out


def mae(a: Frame, b: Frame) -> float:
    return float(np.abs(a[..., :3].astype(np.int16) - b[..., :3].astype(np.int16)).mean())


@pytest.mark.parametrize("name", ["vp9", "h264", "av1"])
def test_each_codec_round_trips_the_screen_within_tolerance(name: str) -> None:
    src = PatternSource(322, 242, motion=False)  # odd-free but not a multiple of 16
    enc = create_encoder(name, 322, 242)
    frames, chunks = [], []
    for i, text in enumerate(["", "Hello", " world", ""]):
        src.type_text(text)
        if i == 3:
            src.scroll(2)
        frame = src.grab()
        out = enc.encode(frame.copy(), i == 0, i * 33_333)
        assert out.key is (i == 0), i
        frames.append(frame)
        chunks.append(VideoChunk(enc.codec_id, 322, 242, i, out.data))
    forced = enc.encode(frames[-1].copy(), True, 200_000)
    assert forced.key  # an asked keyframe is a real keyframe (seek point, join)
    enc.close()
    decoded = decode(name, chunks)
    assert len(decoded) == len(frames)
    for got, want in zip(decoded, frames, strict=True):
        assert mae(got, want) < TOLERANCE


@pytest.mark.parametrize("name", AUTO_CODECS)
def test_auto_codecs_show_every_flip_of_a_small_block(name: str) -> None:
    """Each codec ``auto`` may choose shows a 64×64 block flipping black/white on every
    frame (what bench.p56_live measures): a change the encoder skips would never be
    seen. SVT-AV1 fails this (its frames decode black), so it is not in AUTO_CODECS."""
    base = PatternSource(640, 360, motion=False).grab()
    enc = create_encoder(name, 640, 360)
    prev = None
    chunks = []
    for i in range(6):
        frame = base.copy()
        frame[:64, :64, :3] = 255 if i % 2 else 0
        dirty = None if prev is None else changed_rows(prev, frame)
        data = enc.encode(frame, i == 0, i * 33_333, dirty).data
        chunks.append(VideoChunk(VIDEO_VP9, 640, 360, i, data))
        prev = frame
    enc.close()
    shown = [int(f[32, 32, 0] > 128) for f in decode(name, chunks)]
    assert shown == [0, 1, 0, 1, 0, 1]
    assert "av1" not in AUTO_CODECS


def test_changed_rows_finds_the_changed_strips_merged() -> None:
    a = PatternSource(320, 300, motion=False).grab()
    b = a.copy()
    assert changed_rows(a, b) == []
    b[70, 5, 0] ^= 1  # strip 1
    b[130, 5, 0] ^= 1  # strip 2: merged with 1
    b[299, 0, 1] ^= 1  # the last, short strip
    assert changed_rows(a, b) == [(STRIP, 3 * STRIP), (4 * STRIP, 300)]


@pytest.mark.parametrize(("width", "height"), [(320, 240), (321, 301)])
def test_converting_only_the_changed_strips_gives_the_full_conversions_picture(
    width: int, height: int
) -> None:
    """The kept 4:2:0 picture with the dirty strips re-converted is bit-exact with a
    whole-frame conversion: the bitstreams of both encoders are identical."""
    src = PatternSource(width, height, motion=False)
    frames = [src.grab()]
    for text in ("ab", "cd"):
        src.type_text(text)
        frames.append(src.grab())
    frames.append(frames[-1].copy())
    frames[-1][height - 3 :, :40, :3] = 255  # the last (padded, short) strip
    partial = PyAVEncoder("vp9", width, height)
    whole = PyAVEncoder("vp9", width, height)
    prev = None
    for i, frame in enumerate(frames):
        dirty = None if prev is None else changed_rows(prev, frame)
        a = partial.encode(frame.copy(), i == 0, i * 33_333, dirty)
        if i:
            assert partial.converted_rows < height + (height & 1)  # really partial
        b = whole.encode(frame.copy(), i == 0, i * 33_333)
        assert a.data == b.data, f"frame {i} differs"
        prev = frame
    partial.close()
    whole.close()


def test_odd_sizes_are_padded_and_cropped() -> None:
    enc = create_encoder("vp9", 101, 77)
    frame = PatternSource(101, 77, motion=False).grab()
    out = enc.encode(frame.copy(), True, 0)
    (got,) = decode("vp9", [VideoChunk(VIDEO_VP9, 101, 77, 0, out.data)])
    assert got.shape == (77, 101, 4) and mae(got, frame) < TOLERANCE * 2


def test_unknown_codec_is_a_video_error() -> None:
    with pytest.raises(VideoError):
        create_encoder("theora", 64, 64)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_pipeline_keyframes_skips_still_frames_and_masks_before_encoding() -> None:
    src = PatternSource(320, 240, motion=False)
    clock = Clock()
    pipe = VideoPipeline(src, create_encoder, clock=clock)
    assert pipe.set_codec("vp9")
    pipe.set_masks([(0, 0, 160, 120)])
    first = pipe.next_update()
    assert isinstance(first, VideoUpdate) and first.key
    assert pipe.next_update() is None  # a still screen: nothing encoded
    src.type_text("abc")
    delta = pipe.next_update()
    assert isinstance(delta, VideoUpdate) and not delta.key
    assert len(bytes(delta)) < len(bytes(first)) / 4
    src.type_text("d")
    clock.t += VIDEO_KEYFRAME_INTERVAL_S  # recordings get a seek point every 30 s
    periodic = pipe.next_update()
    assert isinstance(periodic, VideoUpdate) and periodic.key
    refresh = pipe.next_update(full=True)  # join / refresh / epoch ask for a keyframe
    assert isinstance(refresh, VideoUpdate) and refresh.key
    decoded = decode("vp9", [u.chunk for u in (first, delta, periodic, refresh)])
    masked = decoded[-1][:120, :160]
    shown = src.grab()[:120, :160]
    assert mae(masked, shown) > 20  # the masked corner never reached the encoder
    from agent.pipeline.mask import mask_pattern

    assert mae(masked, mask_pattern(320, 240)[:120, :160]) < TOLERANCE
    # back to the tile path: a FULL screen update
    assert pipe.set_codec(None)
    tiles = pipe.next_update()
    assert isinstance(tiles, ScreenUpdate)
    pipe.close()


class Broken(VideoEncoder):
    name = "vp9"

    def encode(
        self, frame: Frame, key: bool, timestamp_us: int, dirty: Sequence[Rows] | None = None
    ) -> EncodedFrame:
        raise VideoError("boom")


def test_a_screen_changing_at_every_tick_gets_a_keyframe_every_max_chunks() -> None:
    """P8: a seek decodes forward from the last keyframe; however busy the screen, that
    is at most KEYFRAME_MAX_CHUNKS chunks, without waiting for the 30 s interval."""
    pipe = VideoPipeline(PatternSource(96, 64, motion=True), create_encoder)
    pipe.set_codec("vp9")
    keys = []
    for _ in range(2 * KEYFRAME_MAX_CHUNKS + 1):
        update = pipe.next_update()
        assert isinstance(update, VideoUpdate)
        keys.append(update.key)
    pipe.close()
    assert [i for i, k in enumerate(keys) if k] == [0, KEYFRAME_MAX_CHUNKS, 2 * KEYFRAME_MAX_CHUNKS]


def test_a_failing_encoder_falls_back_to_the_tile_path_for_good() -> None:
    pipe = VideoPipeline(PatternSource(64, 64), lambda n, w, h: Broken())
    pipe.set_codec("vp9")
    update = pipe.next_update()
    assert isinstance(update, ScreenUpdate) and pipe.codec is None
    assert not pipe.set_codec("vp9") and pipe.codec is None


def test_rank_prefers_vp9_takes_av1_when_clearly_smaller_h264_on_speed() -> None:
    def p(name: str, ms: float, size: int) -> CodecProbe:
        return CodecProbe(name, ms, ms, size)

    assert rank([p("vp9", 20, 100), p("h264", 10, 200), p("av1", 25, 95)]) == ["vp9", "av1", "h264"]
    assert rank([p("vp9", 20, 100), p("av1", 25, 80)])[0] == "av1"
    assert rank([p("vp9", 90, 100), p("h264", 10, 200), p("av1", 120, 80)]) == ["h264"]
    assert rank([p("vp9", 90, 100), p("h264", 80, 200)]) == []  # all too slow: tiles
    assert rank([p("vp9", 90, 100)], load=2.0) == ["vp9"]  # a busy machine now
    assert rank([CodecProbe("av1", 1, 1, 1, error="missing")]) == []


def test_rank_drops_a_codec_too_slow_for_a_small_change_live() -> None:
    """P5: a codec fast on the whole scene but slow on a few typed characters loses to
    one that is fast on both; the live budget scales with the machine's load."""
    vp9 = CodecProbe("vp9", 40, 40, 100, small_ms=30)
    h264 = CodecProbe("h264", 20, 20, 200, small_ms=5)
    assert rank([vp9, h264]) == ["h264"]
    assert rank([vp9, h264], load=3.0) == ["vp9", "h264"]
    assert rank([CodecProbe("vp9", 10, 10, 100, small_ms=13)]) == []


def test_negotiate_needs_every_viewer() -> None:
    assert negotiate(["vp9", "h264"], [("h264", "vp9"), ("vp9",)]) == "vp9"
    assert negotiate(["vp9", "h264"], [("h264",), ("h264", "av1")]) == "h264"
    assert negotiate(["vp9"], [("vp9",), None]) is None  # one viewer without WebCodecs
    assert negotiate(["vp9"], []) is None
    assert negotiate([], [("vp9",)]) is None


def test_video_choice_measures_once_and_only_when_offered() -> None:
    calls: list[int] = []

    def chooser() -> list[str]:
        calls.append(1)
        return ["vp9", "h264"]

    choice = VideoChoice(chooser)
    assert choice.codec_for(["v1"]) is None and calls == []
    choice.offer("v1", None)
    assert calls == []
    choice.offer("v1", ("h264",))
    choice.offer("v2", ("vp9", "h264"))
    assert choice.wait_measured(10)
    assert calls == [1]
    assert choice.codec_for(["v1", "v2"]) == "h264"
    assert choice.codec_for(["v2"]) == "vp9"
    assert choice.codec_for(["v2", "v3"]) is None  # v3 offered nothing


async def test_live_session_streams_vp9_to_a_viewer_that_offers_it(tmp_path: Path) -> None:
    """Real broker, real agent (pattern screen), a scripted viewer that decodes."""
    from tests.agent.conftest import start_agent, stop

    async with running_broker(tmp_path) as b:
        r = start_agent(b, tmp_path, video="vp9")
        try:
            await eventually(lambda: r.session.connected, what="the agent's connection")
            viewer = await _join_offering(r, ("vp9", "h264"))
            await viewer.wait_for(lambda: len(viewer.chunks) >= 3)
            frames = [f for f, _ in viewer.chunks]
            assert frames[0].key and not viewer.updates  # video from the first frame
            assert all(f.seq > 0 for f in frames)
            decoded = decode("vp9", [c for _, c in viewer.chunks[:3]])
            assert len(decoded) == 3
            # the pattern's motion band moves each frame: every chunk decodes to a
            # picture close to what the pattern draws (nothing lost, nothing reordered)
            assert decoded[0].shape == (240, 320, 4)
        finally:
            await stop(r)


async def _join_offering(r: Any, codecs: tuple[str, ...]) -> Any:
    from agent.testing import ScriptedViewer

    await r.broker.create_user("alice", "engineer", name="Alice", password="pw-alice-alice")
    token = await r.broker.login("alice", "pw-alice-alice")
    sid = r.session.session_id
    status, body, _ = await r.broker.request(
        "POST", f"/api/v1/sessions/{sid}/join", token=token,
        json={"as": "engineer", "permissions": ["view"]},
    )  # fmt: skip
    assert status == 200, body
    viewer = ScriptedViewer(
        r.broker.ws_url + "/ws/viewer", r.broker.ssl_context(), r.broker.base_url
    )
    viewer.video_codecs = codecs
    await viewer.connect(body["ws_token"])
    await viewer.start_keys()
    await eventually(lambda: r.observer.prompts, what="the consent prompt")
    r.answer(0, "view")
    return viewer
