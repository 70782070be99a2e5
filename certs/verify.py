"""Certificate chain verification, always through ``cryptography``'s ``PolicyBuilder``.

* :func:`verify_server_chain`: a TLS server leaf for a DNS name or IP (webpki rules).
* :func:`verify_client_chain`: a mutual-TLS client leaf (webpki rules, clientAuth).
* :func:`verify_audit_recipient`: the audit-recipient certificate the agent receives in
  ``audit.recipient`` (SPEC §3.4, §8.2) before it wraps content keys for it.
* :func:`verify_checkpoint_signer`: the certificate of the key that signs checkpoints.
* :func:`verify_root_endorsement`: a new root offered during a staged rotation is
  vouched for by a root already trusted (a cross-certificate, :mod:`certs.rotation`).

The server and client verifiers take optional ``crls``: after ``PolicyBuilder`` built
the chain, the leaf is checked against its (verified) issuer's CRL
(:func:`certs.crl.check_not_revoked`) — a missing or stale CRL is a refusal.

The last two also go through ``PolicyBuilder`` (client verifier) with the webpki CA
policy unchanged and an end-entity policy that requires *our* EKU and key usage instead
of clientAuth. ``cryptography`` accepts an X25519 end-entity key there: the chain's
signatures are made by the CA keys, and the leaf's key is only checked for its type
afterwards. Nothing here compares signatures or dates by hand.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.x509 import verification as v

from certs.ca import AUDIT_RECIPIENT_EKU, CHECKPOINT_SIGNER_EKU
from certs.crl import check_not_revoked
from certs.errors import CertVerificationError

__all__ = [
    "VerifiedAuditRecipient",
    "VerifiedCheckpointSigner",
    "fingerprint",
    "verify_audit_recipient",
    "verify_checkpoint_signer",
    "verify_client_chain",
    "verify_root_endorsement",
    "verify_server_chain",
]

Crls = Sequence[x509.CertificateRevocationList]


def fingerprint(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the DER certificate (``recipient_fingerprint`` in SPEC §3.4)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def _now(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise ValueError("verification time must be timezone-aware")
    return at


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def verify_server_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    host: str,
    *,
    at: dt.datetime | None = None,
    crls: Crls | None = None,
) -> list[x509.Certificate]:
    """Verify a TLS server chain for ``host`` (a DNS name or an IP literal).

    Returns the verified chain, leaf first, root last; raises
    :class:`CertVerificationError` otherwise (also when ``crls`` revoke the leaf).
    """
    subject: x509.DNSName | x509.IPAddress
    try:
        subject = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        subject = x509.DNSName(host)
    when = _now(at)
    builder = v.PolicyBuilder().store(v.Store(list(roots))).time(when)
    try:
        chain = builder.build_server_verifier(subject).verify(leaf, list(intermediates))
    except v.VerificationError as exc:
        raise CertVerificationError(_subject(leaf), str(exc)) from None
    if crls is not None:
        check_not_revoked(leaf, chain[1], crls, at=when)
    return chain


def verify_client_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    at: dt.datetime | None = None,
    crls: Crls | None = None,
) -> v.VerifiedClient:
    """Verify a mutual-TLS client chain (clientAuth EKU). Returns SANs and chain.

    With ``crls`` a revoked leaf (or one whose issuer has no current CRL) is refused.
    """
    when = _now(at)
    builder = v.PolicyBuilder().store(v.Store(list(roots))).time(when)
    try:
        verified = builder.build_client_verifier().verify(leaf, list(intermediates))
    except v.VerificationError as exc:
        raise CertVerificationError(_subject(leaf), str(exc)) from None
    if crls is not None:
        check_not_revoked(leaf, verified.chain[1], crls, at=when)
    return verified


def _ee_policy(eku: x509.ObjectIdentifier, usage: str) -> v.ExtensionPolicy:
    """webpki-like end-entity rules with our private EKU and one required key usage."""

    def check_eku(_p: v.Policy, _c: x509.Certificate, ext: x509.ExtendedKeyUsage) -> None:
        if eku not in list(ext):
            raise ValueError(f"extended key usage {eku.dotted_string} missing")

    def check_usage(_p: v.Policy, _c: x509.Certificate, ext: x509.KeyUsage) -> None:
        if not getattr(ext, usage) or ext.key_cert_sign:
            raise ValueError(f"key usage must include {usage} and not keyCertSign")

    def check_not_ca(_p: v.Policy, _c: x509.Certificate, ext: x509.BasicConstraints | None) -> None:
        if ext is not None and ext.ca:
            raise ValueError("an end-entity certificate must not be a CA")

    return (
        v.ExtensionPolicy.permit_all()
        .require_present(x509.ExtendedKeyUsage, v.Criticality.AGNOSTIC, check_eku)
        .require_present(x509.KeyUsage, v.Criticality.CRITICAL, check_usage)
        .may_be_present(x509.BasicConstraints, v.Criticality.AGNOSTIC, check_not_ca)
    )


def _verify_purpose(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    at: dt.datetime | None,
    eku: x509.ObjectIdentifier,
    usage: str,
) -> list[x509.Certificate]:
    builder = (
        v.PolicyBuilder()
        .store(v.Store(list(roots)))
        .time(_now(at))
        .extension_policies(
            ca_policy=v.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=_ee_policy(eku, usage),
        )
    )
    try:
        return builder.build_client_verifier().verify(leaf, list(intermediates)).chain
    except v.VerificationError as exc:
        raise CertVerificationError(_subject(leaf), str(exc)) from None


@dataclass(frozen=True)
class VerifiedAuditRecipient:
    """An audit-recipient certificate that chains to the organisation CA."""

    cert: x509.Certificate
    public_key: x25519.X25519PublicKey
    fingerprint: str
    chain: tuple[x509.Certificate, ...]


def verify_audit_recipient(
    cert: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    at: dt.datetime | None = None,
) -> VerifiedAuditRecipient:
    """Check an audit-recipient certificate was issued by the organisation CA.

    Requires: a valid chain to one of ``roots`` at ``at``, the audit-recipient EKU,
    key usage keyAgreement (critical), not a CA, and an X25519 public key.
    """
    chain = _verify_purpose(cert, intermediates, roots, at, AUDIT_RECIPIENT_EKU, "key_agreement")
    key = cert.public_key()
    if not isinstance(key, x25519.X25519PublicKey):
        raise CertVerificationError(_subject(cert), "audit recipient key is not X25519")
    return VerifiedAuditRecipient(cert, key, fingerprint(cert), tuple(chain))


@dataclass(frozen=True)
class VerifiedCheckpointSigner:
    """A checkpoint-signer certificate that chains to the organisation CA."""

    cert: x509.Certificate
    public_key: ed25519.Ed25519PublicKey
    chain: tuple[x509.Certificate, ...]


def verify_checkpoint_signer(
    cert: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    at: dt.datetime | None = None,
) -> VerifiedCheckpointSigner:
    """Check a checkpoint-signer certificate (Ed25519, checkpoint EKU) chains to a root."""
    chain = _verify_purpose(
        cert, intermediates, roots, at, CHECKPOINT_SIGNER_EKU, "digital_signature"
    )
    key = cert.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise CertVerificationError(_subject(cert), "checkpoint signer key is not Ed25519")
    return VerifiedCheckpointSigner(cert, key, tuple(chain))


def verify_root_endorsement(
    new_root: x509.Certificate,
    cross_cert: x509.Certificate,
    trusted_roots: Sequence[x509.Certificate],
    *,
    at: dt.datetime | None = None,
) -> x509.Certificate:
    """Accept ``new_root`` only if ``cross_cert`` (same subject and public key) is a CA
    certificate issued by one of ``trusted_roots``; return the endorsing root.

    This is how an agent learns a rotated root without being reinstalled: the old
    root's key vouches for the new one, checked by ``PolicyBuilder`` with the
    cross-certificate as the end entity.
    """
    if new_root.subject != cross_cert.subject or new_root.public_key() != cross_cert.public_key():
        raise CertVerificationError(_subject(new_root), "the cross-certificate is for another key")

    def check_ca(_p: v.Policy, _c: x509.Certificate, ext: x509.BasicConstraints) -> None:
        if not ext.ca:
            raise ValueError("a root endorsement must certify a CA")

    def check_usage(_p: v.Policy, _c: x509.Certificate, ext: x509.KeyUsage) -> None:
        if not ext.key_cert_sign:
            raise ValueError("a root endorsement must allow keyCertSign")

    ee = (
        v.ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, v.Criticality.CRITICAL, check_ca)
        .require_present(x509.KeyUsage, v.Criticality.CRITICAL, check_usage)
    )
    builder = (
        v.PolicyBuilder()
        .store(v.Store(list(trusted_roots)))
        .time(_now(at))
        .extension_policies(ca_policy=v.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee)
    )
    try:
        chain = builder.build_client_verifier().verify(cross_cert, []).chain
    except v.VerificationError as exc:
        raise CertVerificationError(_subject(new_root), f"not endorsed: {exc}") from None
    return chain[-1]
