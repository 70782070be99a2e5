"""SPEC §8.1: per-viewer X25519 key agreement with commitment, keys and the code."""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from protocol.e2e.base import (
    INPUT_LABEL,
    KEY_LEN,
    SAS_LABEL,
    SAS_MODULUS,
    TRANSCRIPT_LABEL,
    WRAP_LABEL,
    E2EError,
    exchange,
    hkdf,
    lp,
    private_from,
    raw_public,
)


def commitment_of(public: bytes) -> bytes:
    """``C = SHA-256(V)`` (SPEC §8.1 step 1)."""
    return hashlib.sha256(public).digest()


def transcript_hash(
    session_id: str, viewer_id: str, commitment: bytes, agent_public: bytes, viewer_public: bytes
) -> bytes:
    """``T = SHA-256("clearpane.v1 transcript" ‖ lp(sid) ‖ lp(vid) ‖ C ‖ A ‖ V)``."""
    return hashlib.sha256(
        TRANSCRIPT_LABEL
        + lp(session_id)
        + lp(viewer_id)
        + commitment
        + agent_public
        + viewer_public
    ).digest()


def format_code(sas: bytes) -> str:
    """Verification code: ``u32(S) mod 1,000,000`` as ``"123 456"`` (SPEC §8.1)."""
    (value,) = struct.unpack(">I", sas)
    digits = f"{value % SAS_MODULUS:06d}"
    return f"{digits[:3]} {digits[3:]}"


@dataclass(frozen=True, slots=True)
class PeerKeys:
    """What one key agreement yields: ``K_wrap``, ``K_input`` and the 6-digit code.

    ``verification_code`` is the display form ``"123 456"``. The keys are never
    printed (``repr`` hides them).
    """

    wrap_key: bytes = field(repr=False)
    input_key: bytes = field(repr=False)
    verification_code: str


def derive_peer_keys(shared_secret: bytes, transcript: bytes) -> PeerKeys:
    """HKDF-SHA256 of ``Z`` with salt ``T`` into ``K_wrap``, ``K_input``, ``S`` (§8.1)."""
    return PeerKeys(
        wrap_key=hkdf(shared_secret, transcript, WRAP_LABEL, KEY_LEN),
        input_key=hkdf(shared_secret, transcript, INPUT_LABEL, KEY_LEN),
        verification_code=format_code(hkdf(shared_secret, transcript, SAS_LABEL, 4)),
    )


class AgentKeyAgreement:
    """The agent's side of §8.1 for one viewer: a **fresh** X25519 pair per instance.

    ``on_commit(C)`` returns ``A`` for ``key.agent``; ``on_reveal(V)`` checks
    ``SHA-256(V) = C`` and returns the :class:`PeerKeys`. Each step runs once;
    a failed reveal leaves the agreement unusable (start over with a new one).
    ``private_key`` is for test vectors only.
    """

    def __init__(
        self,
        session_id: str,
        viewer_id: str,
        *,
        private_key: X25519PrivateKey | bytes | None = None,
    ) -> None:
        self.session_id = session_id
        self.viewer_id = viewer_id
        self._private: X25519PrivateKey | None = private_from(private_key)
        self.public_key: bytes = raw_public(self._private)
        self._commitment: bytes | None = None
        self._done = False

    def on_commit(self, commitment: bytes) -> bytes:
        """Record the viewer's ``C`` (``key.commit``); return ``A`` to send in ``key.agent``."""
        if self._commitment is not None or self._done:
            raise E2EError("wrong_state", "commitment already received")
        if len(commitment) != KEY_LEN:
            raise E2EError("invalid_field", "commitment must be 32 bytes")
        self._commitment = bytes(commitment)
        return self.public_key

    def on_reveal(self, viewer_public: bytes) -> PeerKeys:
        """Check ``V`` against ``C`` (``key.reveal``) and derive the keys and code."""
        if self._commitment is None or self._done or self._private is None:
            raise E2EError("wrong_state", "reveal before commitment or after completion")
        self._done = True  # one attempt only: no retrying V values against one A
        private, self._private = self._private, None
        if not hmac.compare_digest(commitment_of(viewer_public), self._commitment):
            raise E2EError("bad_commitment", "viewer key does not match its commitment")
        z = exchange(private, viewer_public)
        t = transcript_hash(
            self.session_id, self.viewer_id, self._commitment, self.public_key, viewer_public
        )
        return derive_peer_keys(z, t)


class ViewerKeyAgreement:
    """The viewer's side of §8.1 (the browser runs ``e2e.js``; this is for tests/tools).

    ``commitment`` goes in ``key.commit``; ``reveal(A)`` returns ``(V, PeerKeys)``
    with ``V`` for ``key.reveal``. ``private_key`` is for test vectors only.
    """

    def __init__(
        self,
        session_id: str,
        viewer_id: str,
        *,
        private_key: X25519PrivateKey | bytes | None = None,
    ) -> None:
        self.session_id = session_id
        self.viewer_id = viewer_id
        self._private: X25519PrivateKey | None = private_from(private_key)
        self.public_key: bytes = raw_public(self._private)
        self.commitment: bytes = commitment_of(self.public_key)

    def reveal(self, agent_public: bytes) -> tuple[bytes, PeerKeys]:
        """Take the agent's ``A`` (``key.agent``); return ``V`` and the derived keys."""
        if self._private is None:
            raise E2EError("wrong_state", "already revealed")
        z = exchange(self._private, agent_public)
        self._private = None
        t = transcript_hash(
            self.session_id, self.viewer_id, self.commitment, bytes(agent_public), self.public_key
        )
        return self.public_key, derive_peer_keys(z, t)
