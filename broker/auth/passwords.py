"""Password hashing with argon2id (memory-hard, DESIGN §7) and random passwords."""

from __future__ import annotations

import asyncio
import secrets

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["PASSWORDS", "PasswordService", "random_password"]

_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def random_password(length: int = 20) -> str:
    """A random password without look-alike characters (about 5.8 bits each)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class PasswordService:
    """argon2id hashing; the slow work runs in a thread so the event loop stays free."""

    MIN_LENGTH = 10

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        """The argon2id hash of ``password`` (blocking)."""
        return self._hasher.hash(password)

    async def hash_async(self, password: str) -> str:
        """:meth:`hash` in a worker thread."""
        return await asyncio.to_thread(self._hasher.hash, password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; a ``None`` hash costs the same and fails."""
        if password_hash is None and self._dummy is None:
            # Verified against when the user does not exist, so timing does not tell.
            self._dummy = self._hasher.hash(random_password())
        try:
            return self._hasher.verify(password_hash or self._dummy or "", password) and (
                password_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify_async(self, password_hash: str | None, password: str) -> bool:
        """:meth:`verify` in a worker thread."""
        return await asyncio.to_thread(self.verify, password_hash, password)


# The application's hasher (set by broker.app.create_app; tests inject a cheap one).
PASSWORDS = web.AppKey[PasswordService]("passwords")
