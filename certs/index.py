"""The index of issued certificates and the revocation list's source.

``DATA_DIR/ca/issued/SERIAL.pem`` holds a copy of every certificate the CA issued (one
file each, written atomically, so a crash never corrupts the index), and
``revoked.json`` maps serials to ``{"revoked_at", "reason"}``. Everything ``certs
list`` shows (profile, names, issuer, expiry, status) is derived from the certificates
themselves. Serials are shown and accepted as lowercase hex; colons and a ``0x`` prefix
are ignored on input.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.ca import AUDIT_RECIPIENT_EKU, CHECKPOINT_SIGNER_EKU
from certs.crl import REASONS, RevokedEntry
from certs.errors import CaStateError, KeyFileError
from certs.keys import write_atomic
from certs.layout import CaLayout

__all__ = [
    "EXPIRY_WARNING",
    "CertRecord",
    "Status",
    "describe",
    "load_revoked",
    "parse_serial",
    "record_issued",
    "save_revoked",
    "serial_hex",
]

Status = Literal["valid", "expiring", "expired", "revoked", "not-yet-valid"]
#: A certificate this close to its end is listed as ``expiring`` (and warned about).
EXPIRY_WARNING = dt.timedelta(days=30)


def serial_hex(serial: int) -> str:
    """The serial as shown to admins: lowercase hex, no separators."""
    return format(serial, "x")


def parse_serial(text: str) -> int:
    """An admin-typed serial (hex, colons and ``0x`` allowed) as an int."""
    cleaned = text.strip().lower().replace(":", "").removeprefix("0x")
    if not cleaned or len(cleaned) > 40:
        raise CaStateError(f"not a certificate serial: {text!r}")
    try:
        return int(cleaned, 16)
    except ValueError:
        raise CaStateError(f"not a certificate serial: {text!r}") from None


def record_issued(layout: CaLayout, cert: x509.Certificate) -> None:
    """Add ``cert`` to the index (idempotent)."""
    path = layout.issued_dir / f"{serial_hex(cert.serial_number)}.pem"
    write_atomic(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def load_issued(layout: CaLayout) -> list[x509.Certificate]:
    """Every indexed certificate, oldest first."""
    if not layout.issued_dir.is_dir():
        return []
    certs = []
    for path in layout.issued_dir.glob("*.pem"):
        try:
            certs.append(x509.load_pem_x509_certificate(path.read_bytes()))
        except ValueError:
            raise KeyFileError(path, "not a PEM certificate") from None
    return sorted(certs, key=lambda c: (c.not_valid_before_utc, c.serial_number))


def find_issued(layout: CaLayout, serial: int) -> x509.Certificate:
    """The indexed certificate with ``serial`` (:class:`CaStateError` if unknown)."""
    path = layout.issued_dir / f"{serial_hex(serial)}.pem"
    if not path.exists():
        raise CaStateError(f"no certificate with serial {serial_hex(serial)} was issued here")
    return x509.load_pem_x509_certificate(path.read_bytes())


def load_revoked(layout: CaLayout) -> dict[int, RevokedEntry]:
    """The revoked serials (empty when nothing was revoked)."""
    try:
        data = json.loads(layout.revoked.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise KeyFileError(layout.revoked, f"unreadable: {exc}") from None
    entries = {}
    for key, item in data.items():
        serial = int(key, 16)
        entries[serial] = RevokedEntry(
            serial, dt.datetime.fromisoformat(item["revoked_at"]), item["reason"]
        )
    return entries


def save_revoked(layout: CaLayout, entries: dict[int, RevokedEntry]) -> None:
    """Write ``revoked.json`` atomically."""
    data = {
        serial_hex(e.serial): {"revoked_at": e.revoked_at.isoformat(), "reason": e.reason}
        for e in sorted(entries.values(), key=lambda e: e.serial)
    }
    write_atomic(layout.revoked, (json.dumps(data, indent=2) + "\n").encode(), 0o644)


def check_reason(reason: str) -> str:
    """``reason`` if it is one of :data:`certs.crl.REASONS`."""
    if reason not in REASONS:
        raise CaStateError(f"unknown revocation reason {reason!r} (one of {', '.join(REASONS)})")
    return reason


def _cn(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else name.rfc4514_string()


def profile_of(cert: x509.Certificate) -> str:
    """``server``, ``client``, ``audit-recipient``, ``checkpoint-signer`` or ``ca``."""
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return "ca"
    except x509.ExtensionNotFound:
        pass
    try:
        ekus = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return "unknown"
    for oid, name in (
        (ExtendedKeyUsageOID.SERVER_AUTH, "server"),
        (ExtendedKeyUsageOID.CLIENT_AUTH, "client"),
        (AUDIT_RECIPIENT_EKU, "audit-recipient"),
        (CHECKPOINT_SIGNER_EKU, "checkpoint-signer"),
    ):
        if oid in ekus:
            return name
    return "unknown"


def names_of(cert: x509.Certificate) -> list[str]:
    """The subject alternative names as strings (DNS, IP, URI)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = list(san.get_values_for_type(x509.DNSName))
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    names += list(san.get_values_for_type(x509.UniformResourceIdentifier))
    return names


def _warning_margin(cert: x509.Certificate) -> dt.timedelta:
    """30 days, or a third of the lifetime for short-lived certificates."""
    return min(EXPIRY_WARNING, (cert.not_valid_after_utc - cert.not_valid_before_utc) / 3)


@dataclass(frozen=True, slots=True)
class CertRecord:
    """One line of ``certs list`` / the admin page."""

    serial: str
    profile: str
    common_name: str
    names: tuple[str, ...]
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    status: Status
    revoked_at: dt.datetime | None
    reason: str | None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (ISO 8601 times)."""
        return {
            "serial": self.serial,
            "profile": self.profile,
            "common_name": self.common_name,
            "names": list(self.names),
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "status": self.status,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "reason": self.reason,
        }


def describe(
    cert: x509.Certificate, revoked: dict[int, RevokedEntry], now: dt.datetime
) -> CertRecord:
    """The :class:`CertRecord` of ``cert`` at ``now``."""
    entry = revoked.get(cert.serial_number)
    status: Status
    if entry is not None:
        status = "revoked"
    elif now >= cert.not_valid_after_utc:
        status = "expired"
    elif now < cert.not_valid_before_utc:
        status = "not-yet-valid"
    elif cert.not_valid_after_utc - now < _warning_margin(cert):
        status = "expiring"
    else:
        status = "valid"
    return CertRecord(
        serial=serial_hex(cert.serial_number),
        profile=profile_of(cert),
        common_name=_cn(cert.subject),
        names=tuple(names_of(cert)),
        issuer=_cn(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        status=status,
        revoked_at=entry.revoked_at if entry else None,
        reason=entry.reason if entry else None,
    )
