"""Test and benchmark helpers for evidence: synthetic session logs and recordings.

* :func:`write_session_log` — a sealed session log as the broker writes it
  (``log.jsonl`` + ``checkpoints.jsonl`` under ``DATA_DIR/sessions/<id>/``);
* :func:`synthetic_recording` — a recording of real, end-to-end encrypted screen
  updates (JPEG tiles, a FULL frame every ``keyframe_every_s``) with the content keys
  wrapped for an audit recipient: what a one-hour session leaves on disk (P8 bench).
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.checkpoint import sign_checkpoint
from audit.jsonl import JsonlChainWriter
from audit.recording import DIR_AGENT, DIR_BROKER, FRAME_BINARY, FRAME_TEXT, RecordingWriter

__all__ = [
    "DEFAULT_EVENTS",
    "SyntheticRecording",
    "b64u",
    "solid_jpeg",
    "synthetic_recording",
    "write_session_log",
]

DEFAULT_EVENTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("session.requested", "client", {"ticket": "T-1"}),
    ("viewer.joined", "user:eng", {"viewer_id": "v1"}),
    ("consent.requested", "broker", {"viewer_id": "v1", "permissions": "view,control"}),
    ("session.started", "client", {"viewer_id": "v1"}),
    ("consent.granted", "client", {"viewer_id": "v1", "permissions": "control"}),
    ("chat.sent", "user:eng", {"length": 12}),
    ("input.applied", "client", {"keys": 3, "clicks": 1}),
    ("session.paused", "client", {}),
    ("session.resumed", "client", {}),
    ("kill.triggered", "client", {}),
    ("session.ended", "client", {"reason": "killed_by_client", "by": "client"}),
)


def b64u(data: bytes) -> str:
    """base64url without padding (SPEC §3)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def write_session_log(
    data_dir: Path,
    session_id: str,
    signing_key: ed25519.Ed25519PrivateKey,
    events: Sequence[tuple[str, str, dict[str, Any]]] = DEFAULT_EVENTS,
    *,
    start_ms: int | None = None,
    checkpoint_every: int = 4,
    final: bool = True,
) -> Path:
    """Write a session log with a checkpoint every ``checkpoint_every`` records and,
    with ``final``, one right after the last record. Returns the session folder."""
    folder = Path(data_dir) / "sessions" / session_id
    folder.mkdir(parents=True, exist_ok=True)
    if start_ms is None:  # now: the signer certificate must be valid at signing time
        start_ms = int(time.time() * 1000) - 60_000
    cps: list[bytes] = []
    with JsonlChainWriter(folder / "log.jsonl") as writer:
        for n, (event, actor, detail) in enumerate(events, start=1):
            at = start_ms + n * 1000
            writer.append_event(event, actor, detail, at)
            if n % checkpoint_every == 0 or (final and n == len(events)):
                cp = sign_checkpoint(signing_key, session_id, writer.head, at).to_dict()
                cps.append(json.dumps(cp, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    (folder / "checkpoints.jsonl").write_bytes(b"".join(cps))
    return folder


def solid_jpeg(width: int, height: int, rgb: tuple[int, int, int], quality: int = 85) -> bytes:
    """A JPEG of one colour with a darker diagonal band (so frames differ visibly)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), rgb)
    draw = ImageDraw.Draw(img)
    dark = tuple(max(0, c - 80) for c in rgb)
    draw.rectangle((width // 4, height // 4, width // 2, height // 2), fill=dark)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def office_jpeg(width: int, height: int, seed: int, quality: int = 80) -> bytes:
    """A screen-like JPEG: a coloured title bar and lines of "text" (random dark
    strokes on white), which compresses like a real office screen, not like a flat fill."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), (250, 250, 252))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, max(8, height // 20)), fill=_colour(seed))
    y = height // 20 + 10
    while y < height - 12:
        x = 12
        while x < width - 40:
            w = rng.randint(8, 60)
            draw.rectangle((x, y, x + w, y + 9), fill=(rng.randint(20, 90),) * 3)
            x += w + rng.randint(5, 12)
        y += 18
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class SyntheticRecording:
    """What :func:`synthetic_recording` wrote."""

    folder: Path
    session_id: str
    frames: int
    duration_ms: int
    content_keys: dict[int, bytes]
    colours: list[tuple[int, tuple[int, int, int]]]  # (t_ms, colour of the FULL frame)


def _colour(i: int) -> tuple[int, int, int]:
    return ((i * 53) % 200 + 40, (i * 97) % 200 + 40, (i * 151) % 200 + 40)


def synthetic_recording(
    folder: Path,
    session_id: str,
    recipient_public: bytes,
    *,
    duration_s: int = 60,
    fps: int = 5,
    keyframe_every_s: int = 30,
    width: int = 640,
    height: int = 360,
    tile: int = 64,
    started_ms: int = 1_700_000_000_000,
    epoch_every_s: int = 0,
    office: bool = False,
) -> SyntheticRecording:
    """Write a recording of ``duration_s`` seconds at ``fps`` updates per second.

    Every update is sealed with the epoch's content key (protocol.e2e), exactly as the
    agent sends it; FULL frames (a whole-screen colour, changing each keyframe) come
    every ``keyframe_every_s``; other updates repaint one tile (``office``: screen-like
    text content instead of flat colours, for benchmarks). ``epoch_every_s`` > 0
    starts a new epoch (new key, new ``key.audit``) that often.
    """
    from protocol.e2e import FrameSealer, wrap_for_audit
    from protocol.media import EncodedImage, Rect, ScreenUpdate

    writer = RecordingWriter(folder, session_id, started_ms)
    keys: dict[int, bytes] = {}
    colours: list[tuple[int, tuple[int, int, int]]] = []
    if office:
        tiles = [office_jpeg(tile, tile, 100 + i) for i in range(16)]
    else:
        tiles = [solid_jpeg(tile, tile, _colour(i + 7)) for i in range(8)]
    fulls: dict[int, bytes] = {}
    epoch = 1
    keys[1] = os.urandom(32)
    sealer = FrameSealer(session_id, 1, keys[1])

    def audit_key(e: int, now: int) -> None:
        wrap = wrap_for_audit(recipient_public, session_id, e, keys[e])
        msg = {
            "type": "key.audit",
            "epoch": e,
            "ephemeral_public": b64u(wrap.ephemeral_public),
            "wrapped_key": b64u(wrap.wrapped_key),
            "recipient_fingerprint": secrets.token_hex(32),
        }
        writer.add_audit_key(msg)
        writer.append(DIR_AGENT, FRAME_TEXT, json.dumps(msg).encode(), now)

    audit_key(1, started_ms)
    total = duration_s * fps
    step = 1000 // fps
    cols, rows = max(1, width // tile), max(1, height // tile)
    n = 0
    for i in range(total):
        t = i * step
        now = started_ms + t
        if epoch_every_s and t and t % (epoch_every_s * 1000) == 0:
            epoch += 1
            keys[epoch] = os.urandom(32)
            sealer.rekey(epoch, keys[epoch])
            audit_key(epoch, now)
        if t % (keyframe_every_s * 1000) == 0:
            k = t // (keyframe_every_s * 1000)
            colour = _colour(k % 8)  # eight distinct keyframes, encoded once each
            if k % 8 not in fulls:
                fulls[k % 8] = (
                    office_jpeg(width, height, k % 8)
                    if office
                    else solid_jpeg(width, height, colour)
                )
            image = fulls[k % 8]
            colours.append((t, colour))
            update = ScreenUpdate(
                width, height, (EncodedImage(1, image),), (Rect(0, 0, 0, 0, 0, width, height),)
            )
            flags = 1
        else:
            img = tiles[i % len(tiles)]
            x, y = (i % cols) * tile, ((i // cols) % rows) * tile
            update = ScreenUpdate(
                width, height, (EncodedImage(1, img),), (Rect(0, 0, 0, x, y, tile, tile),)
            )
            flags = 0
        frame = sealer.seal(flags, bytes(update))
        writer.append(DIR_AGENT, FRAME_BINARY, bytes(frame), now)
        n += 1
        if i % fps == 0:
            writer.flush_due(now)
    writer.append(
        DIR_BROKER,
        FRAME_TEXT,
        json.dumps({"type": "session.ended", "reason": "ended_by_engineer", "by": "eng"}).encode(),
        started_ms + total * step,
    )
    writer.close()
    return SyntheticRecording(Path(folder), session_id, n, total * step, keys, colours)
