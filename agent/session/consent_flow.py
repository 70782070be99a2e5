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
from agent.i18n import _
from agent.session.calls import CallGlue
from agent.session.core import SessionCore
from agent.session.keys import KeyExchange
from protocol.messages import (
    ConsentDeny,
    ConsentGrant,
    ConsentRequest,
    ConsentRevoke,
    SessionStateMessage,
)

log = logging.getLogger(__name__)


def _asking(msg: ConsentRequest) -> str:
    """What the status line says while a prompt is open. A transfer or invitation
    (issue 19) names both engineers: the client consents to the new one knowingly."""
    name = msg.user.name
    if msg.handover is not None and "view" in msg.permissions:
        by = msg.handover.by.name
        if msg.handover.kind == "transfer":
            return _(
                "{by} hands your session over to {name}, who asks to connect", by=by, name=name
            )
        return _("{by} invites a colleague, {name}, who asks to connect", by=by, name=name)
    if "view" in msg.permissions:
        return _("{name} asks to connect", name=name)
    return _("{name} asks for more permissions", name=name)


class ConsentFlow:
    """The session's consent part: prompts, answers, revocations and viewers coming
    and going, around the core's ``ConsentMachine``."""

    def __init__(self, core: SessionCore, exchange: KeyExchange, calls: CallGlue) -> None:
        self._core = core
        self._exchange = exchange
        self._calls = calls

    def on_request(self, msg: ConsentRequest, now: int) -> None:
        """A ``consent.request``: open a prompt (or answer it in test mode)."""
        try:
            prompt = self._core.consent.request(
                request_id=msg.request_id,
                viewer_id=msg.viewer_id,
                user_id=msg.user.id,
                user_name=msg.user.name,
                role=msg.user.role,
                ticket_id=msg.ticket.id,
                ticket_title=msg.ticket.title,
                permissions=msg.permissions,
                now_ms=now,
                expires_ms=msg.expires_ms - self._core.skew_ms,  # broker clock -> ours
                handover=msg.handover.kind if msg.handover else "",
                handover_by=msg.handover.by.name if msg.handover else "",
            )
        except (ConsentError, ValueError) as exc:
            log.info("consent request refused: %s", exc)
            return
        self._core.consent_names.setdefault(msg.viewer_id, msg.user.name)
        self._core.user_names[msg.user.id] = msg.user.name
        self._core.set_phase("waiting", _asking(msg))
        auto = self._core.config.auto_consent_for_tests
        if auto is not None:
            self._core.consent.mark_shown(prompt.request_id)
            self.answer(prompt.request_id, tuple(p for p in auto if p in prompt.permissions))
            return
        self._core.observer.prompt(prompt)
        self._core.poke()

    def mark_shown(self, request_id: str) -> None:
        """The UI showed the prompt."""
        with contextlib.suppress(ConsentError):
            self._core.consent.mark_shown(request_id)

    def answer(self, request_id: str, allowed: tuple[str, ...]) -> None:
        """The client answered a prompt."""
        try:
            decision = self._core.consent.answer(request_id, allowed, self._core.clock())
        except (ConsentError, ValueError) as exc:
            self._core.observer.notice(_("That answer was not accepted: {reason}", reason=exc))
            return
        self.after_decision(decision)

    def after_decision(self, decision: Decision) -> None:
        """Log a decision, tell the broker, wrap the key for a new viewer."""
        now = self._core.clock()
        name = self._core.name_of(decision.viewer_id)
        self._core.observer.prompt_closed(decision)
        if decision.granted:
            self._core.log_local(
                "consent.granted",
                {"viewer_id": decision.viewer_id, "permissions": ",".join(decision.granted)},
                now,
                name=name,
            )
            self._core.send(
                ConsentGrant(
                    request_id=decision.request_id,
                    viewer_id=decision.viewer_id,
                    permissions=decision.granted,
                )
            )
        if decision.denied:
            self._core.log_local(
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
                self._core.send(
                    ConsentDeny(
                        request_id=decision.request_id,
                        viewer_id=decision.viewer_id,
                        permissions=decision.denied,
                    )
                )
        if "view" in decision.granted:
            self._exchange.maybe_wrap(decision.viewer_id)
        elif (
            "video" in decision.granted
            and self._core.call is not None
            and self._core.call.state in ("idle", "ended", "ringing")
        ):
            # A later request for `video` alone is the engineer's "Ask the client for a
            # call": the client's "allow" is the answer, so the call starts (no second prompt).
            self._calls.action("client_start")
        self._core.publish_status()

    def revoke(self, viewer_id: str, permissions: tuple[str, ...]) -> None:
        """The client takes permissions back."""
        try:
            lost = self._core.consent.revoke(viewer_id, permissions)
        except ValueError:
            return
        if lost is None:
            return
        self._core.send(ConsentRevoke(viewer_id=viewer_id, permissions=lost.permissions))
        self.after_loss(viewer_id, lost.permissions, "revoked")

    def after_loss(self, viewer_id: str, lost: tuple[Permission, ...], how: str) -> None:
        """A viewer lost permissions: log it; a lost ``view`` starts a new epoch."""
        self._core.log_local(
            "consent.revoked",
            {"viewer_id": viewer_id, "permissions": ",".join(lost), "how": how},
            self._core.clock(),
            name=self._core.name_of(viewer_id),
        )
        if "view" in lost:
            self._exchange.new_epoch()
        self._calls.end_without_video()
        self._core.publish_status()

    async def timer(self) -> None:
        """Expire unanswered prompts (a timeout is a deny)."""
        while True:
            deadline = self._core.consent.next_deadline()
            delay = 0.5 if deadline is None else max(0.0, (deadline - self._core.clock()) / 1000)
            await asyncio.sleep(min(delay, 0.5))
            for decision in self._core.consent.expire(self._core.clock()):
                self.after_decision(decision)

    def close(self) -> None:
        """Close every prompt and grant (the session is over)."""
        if self._core.consent.closed:
            return
        decisions, _lost = self._core.consent.close()
        for decision in decisions:
            self._core.observer.prompt_closed(decision)
        if self._core.gate is not None:
            for viewer_id in list(self._core.consent.viewers()):
                self._core.gate.remove_viewer(viewer_id)

    def on_viewer_left(self, viewer_id: str) -> None:
        """A viewer left: forget its keys and grants."""
        lost, decisions = self._core.consent.viewer_left(viewer_id)
        for decision in decisions:
            self._core.observer.prompt_closed(decision)
        if self._core.keys is not None:
            self._core.keys.forget(viewer_id)
        if self._core.gate is not None:
            self._core.gate.remove_viewer(viewer_id)
        if lost is not None and "view" in lost.permissions:
            self._exchange.new_epoch()
        self._calls.end_without_video()
        self._core.publish_status()

    def on_session_state(self, msg: SessionStateMessage) -> None:
        """The broker's roster and state: viewers gone are treated as left."""
        present = {v.viewer_id for v in msg.viewers}
        for viewer_id in list(self._core.consent.viewers()):
            if viewer_id not in present:
                self.on_viewer_left(viewer_id)
        for v in msg.viewers:
            self._core.consent_names.setdefault(v.viewer_id, v.name)
        if msg.state == "ended":
            self._core.mark_ended(msg.reason or "ended", "broker")
        else:
            self._core.set_phase(msg.state)
