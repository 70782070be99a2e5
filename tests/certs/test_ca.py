"""Certificate profiles: extensions, lifetimes, and refused requests."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs.ca import (
    AUDIT_RECIPIENT_EKU,
    CHECKPOINT_SIGNER_EKU,
    CertificateAuthority,
)
from certs.errors import IssuanceError
from certs.keys import KeyType, generate_key
from certs.testing import MemoryPki, fixed_clock


@pytest.fixture(scope="module")
def pki() -> MemoryPki:
    return MemoryPki.create()


def ext(cert: x509.Certificate, cls: type[x509.ExtensionType]) -> x509.Extension:  # type: ignore[type-arg]
    return cert.extensions.get_extension_for_class(cls)


def test_root_and_intermediate_constraints(pki: MemoryPki) -> None:
    root, issuing = pki.root.cert, pki.issuing.cert
    assert ext(root, x509.BasicConstraints).critical
    assert ext(root, x509.BasicConstraints).value.path_length == 1
    assert ext(issuing, x509.BasicConstraints).value.path_length == 0
    for cert in (root, issuing):
        usage = ext(cert, x509.KeyUsage).value
        assert usage.key_cert_sign and usage.crl_sign
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    aki = ext(issuing, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(root, x509.SubjectKeyIdentifier).value.digest
    life = root.not_valid_after_utc - root.not_valid_before_utc
    assert dt.timedelta(days=3650) <= life <= dt.timedelta(days=3653)
    life = issuing.not_valid_after_utc - issuing.not_valid_before_utc
    assert dt.timedelta(days=3 * 365) <= life <= dt.timedelta(days=3 * 365 + 1)


def test_intermediate_cannot_create_a_ca(pki: MemoryPki) -> None:
    with pytest.raises(IssuanceError, match="path length 0"):
        pki.issuing.create_intermediate("Sub")


def test_server_leaf_profile(pki: MemoryPki) -> None:
    leaf = pki.issuing.issue_server(["Broker.Example.com"], ["127.0.0.1", "::1"])
    cert = leaf.cert
    assert leaf.chain == (pki.issuing.cert,)
    assert leaf.fullchain == (cert, pki.issuing.cert)
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["broker.example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    usage = ext(cert, x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert ext(cert, x509.BasicConstraints).value.ca is False
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.not_valid_before_utc.tzinfo is not None
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=90, minutes=5)


def test_client_leaf_has_client_auth_and_uri_san(pki: MemoryPki) -> None:
    cert = pki.issuing.issue_client("agent-7").cert
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    uris = ext(cert, x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier
    )
    assert uris == ["urn:clearpane:client:agent-7"]


def test_audit_recipient_profile(pki: MemoryPki) -> None:
    cert = pki.issuing.issue_audit_recipient().cert
    assert isinstance(cert.public_key(), x25519.X25519PublicKey)
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.key_agreement and not usage.value.digital_signature
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [AUDIT_RECIPIENT_EKU]


def test_checkpoint_signer_profile(pki: MemoryPki) -> None:
    cert = pki.issuing.issue_checkpoint_signer().cert
    assert isinstance(cert.public_key(), ed25519.Ed25519PublicKey)
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [CHECKPOINT_SIGNER_EKU]


def test_renewal_keeps_a_given_key(pki: MemoryPki) -> None:
    first = pki.issuing.issue_audit_recipient()
    key = first.key
    assert isinstance(key, x25519.X25519PrivateKey)
    second = pki.issuing.issue_audit_recipient(key=key)
    assert second.cert.public_key() == first.cert.public_key()
    assert second.cert.serial_number != first.cert.serial_number


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda ca: ca.issue_server([], []), "at least one"),
        (lambda ca: ca.issue_server(["bad_name"]), "invalid DNS name"),
        (lambda ca: ca.issue_server(["bücher.example"]), "ASCII"),
        (lambda ca: ca.issue_server(["ok.example"], ["300.1.1.1"]), "invalid IP"),
        (lambda ca: ca.issue_server(["a.example"], lifetime=dt.timedelta(days=398)), "lifetime"),
        (lambda ca: ca.issue_server(["a.example"], lifetime=dt.timedelta(0)), "lifetime"),
        (lambda ca: ca.issue_client(""), "common name"),
        (lambda ca: ca.issue_server(["a.example"], key=generate_key(KeyType.ED25519)), "key"),
    ],
)
def test_bad_requests_are_refused(pki: MemoryPki, call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IssuanceError, match=match):
        call(pki.issuing)


def test_ca_key_must_sign() -> None:
    with pytest.raises(IssuanceError, match="sign"):
        CertificateAuthority.create_root("R", organization="O", key_type=KeyType.X25519)


def test_naive_clock_is_refused() -> None:
    with pytest.raises(IssuanceError, match="timezone-aware"):
        CertificateAuthority.create_root(
            "R",
            organization="O",
            clock=lambda: dt.datetime(2026, 1, 1),
        )


def test_leaf_never_outlives_its_issuer() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    root = CertificateAuthority.create_root(
        "R", organization="O", lifetime=dt.timedelta(days=30), clock=fixed_clock(start)
    )
    issuing = root.create_intermediate("I", lifetime=dt.timedelta(days=20))
    assert issuing.cert.not_valid_after_utc == root.cert.not_valid_after_utc - dt.timedelta(days=10)
    leaf = issuing.issue_server(["a.example"])
    assert leaf.cert.not_valid_after_utc == issuing.cert.not_valid_after_utc
    expired = issuing.with_clock(fixed_clock(start + dt.timedelta(days=40)))
    with pytest.raises(IssuanceError, match="expired"):
        expired.issue_server(["a.example"])


def test_ed25519_ca_can_issue_non_tls_leaves() -> None:
    root = CertificateAuthority.create_root("R", organization="O", key_type=KeyType.ED25519)
    issuing = root.create_intermediate("I", key_type=KeyType.ED25519)
    cert = issuing.issue_checkpoint_signer().cert
    assert isinstance(issuing.cert.public_key(), ed25519.Ed25519PublicKey)
    cert.verify_directly_issued_by(issuing.cert)
