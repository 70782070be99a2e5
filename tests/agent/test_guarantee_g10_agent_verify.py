"""G10 on the agent: the signed checkpoint must match the records the client holds.

Written by the guarantee verifier (docs/GUARANTEES.md): dropping the checkpoint from
``LocalLog.verify``'s chain check (signature still checked, records still chained)
let every other agent test pass. Then a broker could stream one history to the
client and sign another: the signature is genuine, each chain is consistent, and
only comparing the signed head with the client's copy reveals it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from agent.locallog import LocalLog
from audit.chain import AuditChain
from audit.checkpoint import sign_checkpoint

SID = "s-g10"
T0 = 1_700_000_000_000


def _history(permissions: list[str]) -> AuditChain:
    chain = AuditChain()
    chain.append("session.requested", "client", {"client": "Carol"}, T0)
    chain.append("viewer.joined", "engineer:u1", {"viewer_id": "v1", "name": "Alice"}, T0 + 1)
    chain.append(
        "consent.granted", "client", {"viewer_id": "v1", "permissions": permissions}, T0 + 2
    )
    chain.append("session.ended", "broker", {"reason": "ended_by_engineer"}, T0 + 3)
    return chain


def _client_copy(tmp_path: Path, chain: AuditChain) -> LocalLog:
    log = LocalLog(tmp_path / SID, SID)
    for record in chain.records:
        log.record_broker(record.to_dict(), T0)
    return log


def test_a_genuine_checkpoint_over_another_history_is_not_verified(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    shown = _history(["view"])  # what the client was streamed
    signed = _history(["view", "control"])  # what the company signed and keeps
    cp: dict[str, Any] = sign_checkpoint(key, SID, signed.head, T0 + 4).to_dict()
    log = _client_copy(tmp_path, shown)
    try:
        result = log.verify(cp, key.public_key())
        assert not result.ok and result.summary == "log NOT verified"
        assert any("does not match" in p for p in result.problems), result.problems
        honest = sign_checkpoint(key, SID, shown.head, T0 + 4).to_dict()
        assert log.verify(honest, key.public_key()).ok  # control
    finally:
        log.close()


def test_a_checkpoint_beyond_the_records_received_is_not_verified(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    full = _history(["view"])
    partial = AuditChain(full.records[:3])  # the session.ended record never arrived
    cp = sign_checkpoint(key, SID, full.head, T0 + 4).to_dict()
    log = _client_copy(tmp_path, partial)
    try:
        result = log.verify(cp, key.public_key())
        assert not result.ok, result
    finally:
        log.close()
