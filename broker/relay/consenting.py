"""Consent handling of the session core (SPEC §3.3, §5; G2, G4).

Permissions change only from the agent's answers to prompts the broker issued
(and a viewer's own ``permission.release``); a prompt past its deadline is a
deny. Each answer is logged before it takes effect, as the record of the state
transition it causes (``consent_pending → live``, ``live → waiting``, …).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from broker.relay.actions import AGENT
from broker.relay.base import BROKER, CLIENT, SessionContext, ViewerSlot
from broker.relay.consent import ConsentRequest
from broker.relay.input import InputRelay
from protocol import messages as m
from protocol.errors import ProtocolError
from protocol.state import SessionEvent, SessionState

__all__ = ["ConsentFlow"]

S = SessionState
E = SessionEvent


class ConsentFlow:
    """The session's consent part: asking, granting, denying, timing out and revoking
    permissions, over the context's :class:`~broker.relay.consent.ConsentBook`."""

    def __init__(self, ctx: SessionContext, inputs: InputRelay) -> None:
        self._ctx = ctx
        self._input = inputs
        # Told of every answer after it took effect (viewer id, prompt, granted, how):
        # the transfer/invite part (broker.relay.handover) acts on a hand-over's answer.
        self.after_answer: Callable[[str, ConsentRequest, frozenset[str], int, str], None] | None
        self.after_answer = None

    def ask(
        self, viewer: ViewerSlot, permissions: set[str], now_ms: int, note: str | None = None
    ) -> None:
        """Open a consent prompt for ``viewer`` (logged first; ``waiting → consent_pending``)."""
        request = self._ctx.consent.prepare(viewer.viewer_id, permissions, now_ms)
        detail: dict[str, Any] = {
            "request_id": request.request_id,
            "viewer_id": viewer.viewer_id,
            "permissions": sorted(request.permissions),
        }
        if note:
            detail["note"] = note
        actor = self._ctx.actor(viewer.user)
        if self._ctx.state is S.WAITING:
            self._ctx.transition(
                E.CONSENT_REQUESTED,
                now_ms,
                actor,
                detail,
                consent_timeout_ms=self._ctx.timings.consent_timeout_ms,
            )
        else:
            self._ctx.append("consent.requested", actor, detail, now_ms)
        self._ctx.consent.open(request)
        self._ctx.send(AGENT, self._ctx.consent_message(request))

    def on_grant(self, msg: m.ConsentGrant, now_ms: int) -> None:
        """The agent granted (part of) a prompt: log it, then let it take effect."""
        request, perms = self._ctx.consent.check_answer(
            msg.request_id, msg.viewer_id, msg.permissions, now_ms
        )
        viewer = self._ctx.viewer(request.viewer_id)
        detail = {
            "request_id": request.request_id,
            "viewer_id": viewer.viewer_id,
            "user_id": viewer.user.user_id,
            "permissions": sorted(perms),
        }
        trigger: SessionEvent | None = None
        if "view" in perms and self._ctx.state is S.CONSENT_PENDING:
            trigger = E.VIEW_GRANTED
        elif "view" not in perms:  # answered without view: maybe nothing left to wait for
            trigger = self.settle_trigger(None, closing=request)
        self._ctx.record("consent.granted", CLIENT, detail, now_ms, trigger)
        if "view" in perms and not self._ctx.started:
            self._ctx.append("session.started", BROKER, {"viewer_id": viewer.viewer_id}, now_ms)
            self._ctx.started = True
        self._ctx.consent.grant(request, perms)
        if "view" in perms:
            viewer.flow.clear()
        self._ctx.send(
            viewer.viewer_id,
            m.ConsentGrant(
                request_id=request.request_id,
                viewer_id=viewer.viewer_id,
                permissions=tuple(sorted(perms)),
            ),
        )
        if request.permissions - perms:
            self._ctx.send(
                viewer.viewer_id,
                m.ConsentDeny(
                    request_id=request.request_id,
                    viewer_id=viewer.viewer_id,
                    permissions=tuple(sorted(request.permissions - perms)),
                ),
            )
        self._ctx.broadcast_state()
        if self.after_answer is not None:
            self.after_answer(viewer.viewer_id, request, perms, now_ms, "granted")

    def on_deny(self, msg: m.ConsentDeny, now_ms: int) -> None:
        """The agent denied a prompt (a late or repeated deny changes nothing)."""
        try:
            request, _ = self._ctx.consent.check_answer(
                msg.request_id, msg.viewer_id, msg.permissions, now_ms
            )
        except ProtocolError:
            return  # a late or repeated deny is harmless: nothing was granted
        self.answer_denied(request, request.permissions, now_ms, timed_out=False)

    def answer_denied(
        self, request: ConsentRequest, perms: frozenset[str], now_ms: int, *, timed_out: bool
    ) -> None:
        """Close ``request`` as denied (or timed out) and tell its viewer."""
        detail: dict[str, Any] = {
            "request_id": request.request_id,
            "viewer_id": request.viewer_id,
            "permissions": sorted(perms),
            "timed_out": timed_out,
        }
        trigger = self._pending_trigger(excluding=request, now_ms=now_ms, timed_out=timed_out)
        if trigger is not None:
            self._ctx.transition(
                trigger, now_ms, CLIENT if not timed_out else BROKER, detail, event="consent.denied"
            )
        else:
            self._ctx.append("consent.denied", CLIENT if not timed_out else BROKER, detail, now_ms)
        self._ctx.consent.close(request)
        if request.viewer_id in self._ctx.viewers:
            self._ctx.send(
                request.viewer_id,
                m.ConsentDeny(
                    request_id=request.request_id,
                    viewer_id=request.viewer_id,
                    permissions=tuple(sorted(perms)),
                ),
            )
        self._ctx.broadcast_state()
        if self.after_answer is not None:
            how = "timed_out" if timed_out else "denied"
            self.after_answer(request.viewer_id, request, frozenset(), now_ms, how)

    def _pending_trigger(
        self, *, excluding: ConsentRequest | None, now_ms: int, timed_out: bool
    ) -> SessionEvent | None:
        """Whether closing ``excluding`` leaves ``consent_pending`` with nothing to wait for."""
        if self._ctx.state is not S.CONSENT_PENDING or self._ctx.anyone_views():
            return None
        still_open = [
            r
            for r in self._ctx.consent.open_requests()
            if r is not excluding and "view" in r.permissions
        ]
        if still_open:
            return None
        if timed_out and self._ctx.machine.consent_expired(now_ms):
            return E.CONSENT_TIMED_OUT
        return E.CONSENT_DENIED

    def revoke(
        self,
        viewer_id: str,
        permissions: Iterable[str],
        now_ms: int,
        by: str,
        event: str = "consent.revoked",
    ) -> None:
        """Take ``permissions`` from ``viewer_id`` (the agent revoked, or the viewer released)."""
        viewer = self._ctx.viewer(viewer_id)
        held = self._ctx.consent.permissions(viewer_id) & frozenset(permissions)
        if not held:
            return
        if "control" in held:
            self._input.flush(viewer, now_ms)
        trigger = self.settle_trigger(viewer_id) if "view" in held else None
        detail = {"viewer_id": viewer_id, "permissions": sorted(held)}
        self._ctx.record(event, by, detail, now_ms, trigger)
        self._ctx.consent.revoke(viewer_id, held)
        if "view" in held:
            viewer.flow.clear()
        self._ctx.send(
            viewer_id, m.ConsentRevoke(viewer_id=viewer_id, permissions=tuple(sorted(held)))
        )
        self.reopen(now_ms)
        self._ctx.broadcast_state()

    def settle_trigger(
        self,
        without: str | None,
        *,
        leaving: bool = False,
        closing: ConsentRequest | None = None,
    ) -> SessionEvent | None:
        """The transition due once ``without`` loses ``view`` (or leaves, or
        ``closing`` is answered): nobody can see any more (SPEC §5)."""
        if any(self._ctx.consent.holds(v, "view") for v in self._ctx.viewers if v != without):
            return None
        if self._ctx.state in (S.LIVE, S.PAUSED):
            return E.LAST_VIEWER_LEFT
        if self._ctx.state is S.CONSENT_PENDING:
            waiting_for = [
                r
                for r in self._ctx.consent.open_requests()
                if "view" in r.permissions
                and r is not closing
                and not (leaving and r.viewer_id == without)
            ]
            if not waiting_for:
                return E.CONSENT_DENIED
        return None

    def reopen(self, now_ms: int) -> None:
        """Back in ``waiting`` with a prompt still open: ``consent_pending`` again."""
        if self._ctx.state is S.WAITING and any(
            "view" in r.permissions for r in self._ctx.consent.open_requests()
        ):
            detail = {"reopened": [r.request_id for r in self._ctx.consent.open_requests()]}
            self._ctx.transition(
                E.CONSENT_REQUESTED,
                now_ms,
                BROKER,
                detail,
                consent_timeout_ms=self._earliest_open_timeout(now_ms),
            )

    def _earliest_open_timeout(self, now_ms: int) -> int:
        deadline = self._ctx.consent.next_deadline()
        return max(0, (deadline or now_ms) - now_ms)
