"""Per-viewer key management (SPEC §8, ``agent.e2ekeys``).

The key commitment/reveal exchange with each viewer, wrapping the current content
key for a viewer once it holds ``view`` and keys, starting a new epoch when a
viewer loses ``view`` (SPEC §8.2), and wrapping for the audit recipient only after
its certificate is checked against the organisation CA.
"""

from __future__ import annotations

import logging

from agent.i18n import _
from agent.session.core import SessionCore
from protocol.e2e import E2EError
from protocol.messages import AuditRecipient, KeyCommit, KeyReveal

log = logging.getLogger(__name__)


class KeyExchange:
    """The session's keys part: E2E key agreement per viewer, content-key wraps,
    epochs, the audit wrap."""

    def __init__(self, core: SessionCore) -> None:
        self._core = core

    def on_commit(self, msg: KeyCommit) -> None:
        """A viewer's key commitment: answer with the agent's public key."""
        viewer_id, keys = msg.viewer_id, self._core.keys
        if viewer_id is None or keys is None or self._core.consent.closed:
            return
        self._core.video.offer(viewer_id, msg.video_codecs)  # SPEC §4.4 negotiation
        try:
            self._core.send(keys.commit(viewer_id, msg.commitment))
        except E2EError:
            return

    def on_reveal(self, msg: KeyReveal) -> None:
        """A viewer's revealed key: check it, derive keys, show the code."""
        viewer_id, keys = msg.viewer_id, self._core.keys
        if viewer_id is None or keys is None:
            return
        try:
            peer = keys.reveal(viewer_id, msg.viewer_public)
        except E2EError as exc:
            self._core.log_local(
                "key.exchanged",
                {"viewer_id": viewer_id, "ok": False, "reason": exc.code},
                self._core.clock(),
            )
            self._core.observer.notice(_("A viewer's encryption key did not match its commitment."))
            return
        if peer is None:
            return
        self._core.log_local(
            "key.exchanged", {"viewer_id": viewer_id, "ok": True}, self._core.clock(),
            name=self._core.name_of(viewer_id),
        )  # fmt: skip
        if self._core.gate is not None:
            self._core.gate.add_viewer(viewer_id, peer.input_key)
        self._core.observer.verification_code(
            viewer_id, self._core.name_of(viewer_id), peer.verification_code
        )
        self.maybe_wrap(viewer_id)
        self._core.publish_status()

    def maybe_wrap(self, viewer_id: str) -> None:
        """Give a viewer the current content key once it holds view AND keys."""
        keys = self._core.keys
        if (
            keys is None
            or self._core.killswitch.killed
            or not self._core.consent.may(viewer_id, "view")
        ):
            return
        messages = keys.wrap(viewer_id)
        if not messages:
            return
        for msg in messages:
            self._core.send(msg)
        self._core.need_full = True  # the new viewer needs a complete picture
        self._core.inflight.clear()
        self._core.poke()

    def new_epoch(self) -> None:
        """A viewer lost view: later frames use a key it never gets (SPEC §8.2)."""
        keys = self._core.keys
        if keys is None:
            return
        may_view = [] if self._core.killswitch.killed else self._core.consent.viewers_with("view")
        for msg in keys.new_epoch(may_view):
            self._core.send(msg)
        self._core.log_local("key.epoch", {"epoch": keys.epoch}, self._core.clock())
        self._core.need_full = True
        self._core.inflight.clear()

    def on_audit_recipient(self, msg: AuditRecipient) -> None:
        """Check the audit recipient against the CA; wrap for it only then."""
        keys = self._core.keys
        if keys is None:
            return
        try:
            keys.set_audit_recipient(msg.certificate, self._core.ca_pem)
        except Exception as exc:  # any failure: no key is ever wrapped for it
            log.warning("audit recipient certificate rejected: %s", exc)
            self._core.observer.notice(
                _(
                    "The company's recording certificate could not be verified; "
                    "the recording key is NOT shared."
                )
            )
            self._core.log_local(
                "audit.recipient_rejected", {"reason": str(exc)[:64]}, self._core.clock()
            )
            return
        audit = keys.audit_wrap()
        if audit is not None and not self._core.killswitch.killed:
            self._core.send(audit)
