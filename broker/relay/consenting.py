"""Consent handling of the session core (SPEC §3.3, §5; G2, G4).

Permissions change only from the agent's answers to prompts the broker issued
(and a viewer's own ``permission.release``); a prompt past its deadline is a
deny. Each answer is logged before it takes effect, as the record of the state
transition it causes (``consent_pending → live``, ``live → waiting``, …).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from broker.relay.actions import AGENT
from broker.relay.base import BROKER, CLIENT, SessionBase, ViewerSlot
from broker.relay.consent import ConsentRequest
from protocol import messages as m
from protocol.errors import ProtocolError
from protocol.state import SessionEvent, SessionState

__all__ = ["ConsentMixin"]

S = SessionState
E = SessionEvent


class ConsentMixin(SessionBase):
    """Asking, granting, denying, timing out and revoking permissions."""

    def _ask_consent(
        self, viewer: ViewerSlot, permissions: set[str], now_ms: int, note: str | None = None
    ) -> None:
        request = self.consent.prepare(viewer.viewer_id, permissions, now_ms)
        detail: dict[str, Any] = {
            "request_id": request.request_id,
            "viewer_id": viewer.viewer_id,
            "permissions": sorted(request.permissions),
        }
        if note:
            detail["note"] = note
        actor = self._actor(viewer.user)
        if self.state is S.WAITING:
            self._transition(
                E.CONSENT_REQUESTED,
                now_ms,
                actor,
                detail,
                consent_timeout_ms=self.timings.consent_timeout_ms,
            )
        else:
            self._append("consent.requested", actor, detail, now_ms)
        self.consent.open(request)
        self._send(AGENT, self._consent_message(request))

    def _on_grant(self, msg: m.ConsentGrant, now_ms: int) -> None:
        request, perms = self.consent.check_answer(
            msg.request_id, msg.viewer_id, msg.permissions, now_ms
        )
        viewer = self._viewer(request.viewer_id)
        detail = {
            "request_id": request.request_id,
            "viewer_id": viewer.viewer_id,
            "user_id": viewer.user.user_id,
            "permissions": sorted(perms),
        }
        trigger: SessionEvent | None = None
        if "view" in perms and self.state is S.CONSENT_PENDING:
            trigger = E.VIEW_GRANTED
        elif "view" not in perms:  # answered without view: maybe nothing left to wait for
            trigger = self._settle_trigger(None, closing=request)
        self._record("consent.granted", CLIENT, detail, now_ms, trigger)
        if "view" in perms and not self._started:
            self._append("session.started", BROKER, {"viewer_id": viewer.viewer_id}, now_ms)
            self._started = True
        self.consent.grant(request, perms)
        if "view" in perms:
            viewer.flow.clear()
        self._send(
            viewer.viewer_id,
            m.ConsentGrant(
                request_id=request.request_id,
                viewer_id=viewer.viewer_id,
                permissions=tuple(sorted(perms)),
            ),
        )
        if request.permissions - perms:
            self._send(
                viewer.viewer_id,
                m.ConsentDeny(
                    request_id=request.request_id,
                    viewer_id=viewer.viewer_id,
                    permissions=tuple(sorted(request.permissions - perms)),
                ),
            )
        self._broadcast_state()

    def _on_deny(self, msg: m.ConsentDeny, now_ms: int) -> None:
        try:
            request, _ = self.consent.check_answer(
                msg.request_id, msg.viewer_id, msg.permissions, now_ms
            )
        except ProtocolError:
            return  # a late or repeated deny is harmless: nothing was granted
        self._answer_denied(request, request.permissions, now_ms, timed_out=False)

    def _answer_denied(
        self, request: ConsentRequest, perms: frozenset[str], now_ms: int, *, timed_out: bool
    ) -> None:
        detail: dict[str, Any] = {
            "request_id": request.request_id,
            "viewer_id": request.viewer_id,
            "permissions": sorted(perms),
            "timed_out": timed_out,
        }
        trigger = self._pending_trigger(excluding=request, now_ms=now_ms, timed_out=timed_out)
        if trigger is not None:
            self._transition(
                trigger, now_ms, CLIENT if not timed_out else BROKER, detail, event="consent.denied"
            )
        else:
            self._append("consent.denied", CLIENT if not timed_out else BROKER, detail, now_ms)
        self.consent.close(request)
        if request.viewer_id in self._viewers:
            self._send(
                request.viewer_id,
                m.ConsentDeny(
                    request_id=request.request_id,
                    viewer_id=request.viewer_id,
                    permissions=tuple(sorted(perms)),
                ),
            )
        self._broadcast_state()

    def _pending_trigger(
        self, *, excluding: ConsentRequest | None, now_ms: int, timed_out: bool
    ) -> SessionEvent | None:
        """Whether closing ``excluding`` leaves ``consent_pending`` with nothing to wait for."""
        if self.state is not S.CONSENT_PENDING or self._anyone_views():
            return None
        still_open = [
            r
            for r in self.consent.open_requests()
            if r is not excluding and "view" in r.permissions
        ]
        if still_open:
            return None
        if timed_out and self.machine.consent_expired(now_ms):
            return E.CONSENT_TIMED_OUT
        return E.CONSENT_DENIED

    def _on_revoke(
        self,
        viewer_id: str,
        permissions: Iterable[str],
        now_ms: int,
        by: str,
        event: str = "consent.revoked",
    ) -> None:
        viewer = self._viewer(viewer_id)
        held = self.consent.permissions(viewer_id) & frozenset(permissions)
        if not held:
            return
        if "control" in held:
            self._flush_input(viewer, now_ms)
        trigger = self._settle_trigger(viewer_id) if "view" in held else None
        detail = {"viewer_id": viewer_id, "permissions": sorted(held)}
        self._record(event, by, detail, now_ms, trigger)
        self.consent.revoke(viewer_id, held)
        if "view" in held:
            viewer.flow.clear()
        self._send(viewer_id, m.ConsentRevoke(viewer_id=viewer_id, permissions=tuple(sorted(held))))
        self._reopen(now_ms)
        self._broadcast_state()

    def _settle_trigger(
        self,
        without: str | None,
        *,
        leaving: bool = False,
        closing: ConsentRequest | None = None,
    ) -> SessionEvent | None:
        """The transition due once ``without`` loses ``view`` (or leaves, or
        ``closing`` is answered): nobody can see any more (SPEC §5)."""
        if any(self.consent.holds(v, "view") for v in self._viewers if v != without):
            return None
        if self.state in (S.LIVE, S.PAUSED):
            return E.LAST_VIEWER_LEFT
        if self.state is S.CONSENT_PENDING:
            waiting_for = [
                r
                for r in self.consent.open_requests()
                if "view" in r.permissions
                and r is not closing
                and not (leaving and r.viewer_id == without)
            ]
            if not waiting_for:
                return E.CONSENT_DENIED
        return None

    def _reopen(self, now_ms: int) -> None:
        """Back in ``waiting`` with a prompt still open: ``consent_pending`` again."""
        if self.state is S.WAITING and any(
            "view" in r.permissions for r in self.consent.open_requests()
        ):
            detail = {"reopened": [r.request_id for r in self.consent.open_requests()]}
            self._transition(
                E.CONSENT_REQUESTED,
                now_ms,
                BROKER,
                detail,
                consent_timeout_ms=self._earliest_open_timeout(now_ms),
            )

    def _earliest_open_timeout(self, now_ms: int) -> int:
        deadline = self.consent.next_deadline()
        return max(0, (deadline or now_ms) - now_ms)
