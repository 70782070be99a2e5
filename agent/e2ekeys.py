"""The agent's end-to-end key state for one session (SPEC §8), Sans-I/O.

Per viewer: the key agreement with commitment (a fresh X25519 pair per viewer),
the derived ``PeerKeys`` and whether the viewer holds the current epoch's content
key. Per session: the content keyring (epochs), the frame sealer (seq counter) and
the audit recipient, whose certificate must chain to the organisation CA before
any content key is wrapped for it. Methods return the control messages to send;
the session decides *whether* a viewer may see (the consent machine) — this class
only never hands a key to a viewer the session did not name.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from protocol.e2e import AgentKeyAgreement, ContentKeyring, FrameSealer, PeerKeys
from protocol.media import ScreenUpdateFrame, VideoChunkFrame
from protocol.messages import KeyAgent, KeyAudit, KeyWrap


class SessionKeys:
    """Key agreements, content-key epochs, wraps and sealing for one session."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._keyring = ContentKeyring()
        self._sealer = FrameSealer(session_id, self._keyring.epoch, self._keyring.key)
        self._agreements: dict[str, AgentKeyAgreement] = {}
        self._peer: dict[str, PeerKeys] = {}
        self._wrapped: set[str] = set()
        self._audit_key: bytes | None = None
        self._audit_fingerprint = ""
        self._audit_epoch = 0

    @property
    def epoch(self) -> int:
        """The current content-key epoch."""
        return self._keyring.epoch

    @property
    def wrapped(self) -> frozenset[str]:
        """Viewers holding the current epoch's content key."""
        return frozenset(self._wrapped)

    @property
    def last_seq(self) -> int:
        """The seq of the last sealed frame."""
        return self._sealer.last_seq

    def peer_keys(self, viewer_id: str) -> PeerKeys | None:
        """The keys agreed with ``viewer_id``, if the agreement completed."""
        return self._peer.get(viewer_id)

    # -- §8.1 key agreement ------------------------------------------------------------

    def commit(self, viewer_id: str, commitment: bytes) -> KeyAgent:
        """``key.commit`` → ``key.agent`` (a fresh pair; raises ``E2EError``). A new
        commitment restarts the agreement: the viewer's old keys are dropped."""
        agreement = AgentKeyAgreement(self.session_id, viewer_id)
        agent_public = agreement.on_commit(commitment)
        self._agreements[viewer_id] = agreement
        self._peer.pop(viewer_id, None)
        self._wrapped.discard(viewer_id)
        return KeyAgent(viewer_id=viewer_id, agent_public=agent_public)

    def reveal(self, viewer_id: str, viewer_public: bytes) -> PeerKeys | None:
        """``key.reveal``: the keys, None without a pending agreement; raises
        ``E2EError`` when the key does not match its commitment (one attempt only)."""
        agreement = self._agreements.pop(viewer_id, None)
        if agreement is None:
            return None
        keys = agreement.on_reveal(viewer_public)
        self._peer[viewer_id] = keys
        return keys

    def forget(self, viewer_id: str) -> None:
        """The viewer left: drop everything about it."""
        self._agreements.pop(viewer_id, None)
        self._peer.pop(viewer_id, None)
        self._wrapped.discard(viewer_id)

    def disconnected(self) -> None:
        """The socket dropped: pending agreements are void; wraps must be redone."""
        self._agreements.clear()
        self._wrapped.clear()

    # -- §8.2 content keys ---------------------------------------------------------------

    def wrap(self, viewer_id: str) -> list[KeyWrap | KeyAudit]:
        """The current content key for a viewer the session allows to see: ``key.wrap``
        (and the epoch's ``key.audit`` first time), or [] without keys / if done."""
        keys = self._peer.get(viewer_id)
        if keys is None or viewer_id in self._wrapped:
            return []
        wrapped = self._keyring.wrap_for_viewer(keys, self.session_id, viewer_id)
        self._wrapped.add(viewer_id)
        out: list[KeyWrap | KeyAudit] = [
            KeyWrap(viewer_id=viewer_id, epoch=self._keyring.epoch, wrapped_key=wrapped)
        ]
        audit = self.audit_wrap()
        if audit is not None:
            out.append(audit)
        return out

    def new_epoch(self, may_view: Iterable[str]) -> list[KeyWrap | KeyAudit]:
        """Start the next epoch and wrap it for ``may_view`` only (SPEC §8.2)."""
        epoch = self._keyring.new_epoch()
        self._sealer.rekey(epoch, self._keyring.key)
        self._wrapped.clear()
        out: list[KeyWrap | KeyAudit] = []
        for viewer_id in may_view:
            out.extend(self.wrap(viewer_id))
        return out

    def set_audit_recipient(self, certificate_pem: str, ca_pem: str) -> str:
        """Accept the audit recipient only if its certificate chains to the
        organisation CA (audit-recipient EKU, X25519). Returns its fingerprint;
        raises on any failure (then no key is ever wrapped for it)."""
        from certs.verify import verify_audit_recipient

        certs = x509.load_pem_x509_certificates(certificate_pem.encode())
        roots = x509.load_pem_x509_certificates(ca_pem.encode())
        verified = verify_audit_recipient(certs[0], certs[1:] + roots, roots)
        self._audit_key = verified.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._audit_fingerprint = verified.fingerprint
        self._audit_epoch = 0
        return verified.fingerprint

    def audit_wrap(self) -> KeyAudit | None:
        """``key.audit`` for the current epoch, once, and only when a viewer holds the
        key (the broker accepts it once someone has joined, SPEC §5)."""
        if self._audit_key is None or not self._wrapped:
            return None
        if self._audit_epoch == self._keyring.epoch:
            return None
        wrap = self._keyring.wrap_for_audit(self._audit_key, self.session_id)
        self._audit_epoch = wrap.epoch
        return KeyAudit(
            epoch=wrap.epoch,
            ephemeral_public=wrap.ephemeral_public,
            wrapped_key=wrap.wrapped_key,
            recipient_fingerprint=self._audit_fingerprint,
        )

    # -- §4.1 sealing ---------------------------------------------------------------------

    def seal(self, flags: int, plaintext: bytes) -> ScreenUpdateFrame:
        """Encrypt one ``ScreenUpdate`` under the current epoch's key."""
        return self._sealer.seal(flags, plaintext)

    def seal_video(self, key: bool, plaintext: bytes) -> VideoChunkFrame:
        """Encrypt one ``VideoChunk`` (SPEC §4.4) under the current epoch's key."""
        return self._sealer.seal_video(key, plaintext)
