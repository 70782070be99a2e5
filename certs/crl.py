"""Certificate revocation lists: build, load, and check a leaf against them.

Each issuing CA signs its own CRL (``crl_sign`` is in every CA key usage). The broker
publishes ``DATA_DIR/ca/crl.pem`` (all current CRLs, concatenated) at ``GET
/api/v1/crl`` and enforces it on mutual-TLS handshakes (OpenSSL
``VERIFY_CRL_CHECK_LEAF``); Python code checks it with :func:`check_not_revoked`.

A CRL is valid for :data:`CRL_LIFETIME` and re-signed well before it goes stale
(:func:`needs_refresh`): a verifier refuses a stale CRL rather than assume nothing was
revoked. ``last_update`` strictly increases from one CRL to the next, because OpenSSL
prefers the newer of two CRLs of the same issuer only by that field, and the CRL number
extension increases too (RFC 5280 §5.2.3).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from certs.ca import BACKDATE, CertificateAuthority
from certs.errors import CertVerificationError, KeyFileError
from certs.keys import write_atomic

__all__ = [
    "CRL_LIFETIME",
    "REASONS",
    "RevokedEntry",
    "build_crl",
    "check_not_revoked",
    "crl_number",
    "load_crls",
    "needs_refresh",
    "write_crls",
]

CRL_LIFETIME = dt.timedelta(days=7)
#: Reasons an admin may give (RFC 5280 §5.3.1 names, dashed).
REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key-compromise": x509.ReasonFlags.key_compromise,
    "ca-compromise": x509.ReasonFlags.ca_compromise,
    "affiliation-changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation-of-operation": x509.ReasonFlags.cessation_of_operation,
}


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    """One revoked certificate: serial, when, why (a key of :data:`REASONS`)."""

    serial: int
    revoked_at: dt.datetime
    reason: str = "unspecified"


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """The CRL number extension (0 when absent)."""
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


def build_crl(
    issuer: CertificateAuthority,
    revoked: Iterable[RevokedEntry],
    *,
    previous: x509.CertificateRevocationList | None = None,
    lifetime: dt.timedelta = CRL_LIFETIME,
) -> x509.CertificateRevocationList:
    """A CRL signed by ``issuer`` listing ``revoked``; numbered after ``previous``."""
    # Back-dated like certificates (a verifier whose clock is a little behind must not
    # see a CRL from the future) and to whole seconds, as it is encoded.
    now = (issuer.clock() - BACKDATE).replace(microsecond=0)
    number = 1
    if previous is not None:
        number = crl_number(previous) + 1
        # Strictly newer than the previous CRL (OpenSSL picks the newest by this field).
        now = max(now, previous.last_update_utc + dt.timedelta(seconds=1))
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now)
        .next_update(now + lifetime)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    )
    for entry in sorted(revoked, key=lambda e: e.serial):
        item = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
            .add_extension(x509.CRLReason(REASONS[entry.reason]), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(item)
    algorithm = None if isinstance(issuer.key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer.key, algorithm)


def needs_refresh(crl: x509.CertificateRevocationList, now: dt.datetime) -> bool:
    """True when less than half of the CRL's validity is left."""
    next_update = crl.next_update_utc
    if next_update is None:
        return True
    return next_update - now < (next_update - crl.last_update_utc) / 2


def write_crls(path: Path, crls: Sequence[x509.CertificateRevocationList]) -> None:
    """Write CRLs as concatenated PEM, atomically (mode 0644)."""
    write_atomic(path, b"".join(c.public_bytes(serialization.Encoding.PEM) for c in crls), 0o644)


def load_crls(path: Path) -> list[x509.CertificateRevocationList]:
    """Every CRL of a PEM file (an empty list if the file does not exist)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise KeyFileError(path, f"cannot read: {exc.strerror}") from None
    marker = b"-----END X509 CRL-----"
    crls = []
    for chunk in data.split(marker)[:-1]:
        try:
            crls.append(x509.load_pem_x509_crl(chunk + marker + b"\n"))
        except ValueError:
            raise KeyFileError(path, "not a PEM CRL file") from None
    return crls


def check_not_revoked(
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    crls: Sequence[x509.CertificateRevocationList],
    *,
    at: dt.datetime,
) -> None:
    """Raise :class:`CertVerificationError` unless a current CRL signed by ``issuer``
    exists and does not list ``leaf``. ``issuer`` must come from a verified chain.

    No CRL for the issuer, or only stale ones, is a refusal (fail closed).
    """
    subject = leaf.subject.rfc4514_string()
    candidates = [
        c
        for c in crls
        if c.issuer == issuer.subject and c.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    ]
    if not candidates:
        raise CertVerificationError(subject, "no CRL from its issuer")
    crl = max(candidates, key=crl_number)
    if crl.last_update_utc > at or (crl.next_update_utc is not None and crl.next_update_utc < at):
        raise CertVerificationError(subject, "the issuer's CRL is not current")
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    if entry is not None:
        raise CertVerificationError(subject, "revoked")
