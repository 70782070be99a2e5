"""Chain verification through PolicyBuilder: good chains and each way they fail."""

from __future__ import annotations

import datetime as dt

import pytest

from certs.errors import CertVerificationError, IssuanceError
from certs.testing import MemoryPki, fixed_clock
from certs.verify import (
    fingerprint,
    verify_audit_recipient,
    verify_checkpoint_signer,
    verify_client_chain,
    verify_server_chain,
)


@pytest.fixture(scope="module")
def pki() -> MemoryPki:
    return MemoryPki.create()


@pytest.fixture(scope="module")
def other() -> MemoryPki:
    return MemoryPki.create("Other Org")


def test_server_chain_for_name_and_ip(pki: MemoryPki) -> None:
    leaf = pki.issuing.issue_server(["broker.example"], ["127.0.0.1"])
    roots = [pki.root.cert]
    chain = verify_server_chain(leaf.cert, leaf.chain, roots, "broker.example")
    assert chain == [leaf.cert, pki.issuing.cert, pki.root.cert]
    assert verify_server_chain(leaf.cert, leaf.chain, roots, "127.0.0.1")[0] == leaf.cert


@pytest.mark.parametrize(
    ("host", "use_other_root", "with_intermediate"),
    [
        ("wrong.example", False, True),  # name not in the SANs
        ("127.0.0.2", False, True),  # IP not in the SANs
        ("broker.example", True, False),  # another organisation's root
        ("broker.example", False, False),  # intermediate missing
    ],
)
def test_server_chain_rejections(
    pki: MemoryPki, other: MemoryPki, host: str, use_other_root: bool, with_intermediate: bool
) -> None:
    leaf = pki.issuing.issue_server(["broker.example"], ["127.0.0.1"])
    roots = [other.root.cert] if use_other_root else [pki.root.cert]
    inters = leaf.chain if with_intermediate else ()
    with pytest.raises(CertVerificationError):
        verify_server_chain(leaf.cert, inters, roots, host)


def test_expired_server_leaf_is_rejected() -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=120)
    old = MemoryPki.create(clock=fixed_clock(past))
    leaf = old.issuing.issue_server(["broker.example"])
    assert leaf.cert.not_valid_after_utc < dt.datetime.now(dt.UTC)
    with pytest.raises(CertVerificationError, match="not valid at validation time"):
        verify_server_chain(leaf.cert, leaf.chain, [old.root.cert], "broker.example")
    # ...while it was valid, the same chain verified.
    at = past + dt.timedelta(days=1)
    verify_server_chain(leaf.cert, leaf.chain, [old.root.cert], "broker.example", at=at)


def test_issuing_before_the_ca_exists_is_refused(pki: MemoryPki) -> None:
    past = pki.issuing.cert.not_valid_before_utc - dt.timedelta(days=1)
    with pytest.raises(IssuanceError, match="not valid yet"):
        pki.issuing.with_clock(fixed_clock(past)).issue_server(["broker.example"])


def test_usages_are_not_interchangeable(pki: MemoryPki) -> None:
    client = pki.issuing.issue_client("agent-1")
    server = pki.issuing.issue_server(["agent-1.example"])
    roots = [pki.root.cert]
    verified = verify_client_chain(client.cert, client.chain, roots)
    assert [str(s.value) for s in verified.subjects or []] == ["urn:clearpane:client:agent-1"]
    with pytest.raises(CertVerificationError, match="EKU"):
        verify_client_chain(server.cert, server.chain, roots)
    with pytest.raises(CertVerificationError):
        verify_server_chain(client.cert, client.chain, roots, "agent-1.example")


def test_client_chain_from_other_ca_is_rejected(pki: MemoryPki, other: MemoryPki) -> None:
    client = other.issuing.issue_client("intruder")
    with pytest.raises(CertVerificationError):
        verify_client_chain(client.cert, client.chain, [pki.root.cert])


def test_verification_time_must_be_aware(pki: MemoryPki) -> None:
    leaf = pki.issuing.issue_server(["broker.example"])
    with pytest.raises(ValueError, match="timezone"):
        verify_server_chain(
            leaf.cert, leaf.chain, [pki.root.cert], "broker.example", at=dt.datetime(2026, 1, 1)
        )


def test_audit_recipient_accepted(pki: MemoryPki) -> None:
    issued = pki.issuing.issue_audit_recipient()
    got = verify_audit_recipient(issued.cert, issued.chain, [pki.root.cert])
    assert got.fingerprint == fingerprint(issued.cert)
    assert len(got.fingerprint) == 64
    assert got.public_key.public_bytes_raw() == issued.key.public_key().public_bytes_raw()  # type: ignore[union-attr]


def test_audit_recipient_from_another_ca_is_rejected(pki: MemoryPki, other: MemoryPki) -> None:
    issued = other.issuing.issue_audit_recipient()
    with pytest.raises(CertVerificationError):
        verify_audit_recipient(issued.cert, issued.chain, [pki.root.cert])
    # Presenting our intermediate does not help: the signature is not ours.
    with pytest.raises(CertVerificationError):
        verify_audit_recipient(issued.cert, [pki.issuing.cert], [pki.root.cert])


def test_other_certificates_are_not_audit_recipients(pki: MemoryPki) -> None:
    for issued in (
        pki.issuing.issue_server(["broker.example"]),
        pki.issuing.issue_client("agent-1"),
        pki.issuing.issue_checkpoint_signer(),
    ):
        with pytest.raises(CertVerificationError):
            verify_audit_recipient(issued.cert, issued.chain, [pki.root.cert])


def test_expired_audit_recipient_is_rejected() -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    old = MemoryPki.create(clock=fixed_clock(past))
    issued = old.issuing.issue_audit_recipient(lifetime=dt.timedelta(days=30))
    with pytest.raises(CertVerificationError, match="not valid at validation time"):
        verify_audit_recipient(issued.cert, issued.chain, [old.root.cert])
    verify_audit_recipient(
        issued.cert, issued.chain, [old.root.cert], at=past + dt.timedelta(days=1)
    )


def test_checkpoint_signer(pki: MemoryPki, other: MemoryPki) -> None:
    issued = pki.issuing.issue_checkpoint_signer()
    got = verify_checkpoint_signer(issued.cert, issued.chain, [pki.root.cert])
    assert got.chain[0] == issued.cert
    audit = pki.issuing.issue_audit_recipient()
    with pytest.raises(CertVerificationError):
        verify_checkpoint_signer(audit.cert, audit.chain, [pki.root.cert])
    foreign = other.issuing.issue_checkpoint_signer()
    with pytest.raises(CertVerificationError):
        verify_checkpoint_signer(foreign.cert, foreign.chain, [pki.root.cert])
