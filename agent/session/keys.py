"""Per-viewer key management (SPEC §8, ``agent.e2ekeys``).

The key commitment/reveal exchange with each viewer, wrapping the current content
key for a viewer once it holds ``view`` and keys, starting a new epoch when a
viewer loses ``view`` (SPEC §8.2), and wrapping for the audit recipient only after
its certificate is checked against the organisation CA.
"""

from __future__ import annotations

import logging

from agent.session.core import SessionCore
from protocol.e2e import E2EError
from protocol.messages import AuditRecipient, KeyCommit, KeyReveal

log = logging.getLogger(__name__)


class KeysMixin(SessionCore):
    """E2E key agreement per viewer, content-key wraps, epochs, the audit wrap."""

    def _on_key_commit(self, msg: KeyCommit) -> None:
        viewer_id, keys = msg.viewer_id, self._keys
        if viewer_id is None or keys is None or self.consent.closed:
            return
        self.video.offer(viewer_id, msg.video_codecs)  # SPEC §4.4 negotiation
        try:
            self._send(keys.commit(viewer_id, msg.commitment))
        except E2EError:
            return

    def _on_key_reveal(self, msg: KeyReveal) -> None:
        viewer_id, keys = msg.viewer_id, self._keys
        if viewer_id is None or keys is None:
            return
        try:
            peer = keys.reveal(viewer_id, msg.viewer_public)
        except E2EError as exc:
            self._log_local(
                "key.exchanged",
                {"viewer_id": viewer_id, "ok": False, "reason": exc.code},
                self._clock(),
            )
            self.observer.notice("A viewer's encryption key did not match its commitment.")
            return
        if peer is None:
            return
        self._log_local(
            "key.exchanged", {"viewer_id": viewer_id, "ok": True}, self._clock(),
            name=self._name(viewer_id),
        )  # fmt: skip
        if self._gate is not None:
            self._gate.add_viewer(viewer_id, peer.input_key)
        self.observer.verification_code(viewer_id, self._name(viewer_id), peer.verification_code)
        self._maybe_wrap(viewer_id)
        self._publish_status()

    def _maybe_wrap(self, viewer_id: str) -> None:
        """Give a viewer the current content key once it holds view AND keys."""
        keys = self._keys
        if keys is None or self.killswitch.killed or not self.consent.may(viewer_id, "view"):
            return
        messages = keys.wrap(viewer_id)
        if not messages:
            return
        for msg in messages:
            self._send(msg)
        self._need_full = True  # the new viewer needs a complete picture
        self._inflight.clear()
        self._poke()

    def _new_epoch(self) -> None:
        """A viewer lost view: later frames use a key it never gets (SPEC §8.2)."""
        keys = self._keys
        if keys is None:
            return
        may_view = [] if self.killswitch.killed else self.consent.viewers_with("view")
        for msg in keys.new_epoch(may_view):
            self._send(msg)
        self._log_local("key.epoch", {"epoch": keys.epoch}, self._clock())
        self._need_full = True
        self._inflight.clear()

    def _on_audit_recipient(self, msg: AuditRecipient) -> None:
        keys = self._keys
        if keys is None:
            return
        try:
            keys.set_audit_recipient(msg.certificate, self._ca_pem)
        except Exception as exc:  # any failure: no key is ever wrapped for it
            log.warning("audit recipient certificate rejected: %s", exc)
            self.observer.notice(
                "The company's recording certificate could not be verified; "
                "the recording key is NOT shared."
            )
            self._log_local("audit.recipient_rejected", {"reason": str(exc)[:64]}, self._clock())
            return
        audit = keys.audit_wrap()
        if audit is not None and not self.killswitch.killed:
            self._send(audit)
