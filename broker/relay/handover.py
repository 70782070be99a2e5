"""Transfer and collaboration in the session core (issue 19; G2: each new engineer
needs the client's own consent).

A second engineer joins a live session on a hand-over the store holds (the join
token carries it: :class:`broker.relay.base.HandoverInfo`). Their consent prompt
names who hands over or invites them (``consent.request`` ``handover``). When the
client answers:

* **transfer, view granted** — ``session.transferred`` is logged (who, to whom, the
  prompt, ``consent: granted``), then every viewer of the engineer who handed over
  loses all permissions and is removed (``viewer.left`` reason ``transferred``; the
  agent forgets its keys and starts a new epoch; its connection is closed): the
  transferred-away engineer can send no more input and sees nothing new;
* **transfer, denied or timed out** — ``session.transfer_refused``; nothing else
  changes (the first engineer keeps the session);
* **invite** — the colleague holds what the client granted, no more; the log's
  ``viewer.joined`` and ``consent.*`` records name them and who invited them.

Each answer is also emitted as :class:`HandoverAnswered` for the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker.relay.actions import AGENT, Close, HandoverAnswered
from broker.relay.base import BROKER, CLIENT, HandoverInfo, SessionContext, ViewerSlot
from broker.relay.consent import ConsentRequest
from broker.relay.input import InputRelay
from protocol import messages as m

__all__ = ["TRANSFERRED", "HandoverFlow", "handover_claim", "handover_from_claims"]

TRANSFERRED = "transferred"
"""The ``viewer.left`` reason of an engineer the session was transferred away from."""

CLOSE_TRANSFERRED = 4000
"""The close code for the transferred-away viewer (SPEC §7: the session is over for it)."""


def handover_claim(h: HandoverInfo) -> dict[str, str]:
    """The hand-over as the join token (and the NATS attach request) carries it."""
    return {"id": h.id, "kind": h.kind, "by": h.by_user_id, "by_name": h.by_name}


def handover_from_claims(extra: Mapping[str, Any]) -> HandoverInfo | None:
    """The hand-over a join token carries under ``handover`` (None: an ordinary join)."""
    h = extra.get("handover")
    if not isinstance(h, Mapping) or h.get("kind") not in ("transfer", "invite"):
        return None
    return HandoverInfo(str(h["id"]), str(h["kind"]), str(h["by"]), str(h["by_name"]))


class HandoverFlow:
    """The session's transfer/invite part, called by the consent part after an answer."""

    def __init__(self, ctx: SessionContext, inputs: InputRelay) -> None:
        self._ctx = ctx
        self._input = inputs

    def answered(
        self,
        viewer_id: str,
        request: ConsentRequest,
        granted: frozenset[str],
        now_ms: int,
        how: str,
    ) -> None:
        """The client answered ``request`` (``how``: granted / denied / timed_out)."""
        viewer = self._ctx.viewers.get(viewer_id)
        if viewer is None or viewer.user.handover is None or "view" not in request.permissions:
            return
        h = viewer.user.handover
        accepted = "view" in granted
        detail: dict[str, Any] = {
            "handover_id": h.id,
            "kind": h.kind,
            "from_user_id": h.by_user_id,
            "from_name": h.by_name,
            "to_user_id": viewer.user.user_id,
            "to_name": viewer.user.name,
            "viewer_id": viewer_id,
            "request_id": request.request_id,
            "consent": "granted" if accepted else how,
        }
        if h.kind == "transfer":
            event = "session.transferred" if accepted else "session.transfer_refused"
            self._ctx.append(event, CLIENT if how != "timed_out" else BROKER, detail, now_ms)
            if accepted:
                self._hand_over(viewer, now_ms)
        self._ctx.emit(
            HandoverAnswered(
                self._ctx.session_id,
                h.id,
                h.kind,
                "accepted" if accepted else "refused",
                h.by_user_id,
                viewer.user.user_id,
                now_ms,
            )
        )

    def _hand_over(self, to: ViewerSlot, now_ms: int) -> None:
        """The transfer took effect: the old engineer's viewers go, ``to`` is the engineer."""
        assert to.user.handover is not None
        old_id = to.user.handover.by_user_id
        self._ctx.engineer_id = to.user.user_id
        for old in [
            v
            for v in self._ctx.viewers.values()
            if v.user.user_id == old_id and v.viewer_id != to.viewer_id
        ]:
            self._input.flush(old, now_ms)
            self._ctx.append(
                "viewer.left",
                self._ctx.actor(old.user),
                {"viewer_id": old.viewer_id, "reason": TRANSFERRED},
                now_ms,
            )
            # Permissions end before anything else is sent: nothing more reaches it.
            self._ctx.drop_viewer(old)
            left = m.ViewerLeft(viewer_id=old.viewer_id, reason=TRANSFERRED)
            for to_id in (AGENT, *self._ctx.viewers, old.viewer_id):
                self._ctx.send(to_id, left)
            self._ctx.emit(
                Close(self._ctx.session_id, old.viewer_id, CLOSE_TRANSFERRED, TRANSFERRED)
            )
        self._ctx.broadcast_state()
