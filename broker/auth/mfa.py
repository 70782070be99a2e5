"""Staff MFA (issue 14): TOTP (RFC 6238, 30 s steps, 6 digits, one step of clock drift
either way) with single-use recovery codes.

- A user enrols in two steps: ``POST /auth/mfa/setup`` draws a secret and shows it (and
  its ``otpauth://`` URI for an authenticator app); ``POST /auth/mfa/enable`` with that
  secret and a current code stores it and returns ten recovery codes, once. The store
  keeps the secret (needed to check codes) and only SHA-256 hashes of the recovery codes
  (each has 50 random bits).
- Login then needs ``otp``: a current code or an unused recovery code (which is used up);
  a TOTP code is accepted once (its time step is spent in the store).
- ``CLEARPANE_MFA_REQUIRED_ROLES`` enforces MFA per role: a user of such a role without
  MFA may only enrol (and see ``/me``, log out) until they have.
"""

from __future__ import annotations

import hashlib
import secrets

import pyotp

from broker.store import queries
from broker.store.db import Database

__all__ = [
    "ENROL_PATHS",
    "RECOVERY_CODES",
    "check_code",
    "hash_recovery",
    "matching_step",
    "new_recovery_codes",
    "new_secret",
    "provisioning_uri",
    "verify_login_code",
]

#: How many recovery codes an enrolment hands out.
RECOVERY_CODES = 10
#: The API paths a user who must enrol may still call.
ENROL_PATHS = frozenset(
    {"/api/v1/me", "/api/v1/auth/logout", "/api/v1/auth/mfa/setup", "/api/v1/auth/mfa/enable"}
)
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read out or typed


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Clearpane")


def matching_step(secret: str, code: str, now_ms: int) -> int | None:
    """The 30 s time step whose TOTP of ``secret`` is ``code`` (now ± one step), or None."""
    digits = code.replace(" ", "")
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_s = now_ms // 1000
    for offset in (0, -1, 1):
        at = now_s + offset * totp.interval
        if secrets.compare_digest(totp.at(at), digits):
            return at // totp.interval
    return None


def check_code(secret: str, code: str, now_ms: int) -> bool:
    """Whether ``code`` is the TOTP of ``secret`` now (± one 30 s step)."""
    return matching_step(secret, code, now_ms) is not None


def new_recovery_codes() -> list[str]:
    """Ten codes like ``k7m2-q9xa-3f``: 10 characters of a 31-letter alphabet each."""
    out = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        out.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return out


def hash_recovery(code: str) -> str:
    """What the store keeps of a recovery code (dashes, spaces and case do not matter)."""
    norm = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(b"clearpane-recovery\0" + norm.encode()).hexdigest()


async def verify_login_code(db: Database, user_id: str, code: str, now_ms: int) -> bool:
    """Check a login's ``otp``: a TOTP code, or a recovery code (then used up)."""
    secret, recovery = await queries.get_mfa(db, user_id)
    if secret is None:
        return True
    step = matching_step(secret, code, now_ms)
    if step is not None:
        # Each code works once: its (user, step) is spent, store-backed, on every node.
        return await queries.spend_token(
            db, f"totp:{user_id}:{step}", expires_at_ms=now_ms + 120_000, now_ms=now_ms
        )
    hashed = hash_recovery(code)
    if hashed in recovery:
        await queries.set_mfa(
            db, user_id, secret=secret, recovery=[h for h in recovery if h != hashed]
        )
        return True
    return False
