"""A synthetic recording of the screen as video (SPEC §4.4), for P8 with the video path.

One GOP of real VP9 (agent.video: a keyframe, then ``keyframe_every_s`` × ``fps``
ticks of the test pattern being typed into at 1920×1080 — a word every 3rd tick, a
scroll every 5 s; a tick where nothing changed sends nothing, as in the agent, unless
``skip_unchanged`` is False, the first measurement's every-tick stream) is encoded once and
repeated for the whole duration, each copy sealed afresh (new seq, the epoch's key)
exactly as the agent sends it. Every copy starts with its keyframe, so a seek decodes
one real GOP from the keyframe before the target: the worst case of a real recording
whose keyframes come every 30 s (broker.recording.KEYFRAME_INTERVAL_MS).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from agent.capture.pattern import PatternSource
from agent.video import create_encoder
from audit.recording import DIR_AGENT, DIR_BROKER, FRAME_BINARY, FRAME_TEXT, RecordingWriter
from audit.testing import SyntheticRecording, b64u
from protocol.e2e import FrameSealer, wrap_for_audit
from protocol.media import VideoChunk


def one_gop(
    codec: str, frames: int, width: int, height: int, fps: int, skip_unchanged: bool = True
) -> list[tuple[bool, bytes] | None]:
    """``frames`` ticks of typing on the pattern: (KEY flag, VideoChunk plaintext) each,
    or None on a tick where nothing changed when ``skip_unchanged`` (the agent sends
    nothing then: VideoPipeline skips a frame equal to the last one)."""
    from agent.video.pipeline import KEYFRAME_MAX_CHUNKS, changed_rows

    src = PatternSource(width, height, motion=False)
    enc = create_encoder(codec, width, height)
    out: list[tuple[bool, bytes] | None] = []
    words = ["the", "printer", "shows", "offline", "although", "the", "spooler", "runs"]
    prev = None
    since_key = 0
    for i in range(frames):
        if i % 3 == 0:
            src.type_text(words[i // 3 % len(words)] + " ")
        if i and i % (fps * 5) == 0:
            src.scroll(2)
        ts = i * 1_000_000 // fps
        frame = src.grab()
        dirty = None if prev is None else changed_rows(prev, frame)
        if skip_unchanged and dirty == []:
            out.append(None)
            continue
        # The agent's rule (VideoPipeline): a keyframe also after KEYFRAME_MAX_CHUNKS.
        e = enc.encode(frame, i == 0 or since_key >= KEYFRAME_MAX_CHUNKS, ts, dirty)
        since_key = 1 if e.key else since_key + 1
        prev = frame
        out.append((e.key, bytes(VideoChunk(enc.codec_id, width, height, ts, e.data))))
    enc.close()
    return out


def video_recording(
    folder: Path,
    session_id: str,
    recipient_public: bytes,
    *,
    duration_s: int,
    fps: int = 10,
    keyframe_every_s: int = 30,
    width: int = 1920,
    height: int = 1080,
    started_ms: int,
    epoch_every_s: int = 0,
    codec: str = "vp9",
    skip_unchanged: bool = True,
) -> SyntheticRecording:
    """Write a recording of ``duration_s`` s of video chunks (see the module docstring)."""
    gop = one_gop(codec, keyframe_every_s * fps, width, height, fps, skip_unchanged)
    writer = RecordingWriter(folder, session_id, started_ms)
    keys = {1: os.urandom(32)}
    sealer = FrameSealer(session_id, 1, keys[1])

    def audit_key(e: int, now: int) -> None:
        wrap = wrap_for_audit(recipient_public, session_id, e, keys[e])
        msg = {"type": "key.audit", "epoch": e, "ephemeral_public": b64u(wrap.ephemeral_public),
               "wrapped_key": b64u(wrap.wrapped_key), "recipient_fingerprint": secrets.token_hex(32)}  # fmt: skip
        writer.add_audit_key(msg)
        writer.append(DIR_AGENT, FRAME_TEXT, json.dumps(msg).encode(), now)

    audit_key(1, started_ms)
    step = 1000 // fps
    total = duration_s * fps
    epoch = 1
    written = 0
    for i in range(total):
        t = i * step
        now = started_ms + t
        if epoch_every_s and t and t % (epoch_every_s * 1000) == 0:
            epoch += 1
            keys[epoch] = os.urandom(32)
            sealer.rekey(epoch, keys[epoch])
            audit_key(epoch, now)
        j = i % len(gop)
        # A new epoch starts with a keyframe (SPEC §4.4): the GOP restarts there.
        entry = gop[j]
        if entry is not None:
            key, chunk = entry
            writer.append(DIR_AGENT, FRAME_BINARY, bytes(sealer.seal_video(key, chunk)), now)
            written += 1
        if i % fps == 0:
            writer.flush_due(now)
    end = {"type": "session.ended", "reason": "ended_by_engineer", "by": "eng"}
    writer.append(DIR_BROKER, FRAME_TEXT, json.dumps(end).encode(), started_ms + total * step)
    writer.close()
    return SyntheticRecording(Path(folder), session_id, written, total * step, keys, [])
