"""G10 (evidence both sides hold): the append paths fail closed.

Written by the guarantee verifier to kill hand-applied mutants that the existing
audit tests let survive (docs/GUARANTEES.md):

- ``AuditChain.accept`` without its content-hash check;
- ``JsonlChainWriter.append`` without its hash or seq/prev checks (the chain would
  still raise afterwards, but only *after* the bad line was written to the file, so
  the client's copy on disk would hold a record that breaks its chain).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audit.chain import AuditChain, verify_chain
from audit.errors import ChainError
from audit.jsonl import JsonlChainWriter, load_records


def _source_chain() -> AuditChain:
    chain = AuditChain()
    chain.append("session.requested", "broker", {"ticket": "T-1"}, 1_000)
    chain.append("chat.sent", "viewer:v1", {"text": "hello"}, 1_001)
    chain.append("input.applied", "viewer:v1", {"clicks": 1}, 1_002)
    return chain


def test_accept_refuses_a_record_whose_content_was_edited() -> None:
    source = _source_chain()
    copy = AuditChain(source.records[:1])
    edited = dataclasses.replace(source.records[1], detail={"text": "something else"})
    with pytest.raises(ChainError, match="hash"):
        copy.accept(edited)
    assert copy.head.seq == 1  # unchanged
    copy.accept(source.records[1])  # the genuine record still continues it


def test_writer_refuses_an_edited_record_before_writing_it(tmp_path: Path) -> None:
    source = _source_chain()
    path = tmp_path / "broker.jsonl"
    with JsonlChainWriter(path) as writer:
        writer.append(source.records[0])
        before = path.read_bytes()
        edited = dataclasses.replace(source.records[1], detail={"text": "something else"})
        with pytest.raises(ChainError):
            writer.append(edited)
        assert path.read_bytes() == before  # nothing reached the disk
    assert verify_chain(load_records(path)).ok


def test_writer_refuses_a_record_that_does_not_continue_the_file(tmp_path: Path) -> None:
    source = _source_chain()
    path = tmp_path / "broker.jsonl"
    with JsonlChainWriter(path) as writer:
        writer.append(source.records[0])
        before = path.read_bytes()
        with pytest.raises(ChainError):
            writer.append(source.records[2])  # skips seq 2: prev does not match
        assert path.read_bytes() == before
        writer.append(source.records[1])
    records = load_records(path)
    assert [r.seq for r in records] == [1, 2]
    assert verify_chain(records).ok
