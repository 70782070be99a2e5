"""Errors of the ``certs`` package.

One root, :class:`CertError`; each subclass carries structured fields and builds its
text in ``__str__`` so callers (CLI, broker start-up) can both print and branch on it.
Messages never contain key material or passphrases.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CaStateError",
    "CertError",
    "CertVerificationError",
    "IssuanceError",
    "KeyFileError",
    "PassphraseError",
]


class CertError(Exception):
    """Root of every error raised by ``certs``."""


class IssuanceError(CertError):
    """A certificate request was refused before anything was signed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"certificate not issued: {self.reason}"


class KeyFileError(CertError):
    """A key or certificate file is missing, unreadable, malformed or too permissive."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class PassphraseError(KeyFileError):
    """An encrypted private key did not decrypt with the passphrase given."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "wrong passphrase (or the key file is corrupt)")


class CertVerificationError(CertError):
    """A certificate (chain) failed verification.

    ``subject`` is the leaf's subject as an RFC 4514 string, ``reason`` says why.
    """

    def __init__(self, subject: str, reason: str) -> None:
        super().__init__(subject, reason)
        self.subject = subject
        self.reason = reason

    def __str__(self) -> str:
        return f"certificate {self.subject!r} rejected: {self.reason}"


class CaStateError(CertError):
    """The CA is not in a state that allows the action (not initialised, already
    initialised, unknown or already revoked serial, no rotation in progress, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
