"""Shared pieces of :mod:`protocol.e2e`: the error, SPEC §8 labels and constants,
the clear headers of SPEC §4.1/§4.2 and small primitives (package-internal)."""

from __future__ import annotations

import struct
from typing import Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from protocol.errors import ProtocolError

# SPEC §8 labels (ASCII, no terminator).
TRANSCRIPT_LABEL: Final = b"clearpane.v1 transcript"
WRAP_LABEL: Final = b"clearpane.v1 wrap"
INPUT_LABEL: Final = b"clearpane.v1 input"
SAS_LABEL: Final = b"clearpane.v1 sas"
AUDIT_LABEL: Final = b"clearpane.v1 audit"
AUDIT_WRAP_LABEL: Final = b"clearpane.v1 audit wrap"

# SPEC §8.3 nonce purposes; §8.2 wraps use purpose 0.
PURPOSE_WRAP: Final = 0x00000000
PURPOSE_SCREEN: Final = 0x00000001
PURPOSE_INPUT: Final = 0x00000002

# SPEC §4.1 / §4.2 clear headers.
KIND_SCREEN_UPDATE: Final = 0x01
KIND_INPUT: Final = 0x02
_SCREEN_HEADER: Final = struct.Struct(">BBIQ")
_INPUT_HEADER: Final = struct.Struct(">BIQ")
SCREEN_HEADER_LEN: Final = _SCREEN_HEADER.size  # 14
INPUT_HEADER_LEN: Final = _INPUT_HEADER.size  # 13

KEY_LEN: Final = 32
TAG_LEN: Final = 16
WRAPPED_LEN: Final = KEY_LEN + TAG_LEN  # 48
U32_MAX: Final = 0xFFFFFFFF
U64_MAX: Final = 0xFFFFFFFFFFFFFFFF
SAS_MODULUS: Final = 1_000_000
# Keys a viewer keeps for epochs it has not seen a frame of yet (bounded memory).
MAX_PENDING_EPOCHS: Final = 8


class E2EError(ProtocolError):
    """An end-to-end crypto failure: bad commitment, failed authentication, replay.

    Codes: ``bad_commitment``, ``bad_key``, ``decrypt_failed``, ``replayed``,
    ``unknown_epoch``, ``wrong_sender``, ``wrong_state``, ``invalid_field``,
    ``exhausted``. Never fatal to the connection by itself (``close_code`` None):
    the caller drops the frame (and may ask for a ``refresh``).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, None)

    def __repr__(self) -> str:
        return f"E2EError({self.code!r}, {self.message!r})"


# --- small helpers (package-internal) -----------------------------------------


def lp(s: str) -> bytes:
    """SPEC §8.1 ``lp(s)``: UTF-8 bytes of ``s`` prefixed by their length as u16."""
    raw = s.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise E2EError("invalid_field", "identifier too long")
    return struct.pack(">H", len(raw)) + raw


def nonce(purpose: int, counter: int) -> bytes:
    return struct.pack(">IQ", purpose, counter)


def check_key(key: bytes, what: str) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_LEN:
        raise E2EError("invalid_field", f"{what} must be {KEY_LEN} bytes")
    return bytes(key)


def check_u32(value: int, what: str, *, minimum: int = 0) -> int:
    if not isinstance(value, int) or not minimum <= value <= U32_MAX:
        raise E2EError("invalid_field", f"{what} out of range")
    return value


def hkdf(secret: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def exchange(private: X25519PrivateKey, peer_public: bytes) -> bytes:
    """X25519 with the peer's raw key; low-order points are rejected (``bad_key``)."""
    if len(peer_public) != KEY_LEN:
        raise E2EError("bad_key", "X25519 public key must be 32 bytes")
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(bytes(peer_public)))
    except ValueError as exc:  # all-zero shared secret: a small-order point
        raise E2EError("bad_key", "X25519 exchange rejected the peer key") from exc


def raw_public(private: X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def private_from(key: X25519PrivateKey | bytes | None) -> X25519PrivateKey:
    if key is None:
        return X25519PrivateKey.generate()
    if isinstance(key, X25519PrivateKey):
        return key
    return X25519PrivateKey.from_private_bytes(check_key(key, "private key"))


def viewer_number(viewer_id: str) -> int:
    """The u32 of a viewer id ``v<number>`` (SPEC §4.2), e.g. ``"v3" -> 3``."""
    digits = viewer_id[1:]
    canonical = digits.isascii() and digits.isdigit() and (digits == "0" or digits[0] != "0")
    if not viewer_id.startswith("v") or not canonical:
        raise E2EError("invalid_field", "viewer id is not v<number>")
    return check_u32(int(digits), "viewer number")


def screen_header(flags: int, epoch: int, seq: int) -> bytes:
    """The 14-byte clear header of a screen update (SPEC §4.1), also its AAD prefix."""
    return _SCREEN_HEADER.pack(KIND_SCREEN_UPDATE, flags, epoch, seq)


def input_header(sender: int, seq: int) -> bytes:
    """The 13-byte clear header of an input batch (SPEC §4.2), also its AAD prefix."""
    return _INPUT_HEADER.pack(KIND_INPUT, sender, seq)
