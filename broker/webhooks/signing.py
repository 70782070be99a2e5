"""Signing and verifying webhook requests (docs/webhooks.md).

The broker sends ``X-Clearpane-Timestamp: <unix seconds>`` and
``X-Clearpane-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>``. The
timestamp is inside the MAC so a captured request cannot be replayed later than the
receiver's tolerance. Several ``v1=`` values may be listed (comma separated) so that a
secret can be rotated without a gap; one match is enough.

Standard library only: receivers may copy this module as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from broker.webhooks.errors import SignatureError

__all__ = ["SCHEME", "SECRET_PREFIX", "new_secret", "sign", "signature_header", "verify_signature"]

SCHEME = "v1"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300.0


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and 256 random bits (URL-safe base64)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp + "." + body`` under ``secret`` (UTF-8)."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Clearpane-Signature`` value: ``v1=<hex>``."""
    return f"{SCHEME}={sign(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> None:
    """Check a received webhook; raise :class:`SignatureError` unless it is authentic
    and fresh.

    ``timestamp`` and ``header`` are the ``X-Clearpane-Timestamp`` and
    ``X-Clearpane-Signature`` headers, ``body`` the raw request body (before any JSON
    parsing), ``now`` the receiver's Unix time in seconds. The timestamp must be within
    ``tolerance_s`` of ``now`` either way. Compares in constant time.
    """
    text = str(timestamp).strip()
    if not text.isdigit() or len(text) > 12:
        raise SignatureError("timestamp is not a Unix time in seconds")
    age = now - int(text)
    if abs(age) > tolerance_s:
        raise SignatureError(f"timestamp is {age:.0f} s away from now (tolerance {tolerance_s} s)")
    expected = sign(secret, text, body)
    candidates = [
        value.strip()
        for scheme, _, value in (part.strip().partition("=") for part in header.split(","))
        if scheme == SCHEME
    ]
    if not candidates:
        raise SignatureError(f"no {SCHEME}= signature in the header")
    # Compare against every candidate (no early exit) to keep the timing flat.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode(), expected.encode())
    if not matched:
        raise SignatureError("signature does not match the body")
