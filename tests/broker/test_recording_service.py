"""The recorder service: what it keeps, when it writes, what it refuses."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.bundle import review_log_id
from audit.checkpoint import Checkpoint, verify_checkpoint
from audit.recording import (
    DIR_AGENT,
    DIR_VIEWER,
    FLUSH_INTERVAL_MS,
    FRAME_BINARY,
    FRAME_TEXT,
    RECORDING_FILE,
    Recording,
    file_sha256,
)
from broker.recording import KEYFRAME_INTERVAL_MS, RecordingService

T0 = 1_700_000_000_000


def _update(flags: int, seq: int) -> bytes:
    return bytes([1, flags]) + (1).to_bytes(4, "big") + seq.to_bytes(8, "big") + b"c" * 16


def _service(tmp_path: Path) -> tuple[RecordingService, ed25519.Ed25519PrivateKey]:
    key = ed25519.Ed25519PrivateKey.generate()
    return RecordingService(tmp_path, key, now_ms=lambda: T0), key


def test_records_updates_and_control_but_never_input_or_acks(tmp_path: Path) -> None:
    svc, _ = _service(tmp_path)
    svc.record("s1", "agent", _update(1, 1), T0)
    svc.record("s1", "viewer", bytes([2]) + b"\0" * 40, T0 + 10)  # input batch
    svc.record("s1", "viewer", bytes([3]) + (1).to_bytes(8, "big"), T0 + 20)  # ack
    svc.record("s1", "viewer", '{"type":"chat","text":"hi"}', T0 + 30)
    svc.record("s1", "agent", _update(0, 2), T0 + 40)
    svc.finish("s1")
    rec = Recording(tmp_path / "sessions" / "s1")
    assert [(f.direction, f.frame_type) for f in rec.frames] == [
        (DIR_AGENT, FRAME_BINARY),
        (DIR_VIEWER, FRAME_TEXT),
        (DIR_AGENT, FRAME_BINARY),
    ]
    assert [f.t_ms for f in rec.frames] == [0, 30, 40]


def test_key_audit_messages_are_kept_beside_the_recording(tmp_path: Path) -> None:
    svc, _ = _service(tmp_path)
    msg = {"type": "key.audit", "epoch": 1, "ephemeral_public": "A" * 43, "wrapped_key": "B" * 64}
    svc.record("s1", "agent", json.dumps(msg), T0)
    svc.finish("s1")
    summary = svc.index_summary("s1")
    assert summary["audit_keys"] == [msg] and summary["frames"] == 1


def test_frames_are_written_through_and_idle_recordings_closed(tmp_path: Path) -> None:
    # Written before the relay forwards the frame (G10 fail closed: a full disk is
    # found before the update leaves), not FLUSH_INTERVAL_MS later.
    svc, _ = _service(tmp_path)
    folder = tmp_path / "sessions" / "s1"
    assert svc.record("s1", "agent", _update(1, 1), T0) is True
    assert len(Recording(folder).frames) == 1
    svc.tick(T0 + FLUSH_INTERVAL_MS)
    assert len(Recording(folder).frames) == 1
    svc.tick(T0 + 31_000)  # idle: closed, and reopened by the next frame
    svc.record("s1", "agent", _update(0, 2), T0 + 32_000)
    svc.finish("s1")
    assert [f.seq for f in Recording(folder).frames] == [1, 2]


def test_wants_a_keyframe_every_interval(tmp_path: Path) -> None:
    svc, _ = _service(tmp_path)
    assert not svc.wants_keyframe("s1", T0)
    svc.record("s1", "agent", _update(0, 1), T0)
    assert svc.wants_keyframe("s1", T0)  # no FULL update yet
    svc.record("s1", "agent", _update(1, 2), T0 + 10)
    assert not svc.wants_keyframe("s1", T0 + 10 + KEYFRAME_INTERVAL_MS - 1)
    assert svc.wants_keyframe("s1", T0 + 10 + KEYFRAME_INTERVAL_MS)


def test_a_recording_that_cannot_be_written_says_so_and_resumes(tmp_path: Path) -> None:
    svc, _ = _service(tmp_path)
    (tmp_path / "sessions").mkdir()
    (tmp_path / "sessions" / "s1").write_text("a file where the folder should be")
    # does not raise into the relay, but says "not recorded": the relay must not relay it
    assert svc.record("s1", "agent", _update(1, 1), T0) is False
    assert svc.record("s1", "agent", _update(0, 2), T0 + 1) is False
    assert svc.is_paused("s1") and not svc.has_recording("s1")
    assert svc.tick(T0 + 500) == []  # still unwritable
    (tmp_path / "sessions" / "s1").unlink()
    changes: list[tuple[str, bool]] = []
    svc.on_change = lambda sid, ok: changes.append((sid, ok))
    assert svc.tick(T0 + 1000) == ["s1"] and changes == [("s1", True)]
    assert svc.record("s1", "agent", _update(1, 3), T0 + 1001) is True
    svc.finish("s1")
    seal = svc.review_records("s1")[-1]
    assert seal["event"] == "recording.sealed" and seal["detail"]["gaps"] == [[T0, T0 + 1000]]


def test_review_events_are_chained_and_signed(tmp_path: Path) -> None:
    svc, key = _service(tmp_path)
    r1 = svc.review_event("s1", "replay.viewed", "user:u1", {"user": "u1"}, T0)
    r2 = svc.review_event("s1", "replay.viewed", "user:u2", {"user": "u2"}, T0 + 5)
    assert (r1["seq"], r2["seq"], r2["prev"]) == (1, 2, r1["hash"])
    lines = (tmp_path / "sessions" / "s1" / "review-checkpoints.jsonl").read_text().splitlines()
    cps = [Checkpoint.from_dict(json.loads(x)) for x in lines]
    assert [c.seq for c in cps] == [1, 2] and cps[-1].hash == r2["hash"]
    for cp in cps:
        verify_checkpoint(cp, key.public_key(), session_id=review_log_id("s1"))


def test_unsafe_session_ids_are_refused(tmp_path: Path) -> None:
    svc, _ = _service(tmp_path)
    svc.record("../evil", "agent", _update(1, 1), T0)
    assert not (tmp_path / "evil").exists()
    assert not any(tmp_path.rglob("recording.cprec"))


def test_a_closed_recording_is_sealed_and_the_seal_catches_edits(tmp_path: Path) -> None:
    from audit.bundle import export_bundle, verify_bundle
    from audit.testing import write_session_log
    from certs.bootstrap import ensure_broker_pki
    from certs.verify import verify_checkpoint_signer

    pki = ensure_broker_pki(tmp_path, ["localhost"], ["127.0.0.1"], b"pw")
    now = int(time.time() * 1000)
    svc = RecordingService(tmp_path, pki.signing_key, now_ms=lambda: now)
    write_session_log(tmp_path, "s1", pki.signing_key)
    for i in range(1, 6):
        svc.record("s1", "agent", _update(1 if i == 1 else 0, i), now + i)
    svc.finish("s1")
    (seal,) = svc.review_records("s1")
    assert seal["event"] == "recording.sealed" and seal["detail"]["frames"] == 5
    folder = tmp_path / "sessions" / "s1"
    assert seal["detail"]["sha256"] == file_sha256(folder)

    bundle = export_bundle(tmp_path, "s1", tmp_path / "b.zip")
    report = verify_bundle(bundle, recording=folder, signer_check=verify_checkpoint_signer)
    assert report.ok and report.recording_checked, str(report)

    data = bytearray((folder / RECORDING_FILE).read_bytes())
    data[-30] ^= 1  # one bit of one frame
    (folder / RECORDING_FILE).write_bytes(bytes(data))
    assert [
        f.reason
        for f in verify_bundle(
            bundle, recording=folder, signer_check=verify_checkpoint_signer
        ).findings
    ] == ["recording_mismatch"]
    data[-30] ^= 1
    (folder / RECORDING_FILE).write_bytes(bytes(data) + b"more")
    assert [
        f.reason
        for f in verify_bundle(
            bundle, recording=folder, signer_check=verify_checkpoint_signer
        ).findings
    ] == ["unsealed"]


def test_review_events_from_two_nodes_keep_one_chain(tmp_path: Path) -> None:
    """The review log sits on storage all nodes share and any node may serve a replay:
    two processes appending at the same time still make one unbroken chain."""
    import subprocess
    import sys

    from audit.jsonl import load_records

    svc, _ = _service(tmp_path)
    svc.review_event("s1", "replay.viewed", "user:u0", {"user": "u0"}, T0)
    other = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from cryptography.hazmat.primitives.asymmetric import ed25519\n"
        "from broker.recording import RecordingService\n"
        "svc = RecordingService(Path(sys.argv[1]), ed25519.Ed25519PrivateKey.generate(),"
        " now_ms=lambda: 1)\n"
        "print('ready', flush=True); sys.stdin.readline()\n"
        "for i in range(N):\n"
        "    svc.review_event('s1', 'replay.viewed', 'user:b', {'user': f'b{i}'}, 1)\n"
    ).replace("N", "40")
    proc = subprocess.Popen([sys.executable, "-c", other, str(tmp_path)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={**__import__("os").environ, "PYTHONPATH": str(Path.cwd())})  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()  # both append at once from here
    for i in range(40):
        svc.review_event("s1", "replay.viewed", "user:a", {"user": f"a{i}"}, T0 + i)
    assert proc.wait(60) == 0
    records = load_records(tmp_path / "sessions" / "s1" / "review.jsonl")
    assert len(records) == 81
    assert [r.seq for r in records] == list(range(1, 82))
    assert all(r.prev == p.hash for p, r in __import__("itertools").pairwise(records))
