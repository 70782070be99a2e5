"""Receivers' verify_signature: accepts what the broker signs, rejects a changed body,
a wrong secret, an old or future timestamp and malformed headers."""

from __future__ import annotations

import pytest

from broker.webhooks import SignatureError, new_secret, signature_header, verify_signature
from broker.webhooks.signing import sign

SECRET = "whsec_test-secret"
BODY = b'{"id":"e1","type":"ticket.created"}'
NOW = 1_800_000_000


def test_valid_signature_verifies() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert header.startswith("v1=") and len(header) == 3 + 64
    verify_signature(SECRET, str(NOW), BODY, header, now=NOW + 10.0, tolerance_s=300)


def test_known_vector() -> None:
    # printf '1.body' | openssl dgst -sha256 -hmac key
    expected = "91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5"
    assert sign("key", 1, b"body") == expected
    assert signature_header("key", "1", b"body") == "v1=" + expected


def test_tampered_body_rejected() -> None:
    header = signature_header(SECRET, NOW, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, NOW, BODY.replace(b"created", b"updated"), header, now=NOW)


def test_wrong_secret_rejected() -> None:
    header = signature_header(SECRET, NOW, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(new_secret(), NOW, BODY, header, now=NOW)


def test_changed_timestamp_rejected() -> None:
    header = signature_header(SECRET, NOW, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, NOW + 1, BODY, header, now=NOW)


def test_old_and_future_timestamps_rejected() -> None:
    header = signature_header(SECRET, NOW, BODY)
    with pytest.raises(SignatureError, match="away from now"):
        verify_signature(SECRET, NOW, BODY, header, now=NOW + 301, tolerance_s=300)
    with pytest.raises(SignatureError, match="away from now"):
        verify_signature(SECRET, NOW, BODY, header, now=NOW - 301, tolerance_s=300)


@pytest.mark.parametrize("header", ["", "v0=abc", "sha256=00", "v1"])
def test_malformed_header_rejected(header: str) -> None:
    with pytest.raises(SignatureError):
        verify_signature(SECRET, NOW, BODY, header, now=NOW)


@pytest.mark.parametrize("timestamp", ["", "abc", "-5", "1.5", "9" * 20])
def test_malformed_timestamp_rejected(timestamp: str) -> None:
    header = signature_header(SECRET, NOW, BODY)
    with pytest.raises(SignatureError, match="timestamp"):
        verify_signature(SECRET, timestamp, BODY, header, now=NOW)


def test_any_listed_signature_may_match() -> None:
    """Rotation: the header may carry several v1= values."""
    good = signature_header(SECRET, NOW, BODY)
    other = signature_header("whsec_old", NOW, BODY)
    verify_signature(SECRET, NOW, BODY, f"{other}, {good}", now=NOW)


def test_new_secrets_differ() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("whsec_") and len(a) >= 6 + 43
