"""The client's copy against the broker's copy (G10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.chain import AuditChain
from audit.checkpoint import load_checkpoint, sign_checkpoint
from audit.compare import compare_copies, compare_files
from audit.errors import RecordFormatError
from audit.jsonl import JsonlChainWriter

SID = "s-9"


@pytest.fixture(scope="module")
def key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def broker_log() -> AuditChain:
    chain = AuditChain()
    chain.append("session.requested", "broker", {}, 1)
    chain.append("viewer.joined", "broker", {"viewer_id": "v1"}, 2)
    chain.append("consent.granted", "agent", {"viewer_id": "v1", "permissions": ["view"]}, 3)
    chain.append("chat.sent", "viewer:v1", {"text": "hello"}, 4)
    chain.append("session.ended", "broker", {"reason": "ended_by_engineer"}, 5)
    return chain


def as_dicts(chain: AuditChain) -> list[dict[str, Any]]:
    return [r.to_dict() for r in chain.records]


def test_identical_copies_agree(key: ed25519.Ed25519PrivateKey) -> None:
    chain = broker_log()
    cp = sign_checkpoint(key, SID, chain.head, 6)
    report = compare_copies(
        as_dicts(chain), chain.records, checkpoint=cp, keys=key.public_key(), session_id=SID
    )
    assert report.ok, str(report)
    assert report.common_seq == 5 and report.checkpoint_matches_client is True


def test_client_missing_a_record_in_the_middle_is_a_gap(key: ed25519.Ed25519PrivateKey) -> None:
    # Not "the copies agree" (issue 13): a record absent before the client's last one is
    # named, and the pair classified as a gap (loss or deletion, which it cannot tell).
    chain = broker_log()
    client = [r for r in as_dicts(chain) if r["seq"] != 3]
    report = compare_copies(client, chain.records)
    assert not report.ok and report.verdict == "gap"
    assert report.missing_on_client == ((3, 3),)
    assert [(f.copy, f.seq, f.reason) for f in report.findings] == [("client", 3, "missing")]
    assert "lost in transit or removed" in report.conclusion


def test_a_true_prefix_is_classified_as_a_prefix(key: ed25519.Ed25519PrivateKey) -> None:
    chain = broker_log()
    cp = sign_checkpoint(key, SID, chain.head, 6)
    report = compare_copies(
        as_dicts(chain)[:3],
        chain.records,
        checkpoint=cp,
        keys=key.public_key(),
        session_id=SID,
        checkpoints=[cp],
    )
    assert report.ok and report.verdict == "prefix", str(report)
    assert report.client_last == 3 and report.common_seq == 3
    assert [(r.seq, r.event, r.signed_by) for r in report.later] == [
        (4, "chat.sent", 5),
        (5, "session.ended", 5),
    ]
    assert "not evidence of tampering" in report.conclusion


def test_broker_edited_its_copy(key: ed25519.Ed25519PrivateKey) -> None:
    genuine = broker_log()
    cp = sign_checkpoint(key, SID, genuine.head, 6)
    rewritten = AuditChain()
    for r in genuine.records:
        detail = {"text": "I never said that"} if r.event == "chat.sent" else r.detail
        rewritten.append(r.event, r.actor, detail, r.at_ms)
    # ...and re-signed it with its key: the client's copy still exposes the rewrite.
    resigned = sign_checkpoint(key, SID, rewritten.head, 7)
    report = compare_copies(
        genuine.records,
        rewritten.records,
        checkpoint=resigned,
        keys=key.public_key(),
        session_id=SID,
    )
    assert not report.ok
    assert report.first_difference == 4 and report.common_seq == 3
    assert report.checkpoint_matches_client is False
    # The original checkpoint the client kept does not match the rewritten copy either.
    report = compare_copies(
        genuine.records, rewritten.records, checkpoint=cp, keys=key.public_key(), session_id=SID
    )
    assert not report.ok and report.checkpoint_broker is not None
    assert not report.checkpoint_broker.ok


def test_client_edited_its_copy(key: ed25519.Ed25519PrivateKey) -> None:
    chain = broker_log()
    cp = sign_checkpoint(key, SID, chain.head, 6)
    client = as_dicts(chain)
    client[1]["detail"]["viewer_id"] = "v2"
    report = compare_copies(
        client, chain.records, checkpoint=cp, keys=key.public_key(), session_id=SID
    )
    assert not report.ok
    assert report.client.problem is not None and report.client.problem.seq == 2
    assert report.first_difference == 2


def test_client_added_a_record(key: ed25519.Ed25519PrivateKey) -> None:
    chain = broker_log()
    longer = AuditChain(chain.records)
    longer.append("chat.sent", "viewer:v1", {"text": "extra"}, 9)
    report = compare_copies(longer.records, chain.records)
    assert not report.ok and report.first_difference == 6


def test_forged_checkpoint_fails_the_comparison(key: ed25519.Ed25519PrivateKey) -> None:
    chain = broker_log()
    forged = sign_checkpoint(ed25519.Ed25519PrivateKey.generate(), SID, chain.head, 6)
    report = compare_copies(
        chain.records, chain.records, checkpoint=forged, keys=key.public_key(), session_id=SID
    )
    assert not report.ok and "forged" in str(report)


def test_garbage_never_raises() -> None:
    report = compare_copies([{"seq": "x"}, 5], [None])  # type: ignore[list-item]
    assert not report.ok


def test_compare_files(key: ed25519.Ed25519PrivateKey, tmp_path: Path) -> None:
    chain = broker_log()
    cp = sign_checkpoint(key, SID, chain.head, 6)
    for name in ("client.jsonl", "broker.jsonl"):
        with JsonlChainWriter(tmp_path / name) as writer:
            for record in chain.records:
                writer.append(record)
    # The agent keeps one JSON object; the broker keeps JSON lines (last one wins).
    (tmp_path / "checkpoint.json").write_text(json.dumps(cp.to_dict(), indent=2))
    early = sign_checkpoint(key, SID, AuditChain(chain.records[:2]).head, 1)
    (tmp_path / "checkpoints.jsonl").write_text(
        json.dumps(early.to_dict()) + "\n" + json.dumps(cp.to_dict()) + "\n"
    )
    assert load_checkpoint(tmp_path / "checkpoints.jsonl") == cp
    for cp_file in ("checkpoint.json", "checkpoints.jsonl"):
        report = compare_files(
            tmp_path / "client.jsonl",
            tmp_path / "broker.jsonl",
            session_id=SID,
            checkpoint_path=tmp_path / cp_file,
            keys=key.public_key(),
        )
        assert report.ok, str(report)
    report = compare_files(
        tmp_path / "client.jsonl",
        tmp_path / "broker.jsonl",
        session_id="another-session",
        checkpoint_path=tmp_path / "checkpoint.json",
        keys=key.public_key(),
    )
    assert not report.ok and "wrong_session" in str(report)
    (tmp_path / "bad.json").write_text("{not json\n")
    with pytest.raises(RecordFormatError):
        load_checkpoint(tmp_path / "bad.json")
