"""SPEC §8.2: content keys per epoch, their wraps for viewers and the audit recipient."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocol.e2e.agreement import PeerKeys
from protocol.e2e.base import (
    AUDIT_LABEL,
    AUDIT_WRAP_LABEL,
    KEY_LEN,
    PURPOSE_WRAP,
    U32_MAX,
    WRAP_LABEL,
    WRAPPED_LEN,
    E2EError,
    check_key,
    check_u32,
    exchange,
    hkdf,
    lp,
    nonce,
    private_from,
    raw_public,
)


def _wrap_aad(session_id: str, viewer_id: str) -> bytes:
    return WRAP_LABEL + lp(session_id) + lp(viewer_id)


def wrap_content_key(
    wrap_key: bytes, session_id: str, viewer_id: str, epoch: int, content_key: bytes
) -> bytes:
    """``key.wrap``: AES-256-GCM(K_wrap, 0‖u64(e), K_e, aad) — 48 bytes (§8.2)."""
    check_u32(epoch, "epoch", minimum=1)
    aes = AESGCM(check_key(wrap_key, "wrap key"))
    return aes.encrypt(
        nonce(PURPOSE_WRAP, epoch),
        check_key(content_key, "content key"),
        _wrap_aad(session_id, viewer_id),
    )


def unwrap_content_key(
    wrap_key: bytes, session_id: str, viewer_id: str, epoch: int, wrapped: bytes
) -> bytes:
    """Inverse of :func:`wrap_content_key`; ``E2EError("decrypt_failed")`` if forged."""
    check_u32(epoch, "epoch", minimum=1)
    if len(wrapped) != WRAPPED_LEN:
        raise E2EError("decrypt_failed", "wrapped key must be 48 bytes")
    aes = AESGCM(check_key(wrap_key, "wrap key"))
    try:
        return aes.decrypt(
            nonce(PURPOSE_WRAP, epoch), bytes(wrapped), _wrap_aad(session_id, viewer_id)
        )
    except InvalidTag as exc:
        raise E2EError("decrypt_failed", "content key wrap did not authenticate") from exc


@dataclass(frozen=True, slots=True)
class AuditWrap:
    """One epoch's content key wrapped for the audit recipient (``key.audit``)."""

    epoch: int
    ephemeral_public: bytes
    wrapped_key: bytes


def _audit_key(secret: bytes, session_id: str, ephemeral: bytes, recipient: bytes) -> bytes:
    salt = hashlib.sha256(AUDIT_LABEL + lp(session_id) + ephemeral + recipient).digest()
    return hkdf(secret, salt, AUDIT_WRAP_LABEL, KEY_LEN)


def wrap_for_audit(
    recipient_public: bytes,
    session_id: str,
    epoch: int,
    content_key: bytes,
    *,
    ephemeral_private: X25519PrivateKey | bytes | None = None,
) -> AuditWrap:
    """Wrap ``K_e`` for the audit recipient's raw X25519 key ``R`` (SPEC §8.2).

    A fresh ephemeral pair ``(q, Q)`` is made per call (one call per epoch);
    ``ephemeral_private`` is for test vectors only. The caller has already checked
    the recipient certificate and extracted ``R`` from it.
    """
    check_u32(epoch, "epoch", minimum=1)
    recipient = check_key(recipient_public, "audit recipient key")
    q = private_from(ephemeral_private)
    q_pub = raw_public(q)
    k_audit = _audit_key(exchange(q, recipient), session_id, q_pub, recipient)
    wrapped = AESGCM(k_audit).encrypt(
        nonce(PURPOSE_WRAP, epoch),
        check_key(content_key, "content key"),
        AUDIT_LABEL + lp(session_id),
    )
    return AuditWrap(epoch=epoch, ephemeral_public=q_pub, wrapped_key=wrapped)


def wrap_for_audit_key(
    recipient: X25519PublicKey, session_id: str, epoch: int, content_key: bytes
) -> AuditWrap:
    """:func:`wrap_for_audit` taking the recipient as a ``cryptography`` public key."""
    raw = recipient.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return wrap_for_audit(raw, session_id, epoch, content_key)


def unwrap_for_audit(
    recipient_private: X25519PrivateKey | bytes,
    session_id: str,
    epoch: int,
    ephemeral_public: bytes,
    wrapped_key: bytes,
) -> bytes:
    """Recover ``K_e`` with the audit recipient's private key (replay / review)."""
    check_u32(epoch, "epoch", minimum=1)
    if len(wrapped_key) != WRAPPED_LEN:
        raise E2EError("decrypt_failed", "wrapped key must be 48 bytes")
    r = private_from(recipient_private)
    r_pub = raw_public(r)
    ephemeral = bytes(ephemeral_public)
    k_audit = _audit_key(exchange(r, ephemeral), session_id, ephemeral, r_pub)
    try:
        return AESGCM(k_audit).decrypt(
            nonce(PURPOSE_WRAP, epoch), bytes(wrapped_key), AUDIT_LABEL + lp(session_id)
        )
    except InvalidTag as exc:
        raise E2EError("decrypt_failed", "audit wrap did not authenticate") from exc


class ContentKeyring:
    """The agent's content keys (SPEC §8.2): epoch 1 at creation, random 32-byte keys.

    ``new_epoch()`` when a viewer leaves or loses ``view``; then wrap the new key
    for the remaining viewers and the audit recipient and :meth:`FrameSealer.rekey`.
    """

    def __init__(self) -> None:
        self._epoch = 1
        self._key = os.urandom(KEY_LEN)

    @property
    def epoch(self) -> int:
        """The current epoch number (≥ 1)."""
        return self._epoch

    @property
    def key(self) -> bytes:
        """The current epoch's content key ``K_e``."""
        return self._key

    def new_epoch(self) -> int:
        """Start the next epoch with a fresh random key; return its number."""
        if self._epoch >= U32_MAX:
            raise E2EError("exhausted", "epoch counter exhausted")
        self._epoch += 1
        self._key = os.urandom(KEY_LEN)
        return self._epoch

    def wrap_for_viewer(self, keys: PeerKeys, session_id: str, viewer_id: str) -> bytes:
        """The current key wrapped for one viewer (the ``wrapped_key`` of ``key.wrap``)."""
        return wrap_content_key(keys.wrap_key, session_id, viewer_id, self._epoch, self._key)

    def wrap_for_audit(self, recipient_public: bytes, session_id: str) -> AuditWrap:
        """The current key wrapped for the audit recipient (fresh ephemeral key)."""
        return wrap_for_audit(recipient_public, session_id, self._epoch, self._key)
