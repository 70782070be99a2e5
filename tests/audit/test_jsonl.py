"""JSONL session logs: durable appends, reopen-and-continue, torn and corrupt files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from audit.chain import AuditChain, verify_chain
from audit.errors import ChainError, LogFileError, TornTailError
from audit.jsonl import JsonlChainWriter, load_records, read_jsonl


def fill(writer: JsonlChainWriter, n: int) -> None:
    for i in range(n):
        writer.append_event("chat.sent", "broker", {"text": f"m{i}"}, 1_000 + i)


def test_write_then_read(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "s1.jsonl"
    with JsonlChainWriter(path) as writer:
        fill(writer, 3)
        head = writer.head
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 4
    assert json.loads(lines[0])["seq"] == 1
    records = load_records(path)
    assert [r.seq for r in records] == [1, 2, 3]
    assert verify_chain(records).head == head
    assert lines[1].decode() == records[1].to_json()  # one canonical record per line


def test_reopen_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with JsonlChainWriter(path) as writer:
        fill(writer, 2)
    with JsonlChainWriter(path) as writer:
        assert writer.head.seq == 2
        record = writer.append_event("session.ended", "broker", {}, 5_000)
        assert record.seq == 3 and record.prev == writer.records[1].hash
    assert verify_chain(load_records(path)).ok


def test_append_external_records(tmp_path: Path) -> None:
    chain = AuditChain()
    with JsonlChainWriter(tmp_path / "c.jsonl") as writer:
        for i in range(3):
            writer.append(chain.append("chat.sent", "client", {"n": i}, i))
        with pytest.raises(ChainError):
            writer.append(chain.records[0])  # not the next one
        other = AuditChain()
        with pytest.raises(ChainError):
            writer.append(other.append("chat.sent", "client", {}, 9))
        assert writer.head == chain.head


def test_torn_last_line_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with JsonlChainWriter(path) as writer:
        fill(writer, 3)
    whole = path.read_bytes()
    path.write_bytes(whole[:-25])  # crash in the middle of writing record 3
    contents = read_jsonl(path)
    assert len(contents.records) == 2
    assert contents.torn_bytes == len(whole.split(b"\n")[2]) - 24
    with pytest.raises(TornTailError) as info:
        load_records(path)
    assert info.value.line == 3
    with pytest.raises(TornTailError):
        JsonlChainWriter(path)
    assert path.read_bytes() == whole[:-25]  # refusing changed nothing


def test_torn_line_without_only_the_newline(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with JsonlChainWriter(path) as writer:
        fill(writer, 2)
    path.write_bytes(path.read_bytes()[:-1])  # a complete record, but never acknowledged
    with pytest.raises(TornTailError):
        load_records(path)


def test_torn_tail_repair_then_continue(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with JsonlChainWriter(path) as writer:
        fill(writer, 3)
    path.write_bytes(path.read_bytes()[:-10])
    with JsonlChainWriter(path, repair_torn_tail=True) as writer:
        assert writer.repaired_bytes > 0
        assert writer.head.seq == 2
        writer.append_event("session.ended", "broker", {}, 9_000)
    records = load_records(path)
    assert [r.seq for r in records] == [1, 2, 3] and verify_chain(records).ok


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with JsonlChainWriter(path) as writer:
        fill(writer, 3)
    lines = path.read_bytes().split(b"\n")
    lines[1] = b'{"seq": 2, "oops'
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(LogFileError) as info:
        read_jsonl(path)
    assert info.value.line == 2
    with pytest.raises(LogFileError):
        JsonlChainWriter(path, repair_torn_tail=True)


def test_tampered_file_is_not_continued(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with JsonlChainWriter(path) as writer:
        fill(writer, 3)
    text = path.read_text().replace('"m1"', '"mX"')
    path.write_text(text)
    with pytest.raises(LogFileError, match="edited"):
        JsonlChainWriter(path)


def test_closed_writer_refuses(tmp_path: Path) -> None:
    writer = JsonlChainWriter(tmp_path / "s.jsonl")
    writer.close()
    writer.close()
    with pytest.raises(LogFileError, match="closed"):
        fill(writer, 1)
    assert writer.head.seq == 0  # nothing accepted


def test_a_line_with_a_repeated_key_is_refused(tmp_path: Path) -> None:
    # G10: '{"detail": A, ..., "detail": B}' hashes as B in Python and JavaScript but
    # reads as A in a first-wins parser; a log line must have one meaning.
    path = tmp_path / "s.jsonl"
    with JsonlChainWriter(path) as writer:
        fill(writer, 2)
    lines = path.read_bytes().split(b"\n")
    assert lines[1].startswith(b'{"actor"')
    lines[1] = b'{"detail":{"text":"something else"},' + lines[1][1:]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(LogFileError) as info:
        read_jsonl(path)
    assert info.value.line == 2 and "repeated key" in str(info.value)
