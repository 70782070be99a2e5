"""The agent's E2E key state (SPEC §8): who gets which content key, and the audit recipient."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from agent.e2ekeys import SessionKeys
from certs.errors import CertVerificationError
from certs.testing import MemoryPki
from protocol.e2e import (
    E2EError,
    FrameOpener,
    ViewerKeyAgreement,
    unwrap_content_key,
    unwrap_for_audit,
)
from protocol.messages import KeyAudit, KeyWrap

SID = "s-1"


def agree(keys: SessionKeys, viewer_id: str) -> ViewerKeyAgreement:
    v = ViewerKeyAgreement(SID, viewer_id)
    agent_msg = keys.commit(viewer_id, v.commitment)
    public, peer = v.reveal(agent_msg.agent_public)
    mine = keys.reveal(viewer_id, public)
    assert mine is not None and mine.verification_code == peer.verification_code
    v.peer = peer  # type: ignore[attr-defined]
    return v


def test_wrap_needs_completed_agreement_and_happens_once() -> None:
    keys = SessionKeys(SID)
    assert keys.wrap("v1") == []  # no keys yet: nothing to hand out
    v = agree(keys, "v1")
    (wrap,) = keys.wrap("v1")
    assert isinstance(wrap, KeyWrap) and wrap.epoch == 1
    assert keys.wrap("v1") == []
    key = unwrap_content_key(v.peer.wrap_key, SID, "v1", 1, wrap.wrapped_key)  # type: ignore[attr-defined]
    opener = FrameOpener(SID)
    opener.add_key(1, key)
    assert opener.open(keys.seal(1, b"screen")) == b"screen"


def test_new_epoch_leaves_out_who_lost_view() -> None:
    keys = SessionKeys(SID)
    agree(keys, "v1")
    agree(keys, "v2")
    keys.wrap("v1")
    keys.wrap("v2")
    out = keys.new_epoch(["v1"])
    assert [(m.viewer_id, m.epoch) for m in out if isinstance(m, KeyWrap)] == [("v1", 2)]
    assert keys.wrapped == frozenset({"v1"})
    frame = keys.seal(0, b"x")
    assert frame.epoch == 2 and frame.seq == 1


def test_bad_reveal_is_rejected_once() -> None:
    keys = SessionKeys(SID)
    v = ViewerKeyAgreement(SID, "v1")
    keys.commit("v1", v.commitment)
    with pytest.raises(E2EError):
        keys.reveal("v1", ViewerKeyAgreement(SID, "v1").public_key)  # not the committed key
    assert keys.reveal("v1", v.public_key) is None  # no second try against the same pair
    assert keys.wrap("v1") == []


def test_audit_recipient_must_chain_to_the_org_ca() -> None:
    org, other = MemoryPki.create("Org"), MemoryPki.create("Mallory")
    org_pem = org.root.root.public_bytes(serialization.Encoding.PEM).decode()
    good = org.issuing.issue_audit_recipient()
    bad = other.issuing.issue_audit_recipient()
    keys = SessionKeys(SID)
    with pytest.raises(CertVerificationError):
        keys.set_audit_recipient(bad.fullchain_pem().decode(), org_pem)
    agree(keys, "v1")
    assert [type(m) for m in keys.wrap("v1")] == [KeyWrap]  # no audit key: nothing wrapped
    fingerprint = keys.set_audit_recipient(good.fullchain_pem().decode(), org_pem)
    audit = keys.audit_wrap()
    assert isinstance(audit, KeyAudit) and audit.recipient_fingerprint == fingerprint
    assert keys.audit_wrap() is None  # once per epoch
    content = unwrap_for_audit(
        good.key, SID, audit.epoch, audit.ephemeral_public, audit.wrapped_key
    )  # type: ignore[arg-type]
    opener = FrameOpener(SID)
    opener.add_key(audit.epoch, content)
    assert opener.open(keys.seal(0, b"for the recording")) == b"for the recording"
    out = keys.new_epoch(["v1"])
    assert [type(m) for m in out] == [KeyWrap, KeyAudit]
