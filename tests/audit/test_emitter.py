"""Composable emitters: checks come before writes, listeners after."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.chain import AuditChain, Record, verify_chain
from audit.emitter import ChainEmitter, CheckingEmitter, FanoutEmitter, JsonlEmitter
from audit.errors import EventError
from audit.events import Source
from audit.jsonl import JsonlChainWriter, load_records


def test_composed_emitters_write_then_notify(tmp_path: Path) -> None:
    seen: list[Record] = []
    with JsonlChainWriter(tmp_path / "log.jsonl") as writer:
        emitter = CheckingEmitter(FanoutEmitter(JsonlEmitter(writer), seen.append), Source.BROKER)
        record = emitter.emit("viewer.joined", "broker", {"viewer_id": "v1"}, 10)
        assert seen == [record]
        # Checked before anything is written or announced:
        with pytest.raises(EventError, match="not allowed"):
            emitter.emit("input.applied", "broker", {}, 11)
        with pytest.raises(EventError, match="unknown"):
            emitter.emit("made.up", "broker", {}, 12)
        assert len(seen) == 1
    assert load_records(tmp_path / "log.jsonl") == (record,)


def test_failed_write_notifies_nobody() -> None:
    seen: list[Record] = []
    chain = AuditChain()
    emitter = FanoutEmitter(ChainEmitter(chain), seen.append)
    with pytest.raises(ValueError):
        emitter.emit("chat.sent", "broker", {"x": 1.5}, 1)
    assert seen == [] and len(chain) == 0
    emitter.emit("chat.sent", "broker", {"x": 1}, 1)
    assert verify_chain(chain.records).ok and len(seen) == 1


def test_agent_source_gate() -> None:
    emitter = CheckingEmitter(ChainEmitter(AuditChain()), Source.AGENT)
    emitter.emit("input.applied", "agent", {"clicks": 2, "keys": 5}, 1)
    with pytest.raises(EventError):
        emitter.emit("checkpoint.signed", "agent", {}, 2)
