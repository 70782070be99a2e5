"""Consent flows around the pure ``ConsentMachine`` (G2, G4).

Prompts from ``consent.request``, the client's answers (and timeouts, which are
denials), revocations and releases, viewers leaving and the broker's
``session.state`` roster; each loss of ``view`` starts a new key epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from agent.consent import Decision, Permission
from agent.errors import ConsentError
from agent.session.calls import CallsMixin
from protocol.messages import (
    ConsentDeny,
    ConsentGrant,
    ConsentRequest,
    ConsentRevoke,
    SessionStateMessage,
)

log = logging.getLogger(__name__)


class ConsentMixin(CallsMixin):
    """Consent prompts, answers, revocations and viewers coming and going."""

    def _on_consent_request(self, msg: ConsentRequest, now: int) -> None:
        try:
            prompt = self.consent.request(
                request_id=msg.request_id,
                viewer_id=msg.viewer_id,
                user_id=msg.user.id,
                user_name=msg.user.name,
                role=msg.user.role,
                ticket_id=msg.ticket.id,
                ticket_title=msg.ticket.title,
                permissions=msg.permissions,
                now_ms=now,
                expires_ms=msg.expires_ms - self._skew_ms,  # broker clock -> ours
            )
        except (ConsentError, ValueError) as exc:
            log.info("consent request refused: %s", exc)
            return
        self.consent_names.setdefault(msg.viewer_id, msg.user.name)
        self._user_names[msg.user.id] = msg.user.name
        self._set_phase("waiting", f"{msg.user.name} asks to connect")
        auto = self.config.auto_consent_for_tests
        if auto is not None:
            self.consent.mark_shown(prompt.request_id)
            self._answer(prompt.request_id, tuple(p for p in auto if p in prompt.permissions))
            return
        self.observer.prompt(prompt)
        self._poke()

    def _mark_shown(self, request_id: str) -> None:
        with contextlib.suppress(ConsentError):
            self.consent.mark_shown(request_id)

    def _answer(self, request_id: str, allowed: tuple[str, ...]) -> None:
        try:
            decision = self.consent.answer(request_id, allowed, self._clock())
        except (ConsentError, ValueError) as exc:
            self.observer.notice(f"That answer was not accepted: {exc}")
            return
        self._after_decision(decision)

    def _after_decision(self, decision: Decision) -> None:
        now = self._clock()
        name = self._name(decision.viewer_id)
        self.observer.prompt_closed(decision)
        if decision.granted:
            self._log_local(
                "consent.granted",
                {"viewer_id": decision.viewer_id, "permissions": ",".join(decision.granted)},
                now,
                name=name,
            )
            self._send(
                ConsentGrant(
                    request_id=decision.request_id,
                    viewer_id=decision.viewer_id,
                    permissions=decision.granted,
                )
            )
        if decision.denied:
            self._log_local(
                "consent.denied",
                {
                    "viewer_id": decision.viewer_id,
                    "permissions": ",".join(decision.denied),
                    "reason": decision.reason,
                },
                now,
                name=name,
            )
            if not decision.granted and decision.reason != "session_closed":
                self._send(
                    ConsentDeny(
                        request_id=decision.request_id,
                        viewer_id=decision.viewer_id,
                        permissions=decision.denied,
                    )
                )
        if "view" in decision.granted:
            self._maybe_wrap(decision.viewer_id)
        self._publish_status()

    def _revoke(self, viewer_id: str, permissions: tuple[str, ...]) -> None:
        try:
            lost = self.consent.revoke(viewer_id, permissions)
        except ValueError:
            return
        if lost is None:
            return
        self._send(ConsentRevoke(viewer_id=viewer_id, permissions=lost.permissions))
        self._after_loss(viewer_id, lost.permissions, "revoked")

    def _after_loss(self, viewer_id: str, lost: tuple[Permission, ...], how: str) -> None:
        self._log_local(
            "consent.revoked",
            {"viewer_id": viewer_id, "permissions": ",".join(lost), "how": how},
            self._clock(),
            name=self._name(viewer_id),
        )
        if "view" in lost:
            self._new_epoch()
        self._end_call_without_video()
        self._publish_status()

    async def _consent_timer(self) -> None:
        while True:
            deadline = self.consent.next_deadline()
            delay = 0.5 if deadline is None else max(0.0, (deadline - self._clock()) / 1000)
            await asyncio.sleep(min(delay, 0.5))
            for decision in self.consent.expire(self._clock()):
                self._after_decision(decision)

    def _close_consent(self) -> None:
        if self.consent.closed:
            return
        decisions, _ = self.consent.close()
        for decision in decisions:
            self.observer.prompt_closed(decision)
        if self._gate is not None:
            for viewer_id in list(self.consent.viewers()):
                self._gate.remove_viewer(viewer_id)

    def _on_viewer_left(self, viewer_id: str) -> None:
        lost, decisions = self.consent.viewer_left(viewer_id)
        for decision in decisions:
            self.observer.prompt_closed(decision)
        if self._keys is not None:
            self._keys.forget(viewer_id)
        if self._gate is not None:
            self._gate.remove_viewer(viewer_id)
        if lost is not None and "view" in lost.permissions:
            self._new_epoch()
        self._end_call_without_video()
        self._publish_status()

    def _on_session_state(self, msg: SessionStateMessage) -> None:
        present = {v.viewer_id for v in msg.viewers}
        for viewer_id in list(self.consent.viewers()):
            if viewer_id not in present:
                self._on_viewer_left(viewer_id)
        for v in msg.viewers:
            self.consent_names.setdefault(v.viewer_id, v.name)
        if msg.state == "ended":
            self._mark_ended(msg.reason or "ended", "broker")
        else:
            self._set_phase(msg.state)
