"""Key types, key generation and key/certificate files at rest.

Private keys are written encrypted (PKCS#8, ``BestAvailableEncryption``) with mode 0600,
atomically (temporary file in the same folder, fsync, ``os.replace``), so a crash never
leaves half a key. The one exception is :func:`write_private_key_unencrypted`, used only
for the broker's TLS leaf key: :mod:`ssl` cannot be handed a passphrase without keeping it
in memory for every reload, and that key is short-lived (90 days) and bound to one host.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519

from certs.errors import KeyFileError, PassphraseError

__all__ = [
    "KeyType",
    "PrivateKey",
    "SigningKey",
    "generate_key",
    "load_certificate",
    "load_certificates",
    "load_private_key",
    "load_signing_key",
    "write_atomic",
    "write_certificates",
    "write_private_key",
    "write_private_key_unencrypted",
]

#: Keys that can sign certificates (CA keys) or TLS handshakes.
SigningKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
#: Every private key type this package handles (X25519 only for audit recipients).
PrivateKey: TypeAlias = SigningKey | x25519.X25519PrivateKey

PRIVATE_MODE = 0o600


class KeyType(enum.Enum):
    """Key algorithms.

    ``ECDSA_P256`` is the default for the CA and TLS leaves: Chromium does not accept
    Ed25519 in TLS certificates. ``ED25519`` suits non-TLS signing (audit checkpoints,
    client certificates used only by our own code). ``X25519`` is key agreement only
    (the audit recipient, SPEC §8.2) and can never sign.
    """

    ECDSA_P256 = "ecdsa-p256"
    ED25519 = "ed25519"
    X25519 = "x25519"

    @property
    def can_sign(self) -> bool:
        """Whether a key of this type can sign certificates."""
        return self is not KeyType.X25519


def generate_key(key_type: KeyType) -> PrivateKey:
    """Generate a fresh private key of ``key_type``."""
    if key_type is KeyType.ECDSA_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if key_type is KeyType.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    return x25519.X25519PrivateKey.generate()


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` with ``mode`` set before any byte is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # umask cannot widen it, an existing tmp cannot keep its mode
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_private_key(path: Path, key: PrivateKey, passphrase: bytes) -> None:
    """Write ``key`` as encrypted PKCS#8 PEM, mode 0600."""
    if not passphrase:
        raise KeyFileError(path, "refusing to write a private key with an empty passphrase")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    write_atomic(path, pem, PRIVATE_MODE)


def write_private_key_unencrypted(path: Path, key: PrivateKey) -> None:
    """Write ``key`` as plain PKCS#8 PEM, mode 0600 (the broker's TLS leaf key only)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomic(path, pem, PRIVATE_MODE)


def load_private_key(path: Path, passphrase: bytes | None) -> PrivateKey:
    """Load a PEM private key; ``passphrase`` None means the file is unencrypted.

    Raises :class:`KeyFileError` if the file is missing, malformed, of an unsupported
    type or readable by group/others; :class:`PassphraseError` if it does not decrypt.
    """
    try:
        st = path.stat()
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(path, f"cannot read: {exc.strerror}") from None
    if st.st_mode & 0o077:
        raise KeyFileError(path, f"mode {st.st_mode & 0o777:o} is too open (want 600)")
    try:
        key = serialization.load_pem_private_key(data, passphrase)
    except TypeError as exc:  # encrypted but no passphrase, or the reverse
        raise KeyFileError(path, str(exc)) from None
    except ValueError:
        if passphrase is not None:
            raise PassphraseError(path) from None
        raise KeyFileError(path, "not a PEM private key") from None
    if not isinstance(
        key,
        ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey,
    ):
        raise KeyFileError(path, f"unsupported key type {type(key).__name__}")
    return key


def write_certificates(path: Path, certs: Sequence[x509.Certificate]) -> None:
    """Write one or more certificates as concatenated PEM (public: mode 0644)."""
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    write_atomic(path, pem, 0o644)


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Load every certificate of a PEM file (at least one)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(path, f"cannot read: {exc.strerror}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise KeyFileError(path, "not a PEM certificate file") from None
    return certs


def load_certificate(path: Path) -> x509.Certificate:
    """Load the first certificate of a PEM file."""
    return load_certificates(path)[0]


def load_signing_key(path: Path, passphrase: bytes | None) -> SigningKey:
    """Load a CA key from ``path``: it must be able to sign (not an X25519 key)."""
    key = load_private_key(path, passphrase)
    if isinstance(key, x25519.X25519PrivateKey):
        raise KeyFileError(path, "a CA key must be able to sign")
    return key
