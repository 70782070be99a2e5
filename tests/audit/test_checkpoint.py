"""Signed checkpoints: genuine ones verify; forged, replayed and stale ones do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.chain import AuditChain, Reason, verify_chain
from audit.checkpoint import (
    Checkpoint,
    key_id,
    load_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
    verify_sealed_log,
)
from audit.errors import CheckpointError, RecordFormatError
from certs.bootstrap import ensure_broker_pki, signing_key_id

SID = "s-1"


@pytest.fixture(scope="module")
def key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def session_chain(chats: int = 3) -> AuditChain:
    chain = AuditChain()
    chain.append("session.requested", "broker", {}, 1_000)
    for i in range(chats):
        chain.append("chat.sent", "viewer:v1", {"text": str(i)}, 1_001 + i)
    chain.append("session.ended", "broker", {"reason": "killed"}, 2_000)
    return chain


def test_sign_and_verify(key: ed25519.Ed25519PrivateKey) -> None:
    chain = session_chain()
    cp = sign_checkpoint(key, SID, chain.head, 2_001)
    assert (cp.seq, cp.hash, cp.session_id) == (chain.head.seq, chain.head.hash, SID)
    assert cp.key_id == key_id(key.public_key())
    assert "=" not in cp.signature and len(cp.signature) == 86  # 64 bytes, b64url
    verify_checkpoint(cp, key.public_key(), session_id=SID)
    verify_checkpoint(cp, {cp.key_id: key.public_key()})
    report = verify_sealed_log(chain.records, cp, key.public_key(), session_id=SID)
    assert report.ok and report.sealed_seq == chain.head.seq


def test_json_round_trip_ignores_extra_fields(key: ed25519.Ed25519PrivateKey) -> None:
    cp = sign_checkpoint(key, SID, session_chain().head, 5)
    data = json.loads(json.dumps({**cp.to_dict(), "certificate": "PEM..."}))
    assert Checkpoint.from_dict(data) == cp
    assert set(cp.to_dict()) == {"session_id", "seq", "hash", "at_ms", "key_id", "signature"}
    with pytest.raises(RecordFormatError):
        Checkpoint.from_dict({**cp.to_dict(), "seq": "7"})
    with pytest.raises(RecordFormatError):
        Checkpoint.from_dict({k: v for k, v in cp.to_dict().items() if k != "signature"})


@pytest.mark.parametrize("field", ["seq", "hash", "at_ms", "session_id"])
def test_forged_field(key: ed25519.Ed25519PrivateKey, field: str) -> None:
    cp = sign_checkpoint(key, SID, session_chain().head, 5).to_dict()
    cp[field] = {"seq": 1, "hash": "0" * 64, "at_ms": 6, "session_id": "s-2"}[field]
    with pytest.raises(CheckpointError) as info:
        verify_checkpoint(Checkpoint.from_dict(cp), key.public_key())
    assert info.value.reason == Reason.FORGED


def test_forged_by_another_key(key: ed25519.Ed25519PrivateKey) -> None:
    mallory = ed25519.Ed25519PrivateKey.generate()
    head = session_chain().head
    own_id = sign_checkpoint(mallory, SID, head, 5)
    with pytest.raises(CheckpointError, match="unknown signing key"):
        verify_checkpoint(own_id, key.public_key())
    claimed = sign_checkpoint(mallory, SID, head, 5, signing_key_id=key_id(key.public_key()))
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_checkpoint(claimed, key.public_key())
    garbage = Checkpoint(SID, head.seq, head.hash, 5, key_id(key.public_key()), "!!notb64")
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_checkpoint(garbage, key.public_key())
    chain = session_chain()
    report = verify_sealed_log(chain.records, claimed, key.public_key(), session_id=SID)
    assert report.problem is not None and report.problem.reason is Reason.FORGED


def test_replayed_from_another_session(key: ed25519.Ed25519PrivateKey) -> None:
    chain = session_chain()  # identical content in both sessions: same hashes
    other = sign_checkpoint(key, "s-other", chain.head, 5)
    with pytest.raises(CheckpointError) as info:
        verify_checkpoint(other, key.public_key(), session_id=SID)
    assert info.value.reason == Reason.WRONG_SESSION
    report = verify_sealed_log(chain.records, other, key.public_key(), session_id=SID)
    assert report.problem is not None and report.problem.reason is Reason.WRONG_SESSION


def test_earlier_checkpoint_presented_as_final(key: ed25519.Ed25519PrivateKey) -> None:
    chain = AuditChain()
    chain.append("session.requested", "broker", {}, 1)
    chain.append("chat.sent", "viewer:v1", {"text": "hi"}, 2)
    early = sign_checkpoint(key, SID, chain.head, 3)
    chain.append("input.applied", "agent", {"clicks": 1}, 4)
    chain.append("session.ended", "broker", {}, 5)
    # With the whole log: the later records are reported as unsealed.
    report = verify_sealed_log(chain.records, early, key.public_key(), session_id=SID)
    assert report.problem is not None
    assert (report.problem.index, report.problem.seq, report.problem.reason) == (
        2,
        3,
        Reason.UNSEALED,
    )
    # With the log cut back to match: it does not end with session.ended.
    cut = chain.records[:2]
    report = verify_sealed_log(cut, early, key.public_key(), session_id=SID)
    assert report.problem is not None and report.problem.reason is Reason.NOT_FINAL
    # As an intermediate checkpoint it is fine.
    assert verify_sealed_log(chain.records, early, key.public_key(), session_id=SID, final=False).ok


def test_record_appended_after_final_checkpoint(key: ed25519.Ed25519PrivateKey) -> None:
    chain = session_chain()
    cp = sign_checkpoint(key, SID, chain.head, 3_000)
    chain.append("chat.sent", "broker", {"text": "slipped in afterwards"}, 3_001)
    report = verify_chain(chain.records, checkpoint=cp)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.reason) == (chain.head.seq, Reason.UNSEALED)


def test_checkpoint_of_another_history(key: ed25519.Ed25519PrivateKey) -> None:
    genuine = session_chain()
    cp = sign_checkpoint(key, SID, genuine.head, 3_000)
    rewritten = AuditChain()
    for record in genuine.records:
        detail = {"text": "rewritten"} if record.event == "chat.sent" else record.detail
        rewritten.append(record.event, record.actor, detail, record.at_ms)
    assert verify_chain(rewritten.records).ok  # a consistent chain on its own...
    report = verify_sealed_log(rewritten.records, cp, key.public_key(), session_id=SID)
    assert report.problem is not None  # ...that the signed checkpoint exposes
    assert report.problem.reason is Reason.CHECKPOINT_MISMATCH


def test_truncated_log(key: ed25519.Ed25519PrivateKey) -> None:
    chain = session_chain()
    cp = sign_checkpoint(key, SID, chain.head, 3_000)
    report = verify_chain(chain.records[:-2], checkpoint=cp)
    assert report.problem is not None and report.problem.reason is Reason.TRUNCATED


def test_edit_before_checkpoint_is_reported_as_edit(key: ed25519.Ed25519PrivateKey) -> None:
    chain = session_chain()
    cp = sign_checkpoint(key, SID, chain.head, 3_000)
    data = [r.to_dict() for r in chain.records]
    data[1]["detail"] = {"text": "changed"}
    report = verify_sealed_log(data, cp, key.public_key(), session_id=SID)
    assert report.problem is not None
    assert (report.problem.index, report.problem.reason) == (1, Reason.EDITED)


def test_key_id_matches_broker_pki(tmp_path: Path) -> None:
    pki = ensure_broker_pki(tmp_path, ["localhost"], [], b"pw")
    assert pki.signing_key_id == key_id(pki.signing_key.public_key())
    assert signing_key_id(pki.signing_key.public_key()) == key_id(pki.signing_key.public_key())
    cp = sign_checkpoint(
        pki.signing_key, SID, session_chain().head, 1, signing_key_id=pki.signing_key_id
    )
    verify_checkpoint(cp, pki.signing_key.public_key(), session_id=SID)


def test_hand_built_checkpoint_with_bad_types_is_malformed(
    key: ed25519.Ed25519PrivateKey,
) -> None:
    good = sign_checkpoint(key, SID, session_chain().head, 5).to_dict()
    for field, value in (("signature", 12), ("seq", 1.0), ("session_id", None)):
        bad = Checkpoint(**{**good, field: value})
        with pytest.raises(CheckpointError) as info:
            verify_checkpoint(bad, key.public_key())
        assert info.value.reason == Reason.MALFORMED
        report = verify_sealed_log(session_chain().records, bad, key.public_key(), session_id=SID)
        assert report.problem is not None and report.problem.reason is Reason.MALFORMED


def test_only_the_canonical_signature_string_verifies(key: ed25519.Ed25519PrivateKey) -> None:
    # The 86th character of a base64url Ed25519 signature has 4 unused bits; a
    # lenient decoder lets 16 different strings carry one signature (G10: one form).
    cp = sign_checkpoint(key, "s1", session_chain().head, 5_000)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(cp.signature[-1])
    variant = cp.signature[:-1] + alphabet[last ^ 1]
    forged = Checkpoint.from_dict({**cp.to_dict(), "signature": variant})
    with pytest.raises(CheckpointError) as err:
        verify_checkpoint(forged, key.public_key())
    assert err.value.reason == Reason.FORGED
    verify_checkpoint(cp, key.public_key())


def test_a_checkpoint_file_with_a_repeated_key_is_refused(
    key: ed25519.Ed25519PrivateKey, tmp_path: Path
) -> None:
    cp = sign_checkpoint(key, "s1", session_chain().head, 5_000)
    body = json.dumps(cp.to_dict(), sort_keys=True)
    path = tmp_path / "checkpoint.json"
    path.write_text('{"session_id": "another",' + body[1:])
    with pytest.raises(RecordFormatError):
        load_checkpoint(path)
    path.write_text(body)
    assert load_checkpoint(path) == cp
