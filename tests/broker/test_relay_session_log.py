"""broker.session_log: the on-disk, hash-chained, signed session log."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.checkpoint import Checkpoint, verify_checkpoint
from audit.jsonl import load_records
from broker.relay import RelayCore, SessionInfo
from broker.relay.actions import LogFailure
from broker.session_log import SessionLog, session_dir
from protocol import messages as m
from protocol.errors import ProtocolError
from protocol.state import SessionState


def test_records_chain_on_disk_and_checkpoints_verify(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    log = SessionLog(tmp_path, "s1", key)
    first = log.append("session.requested", "client", {"client": "Alice"}, 1_000)
    second = log.append("viewer.joined", "engineer:u1", {"viewer_id": "v1"}, 2_000)
    assert second["prev"] == first["hash"]
    cp = log.checkpoint(3_000)
    assert cp is not None and cp["seq"] == 2 and cp["hash"] == second["hash"]
    verify_checkpoint(Checkpoint.from_dict(cp), key.public_key(), session_id="s1")
    assert log.checkpoint(4_000) is None  # nothing new
    log.close()
    on_disk = load_records(tmp_path / "sessions" / "s1" / "log.jsonl")
    assert [r.hash for r in on_disk] == [first["hash"], second["hash"]]
    assert (tmp_path / "sessions" / "s1" / "checkpoints.jsonl").read_text().count("\n") == 1
    # reopening continues the chain
    again = SessionLog(tmp_path, "s1", key)
    third = again.append("chat.sent", "client", {"text": "hi"}, 5_000)
    assert third["seq"] == 3 and third["prev"] == second["hash"]
    again.close()


def test_unrecordable_detail_is_refused_without_writing(tmp_path: Path) -> None:
    log = SessionLog(tmp_path, "s1", ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(ProtocolError) as err:
        log.append("input.applied", "client", {"ratio": 0.5}, 1)
    assert err.value.code == "invalid_field"
    assert log.records == []
    log.close()


def test_a_write_failure_fails_closed_and_aborts_the_session(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    logs: list[SessionLog] = []

    def open_log(info: SessionInfo) -> SessionLog:
        logs.append(SessionLog(tmp_path, info.session_id, key))
        return logs[-1]

    core = RelayCore(open_log)
    session = core.open(SessionInfo("s2", "t", "title"))
    core.run(session, lambda: session.attach_agent(0), 0)
    logs[0].close()  # the file is gone from under the relay
    with pytest.raises(LogFailure):
        logs[0].append("chat.sent", "client", {"text": "x"}, 1)
    mask = m.MaskUpdate(regions=1, windows=0)
    core.run(session, lambda: session.agent_control(mask, 2), 2)
    assert session.state is SessionState.ENDED
    assert core.get("s2") is None


@pytest.mark.parametrize("bad", ["..", "../x", "a/b", "", ".hidden"])
def test_session_ids_cannot_escape_the_data_dir(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        session_dir(tmp_path, bad)


def test_a_sealed_log_cannot_be_continued(tmp_path: Path) -> None:
    # G5 across restarts: a relay that lost its memory must not resume an ended session.
    key = ed25519.Ed25519PrivateKey.generate()
    core = RelayCore(lambda info: SessionLog(tmp_path, info.session_id, key))
    info = SessionInfo("s3", "t", "title")
    session = core.open(info)
    core.run(session, lambda: session.attach_agent(0), 0)
    core.run(session, lambda: session.agent_control(m.Kill(), 1), 1)
    core.run(session, lambda: session.detach_agent(2), 2)
    fresh = RelayCore(lambda info: SessionLog(tmp_path, info.session_id, key))
    with pytest.raises(ProtocolError) as err:
        fresh.open(info)
    assert err.value.code == "session_ended"
    records = load_records(session_dir(tmp_path, "s3") / "log.jsonl")
    assert records[-1].event == "session.ended"


def test_one_writer_at_a_time_and_the_next_after_it_dies(tmp_path: Path) -> None:
    """Logs on storage that several nodes share: a second writer is refused while the
    first holds the log, even from another process; a writer that dies frees it."""
    import subprocess
    import sys

    key = ed25519.Ed25519PrivateKey.generate()
    first = SessionLog(tmp_path, "s1", key)
    first.append("session.requested", "client", {}, 1_000)
    with pytest.raises(LogFailure, match="another broker process"):
        SessionLog(tmp_path, "s1", key)
    path = tmp_path / "sessions" / "s1" / "log.jsonl"
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n"
        "    sys.exit(3)\n"
    )
    assert subprocess.run([sys.executable, "-c", probe, str(path)]).returncode == 3
    first.close()
    assert subprocess.run([sys.executable, "-c", probe, str(path)]).returncode == 0
    holder = subprocess.Popen(  # another process holds it, then is killed
        [sys.executable, "-c", probe + "print('held', flush=True)\nos.read(0, 1)\n", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(LogFailure):
        SessionLog(tmp_path, "s1", key)
    holder.kill()
    holder.wait()
    again = SessionLog(tmp_path, "s1", key)
    assert again.append("session.reconnected", "client", {}, 2_000)["seq"] == 2
    again.close()
