"""The client's own copy of the session log (G7, G10), checked against the broker's signed checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from agent.locallog import LocalLog, default_session_dir, describe
from agent.observer import LogLine
from audit.chain import AuditChain, verify_chain
from audit.checkpoint import sign_checkpoint
from audit.jsonl import load_records

SID = "s-abc"
T0 = 1_700_000_000_000


def broker_log() -> tuple[list[dict[str, Any]], dict[str, Any], ed25519.Ed25519PrivateKey]:
    chain = AuditChain()
    chain.append("session.requested", "client", {"client": "Carol"}, T0)
    chain.append(
        "viewer.joined",
        "engineer:u1",
        {"viewer_id": "v1", "name": "Alice", "role": "engineer"},
        T0 + 1,
    )
    chain.append("consent.granted", "client", {"viewer_id": "v1", "permissions": ["view"]}, T0 + 2)
    chain.append("session.ended", "broker", {"reason": "ended_by_engineer", "by": "Alice"}, T0 + 3)
    key = ed25519.Ed25519PrivateKey.generate()
    cp = sign_checkpoint(key, SID, chain.head, T0 + 4).to_dict()
    return [r.to_dict() for r in chain.records], cp, key


def test_live_lines_files_and_verified_end(tmp_path: Path) -> None:
    records, cp, key = broker_log()
    seen: list[LogLine] = []
    log = LocalLog(tmp_path / SID, SID, names={"v1": "Alice"}.get)
    log.subscribe(seen.append)
    for r in records:
        log.record_broker(r, T0)
    log.record_local(
        "input.applied", {"viewer_id": "v1", "clicks": 2, "keys": 5, "special": "Enter"}, T0 + 2
    )
    log.save_checkpoint(cp)
    result = log.verify(cp, key.public_key())
    log.close()
    assert result.ok, result
    assert "4 records" in result.summary and "not checked" not in result.summary
    assert [line.source for line in seen] == ["broker"] * 4 + ["client"]
    assert seen[1].text == "Alice joined"
    assert seen[4].text == "Alice used your mouse/keyboard: 2 clicks, 5 keys typed, Enter"
    # what the client keeps: the broker's records verbatim, its own chain, the checkpoint
    assert (tmp_path / SID / "checkpoint.json").exists()
    assert len((tmp_path / SID / "broker.jsonl").read_text().splitlines()) == 4
    own = load_records(tmp_path / SID / "client.jsonl")
    assert verify_chain(own).ok and len(own) == 5
    assert [r.event for r in own][:4] == ["broker.record"] * 4
    assert own[0].detail["hash"] == records[0]["hash"]


def test_edited_record_is_reported(tmp_path: Path) -> None:
    records, cp, key = broker_log()
    records[2]["detail"]["permissions"] = ["view", "control"]  # someone rewrote history
    log = LocalLog(tmp_path / SID, SID)
    for r in records:
        log.record_broker(r, T0)
    result = log.verify(cp, key.public_key())
    assert not result.ok and result.summary == "log NOT verified"
    assert any("seq 3" in p for p in result.problems), result.problems


def test_forged_or_missing_checkpoint_is_reported(tmp_path: Path) -> None:
    records, cp, _ = broker_log()
    log = LocalLog(tmp_path / SID, SID)
    for r in records:
        log.record_broker(r, T0)
    other = ed25519.Ed25519PrivateKey.generate()
    forged = log.verify(cp, other.public_key())
    assert not forged.ok and any("not genuine" in p for p in forged.problems)
    missing = log.verify(None, None)
    assert not missing.ok and any("did not send" in p for p in missing.problems)
    unchecked = log.verify(cp, None)
    assert unchecked.ok and "signature not checked" in unchecked.summary


def test_checkpoint_of_another_session_is_reported(tmp_path: Path) -> None:
    records, _, key = broker_log()
    chain = AuditChain()
    for r in records:
        chain.append(r["event"], r["actor"], r["detail"], r["at_ms"])
    cp = sign_checkpoint(key, "s-other", chain.head, T0).to_dict()
    log = LocalLog(tmp_path / SID, SID)
    for r in records:
        log.record_broker(r, T0)
    result = log.verify(cp, key.public_key())
    assert not result.ok and any("another session" in p for p in result.problems)


def test_records_missed_while_disconnected_are_a_gap_not_tampering(tmp_path: Path) -> None:
    records, cp, key = broker_log()
    log = LocalLog(tmp_path / SID, SID)
    for r in (records[0], records[2], records[3]):
        log.record_broker(r, T0)
    log.record_broker(records[3], T0)  # a backlog re-sent after reconnecting: kept once
    result = log.verify(cp, key.public_key())
    assert result.ok, result
    assert "records 2-2 were not received" in result.summary
    assert len(log.broker_records) == 3


def test_reopening_continues_the_clients_chain(tmp_path: Path) -> None:
    log = LocalLog(tmp_path / SID, SID)
    log.record_local("session.paused", {}, T0)
    log.close()
    again = LocalLog(tmp_path / SID, SID)
    again.record_local("session.resumed", {}, T0 + 1)
    again.close()
    own = load_records(tmp_path / SID / "client.jsonl")
    assert [r.seq for r in own] == [1, 2] and verify_chain(own).ok


def test_default_dir_and_descriptions(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_session_dir("s1") == tmp_path / "clearpane" / "sessions" / "s1"
    assert default_session_dir("s1", Path("/x")) == Path("/x/s1")
    names = {"engineer:u1": "Alice"}.get
    assert describe(
        "consent.requested", "engineer:u1", {"permissions": ["view", "control"]}, names
    ) == ("Alice asks to see your screen and use your mouse and keyboard")
    assert describe(
        "consent.denied",
        "client",
        {"viewer_id": "v9", "permissions": ["control"], "reason": "timed_out"},
    ) == ("The engineer may not use your mouse and keyboard (no answer in time)")


def test_every_event_reads_as_plain_words() -> None:
    from audit.events import EVENTS

    names = {"v1": "Erin Engineer"}.get
    detail = {"viewer_id": "v1", "permissions": ["view"], "reason": "killed_by_client"}
    for event in EVENTS:
        text = describe(event, "engineer:u1", detail, names)
        assert event not in text and "." not in text and "_" not in text, (event, text)
    assert describe("consent.requested", "broker", detail, names) == (
        "Erin Engineer asks to see your screen"
    )
    assert describe("audit.wrapped", "client", {}) == (
        "Recording key shared with your company's quality reviewers"
    )
    assert describe("key.exchanged", "client", {"viewer_id": "v1", "ok": True}, names) == (
        "Secure connection set up with Erin Engineer"
    )
    # an event added later still reads as words, never as a dotted name
    assert describe("screen.resolution_changed", "broker", {}) == "Screen resolution changed"
