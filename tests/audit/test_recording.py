"""Recording format: write, read back, seek index, torn tails, no input recorded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from audit.recording import (
    DIR_AGENT,
    DIR_BROKER,
    FLUSH_INTERVAL_MS,
    FRAME_BINARY,
    FRAME_TEXT,
    INDEX_FILE,
    INDEX_FULL,
    RECORDING_FILE,
    Recording,
    RecordingError,
    RecordingWriter,
    parse_index,
    read_audit_keys,
)
from audit.testing import synthetic_recording
from protocol.e2e import FrameOpener, unwrap_for_audit
from protocol.media import ScreenUpdate, ScreenUpdateFrame, parse_binary

T0 = 1_700_000_000_000


def _update(flags: int, seq: int, body: bytes = b"x" * 20) -> bytes:
    return bytes([1, flags]) + (1).to_bytes(4, "big") + seq.to_bytes(8, "big") + body


def test_frames_round_trip_with_time_direction_and_type(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path, "s1", T0) as w:
        assert w.append(DIR_AGENT, FRAME_BINARY, _update(1, 1), T0 + 5) == 1
        assert w.append(DIR_BROKER, FRAME_TEXT, b'{"type":"pause"}', T0 + 1500) == 2
        assert w.append(DIR_AGENT, FRAME_BINARY, _update(0, 2), T0 + 2600) == 3
    rec = Recording(tmp_path)
    assert rec.session_id == "s1" and rec.started_ms == T0
    assert [(f.seq, f.t_ms, f.direction, f.frame_type) for f in rec.frames] == [
        (1, 5, DIR_AGENT, FRAME_BINARY),
        (2, 1500, DIR_BROKER, FRAME_TEXT),
        (3, 2600, DIR_AGENT, FRAME_BINARY),
    ]
    assert rec.frames[1].text() == '{"type":"pause"}'
    assert rec.frames[0].is_full_update and not rec.frames[2].is_full_update
    assert rec.torn_bytes == 0 and rec.duration_ms == 2600
    assert oct((tmp_path / RECORDING_FILE).stat().st_mode & 0o777) == "0o600"


def test_input_batches_are_never_recorded(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path, "s1", T0) as w, pytest.raises(ValueError, match="input"):
        w.append(1, FRAME_BINARY, bytes([2]) + b"\0" * 30, T0)
    assert Recording(tmp_path).frames == []


def test_index_on_disk_matches_the_frames_and_marks_full_updates(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path, "s1", T0) as w:
        for i in range(1, 41):
            w.append(DIR_AGENT, FRAME_BINARY, _update(1 if i % 10 == 1 else 0, i), T0 + i * 250)
    rec = Recording(tmp_path)
    on_disk = parse_index((tmp_path / INDEX_FILE).read_bytes())
    assert on_disk == rec.index
    fulls = [e for e in on_disk if e.kind == INDEX_FULL]
    assert [e.seq for e in fulls] == [1, 11, 21, 31]
    # seek to 6.1 s: start at the FULL frame of seq 21 (t 5250), end after 6.1 s
    res = rec.seek(6100)
    assert res.keyframe_seq == 21
    frames = rec.frames_between(res.start, res.end)
    assert frames[0].seq == 21
    assert [f.seq for f in frames if f.t_ms <= 6100] == list(range(21, 25))
    assert all(f.seq >= 21 for f in frames)


def test_torn_tail_is_ignored_by_the_reader_and_cut_by_a_reopened_writer(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path, "s1", T0) as w:
        for i in range(1, 6):
            w.append(DIR_AGENT, FRAME_BINARY, _update(0, i), T0 + i * 100)
    path = tmp_path / RECORDING_FILE
    good = path.stat().st_size
    with path.open("ab") as f:
        f.write(b"\x00\x00\x01\x00partial")  # a record cut off mid-write
    rec = Recording(tmp_path)
    assert len(rec.frames) == 5 and rec.torn_bytes == 11 and rec.valid_length == good
    with RecordingWriter(tmp_path, "ignored", 0) as w:
        assert w.repaired_bytes == 11
        assert w.append(DIR_AGENT, FRAME_BINARY, _update(0, 6), T0 + 700) == 6
    rec = Recording(tmp_path)
    assert [f.seq for f in rec.frames] == [1, 2, 3, 4, 5, 6] and rec.torn_bytes == 0
    assert rec.session_id == "s1" and rec.frames[-1].t_ms == 700


def test_a_corrupted_record_stops_the_reader_there(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path, "s1", T0) as w:
        for i in range(1, 4):
            w.append(DIR_AGENT, FRAME_BINARY, _update(0, i), T0 + i)
    path = tmp_path / RECORDING_FILE
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # inside the last record's payload: its CRC no longer matches
    path.write_bytes(bytes(data))
    assert [f.seq for f in Recording(tmp_path).frames] == [1, 2]


def test_not_a_recording_is_an_error(tmp_path: Path) -> None:
    (tmp_path / RECORDING_FILE).write_bytes(b"hello world, not a recording")
    with pytest.raises(RecordingError, match="magic"):
        Recording(tmp_path)


def test_writer_buffers_until_the_flush_interval_has_passed(tmp_path: Path) -> None:
    w = RecordingWriter(tmp_path, "s1", T0)
    w.append(DIR_AGENT, FRAME_BINARY, _update(1, 1), T0)
    assert Recording(tmp_path).frames == []  # buffered, not written yet
    assert not w.flush_due(T0 + FLUSH_INTERVAL_MS - 1)
    assert w.flush_due(T0 + FLUSH_INTERVAL_MS)
    assert [f.seq for f in Recording(tmp_path).frames] == [1]  # no close needed
    w.close()


def test_synthetic_recording_decrypts_with_the_audit_key(tmp_path: Path) -> None:
    recipient = x25519.X25519PrivateKey.generate()
    public = recipient.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    info = synthetic_recording(
        tmp_path, "sess-1", public, duration_s=4, fps=5, keyframe_every_s=2, epoch_every_s=2
    )
    keys = read_audit_keys(tmp_path)
    assert [k["epoch"] for k in keys] == [1, 2]
    opener = FrameOpener("sess-1")
    for k in keys:
        import base64

        def d(s: str) -> bytes:
            return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

        content = unwrap_for_audit(
            recipient, "sess-1", k["epoch"], d(k["ephemeral_public"]), d(k["wrapped_key"])
        )
        assert content == info.content_keys[k["epoch"]]
        opener.add_key(k["epoch"], content)
    rec = Recording(tmp_path)
    updates = 0
    for f in rec.frames:
        if f.frame_type == FRAME_BINARY:
            frame = parse_binary(f.payload)
            assert isinstance(frame, ScreenUpdateFrame)
            ScreenUpdate.parse(opener.open(frame))
            updates += 1
        else:
            assert json.loads(f.text())["type"] in {"key.audit", "session.ended"}
    assert updates == info.frames == 20
    assert len([e for e in rec.index if e.kind == INDEX_FULL]) == 2
    assert os.path.getsize(tmp_path / INDEX_FILE) % 25 == 0


def _open_fds_on(path: Path) -> int:
    """How many of this process's descriptors point at ``path``."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            continue
    return count


def test_a_kept_open_writer_writes_through_with_one_descriptor_and_releases_it(
    tmp_path: Path,
) -> None:
    # The broker's recorder (issue 16): one write per relayed frame, no open/close.
    w = RecordingWriter(tmp_path / "a", "s1", T0, keep_open=True)
    for seq in (1, 2, 3):
        w.append(DIR_AGENT, FRAME_BINARY, _update(1 if seq == 1 else 0, seq), T0 + seq)
        w.flush()
        assert [f.seq for f in Recording(tmp_path / "a").frames][-1] == seq  # through at once
    assert _open_fds_on(w.path) == 1
    w.close()
    assert _open_fds_on(w.path) == 0
    assert [f.seq for f in Recording(tmp_path / "a").frames] == [1, 2, 3]
    # A writer given up after a write failed keeps nothing open either.
    w2 = RecordingWriter(tmp_path / "b", "s2", T0, keep_open=True)
    w2.append(DIR_AGENT, FRAME_BINARY, _update(1, 1), T0)
    w2.flush()
    w2.append(DIR_AGENT, FRAME_BINARY, _update(0, 2), T0 + 1)
    w2.abandon()
    assert _open_fds_on(w2.path) == 0
    assert [f.seq for f in Recording(tmp_path / "b").frames] == [1]  # the buffered one: not written
    with pytest.raises(RecordingError):
        w2.append(DIR_AGENT, FRAME_BINARY, _update(0, 3), T0 + 2)
