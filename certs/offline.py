"""Keys where they belong (issue 14): the root key offline, the audit-recipient key on
a reviewer's machine; the broker host keeps the online issuing CA and certificates.

- :func:`move_root_offline` puts ``root.key`` into a folder the admin then takes off
  the host (``certs init --offline-root DIR``, or later ``certs move-keys``);
- :func:`make_audit_request` (reviewer's machine) makes an X25519 key: the private half
  goes into the replay page's key file (``clearpane-audit-key``), the public half into a
  request file for the CA;
- :func:`sign_audit_request` (CA) certifies the request's public key as the audit
  recipient; the data directory then holds ``audit.pem`` only. An existing
  ``audit.key`` must first be exported for the reviewers (recordings wrapped for it
  still need it) and is then removed;
- :func:`move_keys_out` is the migration of an existing data directory: both of the
  above for the keys it already holds.

With no ``audit.key`` the broker's start-up renews ``audit.pem`` from the certificate's
own public key (:func:`renew_external_audit`), never by making a new key.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from certs.ca import CertificateAuthority
from certs.errors import IssuanceError, KeyFileError
from certs.index import record_issued
from certs.keys import load_certificate, load_private_key, write_certificates
from certs.layout import CaLayout
from certs.verify import fingerprint

__all__ = [
    "KEY_TYPE",
    "REQUEST_TYPE",
    "make_audit_request",
    "move_keys_out",
    "move_root_offline",
    "renew_external_audit",
    "reviewer_key_doc",
    "sign_audit_request",
]

#: The replay page's key file (viewer/js/pages/replay.js, ``clearpane audit reviewer-key``).
KEY_TYPE = "clearpane-audit-key"
REQUEST_TYPE = "clearpane-audit-key-request"


def _b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _write_private(path: Path, text: str) -> None:
    """A file only its owner can read, written whole."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def reviewer_key_doc(key: x25519.X25519PrivateKey, cert: x509.Certificate | None) -> str:
    """The replay page's key file for ``key`` (fingerprint of its certificate, if known)."""
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    doc = {
        "type": KEY_TYPE,
        "fingerprint": fingerprint(cert) if cert is not None else "",
        "x25519_private": _b64u(raw),
    }
    return json.dumps(doc) + "\n"


def make_audit_request(key_out: Path, request_out: Path) -> str:
    """Reviewer's machine: a new audit-recipient key into ``key_out`` (the replay page's
    key file, mode 0600) and its public half into ``request_out``; returns the public
    key's base64url text (to compare by phone with what the CA signs)."""
    key = x25519.X25519PrivateKey.generate()
    public = _b64u(key.public_key().public_bytes_raw())
    _write_private(key_out, reviewer_key_doc(key, None))
    request_out.write_text(json.dumps({"type": REQUEST_TYPE, "x25519_public": public}) + "\n")
    return public


def _request_key(request: Path) -> x25519.X25519PublicKey:
    try:
        doc = json.loads(request.read_text())
        if doc.get("type") != REQUEST_TYPE:
            raise ValueError("not an audit-key request")
        return x25519.X25519PublicKey.from_public_bytes(_unb64u(str(doc["x25519_public"])))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IssuanceError(f"{request}: {exc}") from None


def _export_and_remove_audit_key(layout: CaLayout, pw: bytes, dest: Path) -> None:
    """Write the data dir's audit key as a reviewer key file at ``dest``, then delete it."""
    key = load_private_key(layout.audit_key, pw)
    if not isinstance(key, x25519.X25519PrivateKey):
        raise KeyFileError(layout.audit_key, "the audit key must be X25519")
    cert = load_certificate(layout.audit_cert) if layout.audit_cert.exists() else None
    _write_private(dest, reviewer_key_doc(key, cert))
    layout.audit_key.unlink()


def sign_audit_request(
    layout: CaLayout,
    issuing: CertificateAuthority,
    pw: bytes,
    request: Path,
    *,
    old_key_to: Path | None = None,
) -> x509.Certificate:
    """CA: certify the request's key as the audit recipient and install ``audit.pem``.
    A data dir that still holds ``audit.key`` needs ``old_key_to`` (where to export it for
    the reviewers of older recordings); it is then removed from the data dir."""
    public = _request_key(request)
    if layout.audit_key.exists():
        if old_key_to is None:
            raise IssuanceError(
                f"{layout.audit_key} exists: give --old-key-to FILE to export it for the "
                "reviewers of older recordings (it is then removed from this host)"
            )
        _export_and_remove_audit_key(layout, pw, old_key_to)
    cert, chain = issuing.issue_audit_recipient_for(public)
    write_certificates(layout.audit_cert, (cert, *chain))
    record_issued(layout, cert)
    return cert


def renew_external_audit(
    layout: CaLayout,
    issuing: CertificateAuthority,
    now: dt.datetime,
    *,
    force: bool,
    margin: dt.timedelta,
) -> None:
    """Start-up with no ``audit.key``: renew ``audit.pem`` for the same public key when it
    nears expiry or the issuing CA changed (the private key stays with the reviewers)."""
    cert = load_certificate(layout.audit_cert)
    public = cert.public_key()
    if not isinstance(public, x25519.X25519PublicKey):
        raise KeyFileError(layout.audit_cert, "the audit recipient must be an X25519 key")
    stale = cert.not_valid_after_utc - now < margin or cert.issuer != issuing.cert.subject
    if force or stale:
        new, chain = issuing.issue_audit_recipient_for(public)
        write_certificates(layout.audit_cert, (new, *chain))
        record_issued(layout, new)


def move_root_offline(layout: CaLayout, dest_dir: Path) -> Path:
    """Move ``root.key`` (still encrypted) into ``dest_dir``; returns its new path."""
    if not layout.root_key.exists():
        raise KeyFileError(layout.root_key, "no root key here (already offline?)")
    dest_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    dest = dest_dir / "root.key"
    _write_private(dest, layout.root_key.read_text("ascii"))
    layout.root_key.unlink()
    return dest


def move_keys_out(layout: CaLayout, pw: bytes, dest_dir: Path) -> list[Path]:
    """The migration of an existing data dir: the root key and the audit-recipient key
    leave it (into ``dest_dir``, for the admin to take off the host and hand the
    reviewer key file to the reviewers). Returns the files written."""
    written: list[Path] = []
    dest_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if layout.audit_key.exists():
        dest = dest_dir / "audit-reviewer-key.json"
        _export_and_remove_audit_key(layout, pw, dest)
        written.append(dest)
    if layout.root_key.exists():
        written.append(move_root_offline(layout, dest_dir))
    return written
