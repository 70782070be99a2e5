"""Signed session summaries (issue 18): what a help desk files as the record of a
remote session, signed so that anyone holding the organisation's root certificate can
check it came from the broker unchanged.

A signed summary is ``{"summary": {...}, "signature": {...}}``. The signature is
Ed25519 by the broker's checkpoint key (the key that signs session-log checkpoints;
its certificate, with the checkpoint-signer EKU, chains to the organisation's root)
over the canonical JSON (:mod:`audit.canonical`) of ``summary`` — so times are ISO
strings and durations integer milliseconds, never floats. ``signature`` carries
``alg`` (``Ed25519``), ``key_id`` (:func:`audit.checkpoint.key_id`), ``value``
(base64url, no padding) and ``certificate`` (the signer's PEM certificate followed by
its intermediate). This module signs and checks the signature against the attached
certificate's key; the chain to a root is checked by the caller
(``certs.verify.verify_checkpoint_signer``; ``clearpane audit verify-summary``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.canonical import canonical_json
from audit.checkpoint import key_id
from audit.errors import AuditError

__all__ = ["FORMAT", "SignedSummary", "SummaryError", "sign_summary", "verify_summary"]

FORMAT = "clearpane.session-summary.v1"


class SummaryError(AuditError):
    """A signed summary is malformed or its signature does not verify."""


@dataclass(frozen=True, slots=True)
class SignedSummary:
    """A summary whose signature verified against ``certificate``'s key."""

    summary: dict[str, Any]
    certificate: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_summary(
    summary: Mapping[str, Any],
    private_key: ed25519.Ed25519PrivateKey,
    certificate_pem: str,
    *,
    signing_key_id: str | None = None,
) -> dict[str, Any]:
    """``{"summary", "signature"}`` for ``summary`` (must be canonical-JSON-able)."""
    payload = canonical_json(dict(summary))
    return {
        "summary": dict(summary),
        "signature": {
            "alg": "Ed25519",
            "key_id": signing_key_id or key_id(private_key.public_key()),
            "value": _b64u(private_key.sign(payload)),
            "certificate": certificate_pem,
        },
    }


def verify_summary(document: object) -> SignedSummary:
    """Check the signature of a signed summary against its attached certificate;
    raise :class:`SummaryError` saying what is wrong."""
    if not isinstance(document, Mapping):
        raise SummaryError("a signed summary is a JSON object")
    summary, signature = document.get("summary"), document.get("signature")
    if not isinstance(summary, Mapping) or not isinstance(signature, Mapping):
        raise SummaryError("expected {'summary': {...}, 'signature': {...}}")
    if summary.get("format") != FORMAT:
        raise SummaryError(f"not a {FORMAT} summary")
    if signature.get("alg") != "Ed25519":
        raise SummaryError("the signature algorithm must be Ed25519")
    value, pem = signature.get("value"), signature.get("certificate")
    if not isinstance(value, str) or not isinstance(pem, str):
        raise SummaryError("the signature needs 'value' and 'certificate'")
    try:
        certs = x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SummaryError("the attached certificate is not PEM") from None
    key = certs[0].public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SummaryError("the signer's key is not Ed25519")
    if signature.get("key_id") not in (None, key_id(key)):
        raise SummaryError("the key id does not match the attached certificate")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        key.verify(raw, canonical_json(dict(summary)))
    except (InvalidSignature, binascii.Error, ValueError):
        raise SummaryError("the signature does not match the summary (altered?)") from None
    return SignedSummary(dict(summary), certs[0], tuple(certs[1:]))
