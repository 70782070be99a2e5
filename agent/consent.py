"""The client's consent, as a pure state machine (G2, G4; SPEC §3.3).

The agent is the authority on what each viewer may do. This module holds that
authority and nothing else: no clock (time is passed in as ``now_ms``), no I/O,
no threads. The session feeds it ``consent.request`` messages and the client's
answers; the input gate and the capture loop ask it ``may(viewer_id, perm)``.

Rules
- A grant exists only as the answer to a prompt the client was shown
  (``mark_shown``); an unanswered prompt expires into a *deny*.
- The client answers each asked permission separately (allow / deny).
- ``control`` needs ``view``: control is never granted to a viewer that cannot see
  (it would be blind input), and revoking ``view`` revokes ``control`` too.
- Every viewer has its own grants: a second engineer or an observer asks again.
- A revocation, a release or a viewer leaving takes effect immediately; the next
  ``may()`` call already says no.
- ``close()`` (kill, end) denies every pending prompt and clears every grant; the
  machine then refuses new prompts for good.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, get_args

from agent.errors import ConsentError

Permission = Literal["view", "control", "video"]
PERMISSIONS: tuple[Permission, ...] = get_args(Permission)

#: SPEC §2 ``CONSENT_TIMEOUT_S``: a prompt left unanswered this long is a deny.
DEFAULT_TIMEOUT_MS = 60_000

DecisionReason = Literal["answered", "timed_out", "viewer_left", "session_closed"]


def parse_permissions(values: Iterable[str]) -> tuple[Permission, ...]:
    """Validate permission names; keep the canonical order, drop duplicates."""
    wanted = set(values)
    unknown = wanted - set(PERMISSIONS)
    if unknown:
        raise ValueError(f"unknown permission(s): {', '.join(sorted(unknown))}")
    return tuple(p for p in PERMISSIONS if p in wanted)


@dataclass(frozen=True, slots=True)
class Prompt:
    """What the client must see before deciding (DESIGN §4.3)."""

    request_id: str
    viewer_id: str
    user_id: str
    user_name: str
    role: str
    ticket_id: str
    ticket_title: str
    permissions: tuple[Permission, ...]
    deadline_ms: int
    #: This viewer connection's number in the session (1, 2, …): one person joining
    #: twice shows as two distinct connections, never as one name asked twice.
    connection: int = 0
    #: A transfer or invitation (issue 19): ``transfer`` or ``invite`` and the name of
    #: the engineer who hands over / invites, so the client knows why a second one asks.
    handover: str = ""
    handover_by: str = ""

    @property
    def display_name(self) -> str:
        """The name as the client sees it, with the connection number (``Ann · #2``)."""
        return f"{self.user_name} · #{self.connection}" if self.connection else self.user_name

    def remaining_ms(self, now_ms: int) -> int:
        """Milliseconds left before the prompt times out (never negative)."""
        return max(0, self.deadline_ms - now_ms)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one prompt: what the agent sends as consent.grant / consent.deny."""

    request_id: str
    viewer_id: str
    granted: tuple[Permission, ...]
    denied: tuple[Permission, ...]
    reason: DecisionReason


@dataclass(frozen=True, slots=True)
class Revocation:
    """Permissions a viewer lost (revoked by the client, released, or the viewer left)."""

    viewer_id: str
    permissions: tuple[Permission, ...]


@dataclass(slots=True)
class _Pending:
    prompt: Prompt
    shown: bool = False


@dataclass(slots=True)
class _Viewer:
    name: str
    role: str
    granted: set[Permission] = field(default_factory=set)


class ConsentMachine:
    """Pending prompts and the current grants of every viewer."""

    def __init__(self, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        if timeout_ms <= 0:
            raise ValueError("timeout_ms must be positive")
        self._timeout_ms = timeout_ms
        self._pending: dict[str, _Pending] = {}
        self._viewers: dict[str, _Viewer] = {}
        self._connections: dict[str, int] = {}  # viewer_id -> its connection number
        self._closed = False

    # -- prompts ---------------------------------------------------------------

    def request(
        self,
        *,
        request_id: str,
        viewer_id: str,
        user_id: str,
        user_name: str,
        role: str,
        ticket_id: str,
        ticket_title: str,
        permissions: Iterable[str],
        now_ms: int,
        expires_ms: int | None = None,
        handover: str = "",
        handover_by: str = "",
    ) -> Prompt:
        """Register a prompt for the client; its deadline is the earlier of the broker's
        ``expires_ms`` and our own timeout (the broker cannot extend it)."""
        if self._closed:
            raise ConsentError("the session is closed: no new consent can be asked")
        if request_id in self._pending:
            raise ConsentError(f"duplicate consent request {request_id!r}")
        perms = parse_permissions(permissions)
        if not perms:
            raise ConsentError("a consent request must ask for at least one permission")
        deadline = now_ms + self._timeout_ms
        if expires_ms is not None:
            deadline = min(deadline, expires_ms)
        prompt = Prompt(
            request_id=request_id,
            viewer_id=viewer_id,
            user_id=user_id,
            user_name=user_name,
            role=role,
            ticket_id=ticket_id,
            ticket_title=ticket_title,
            permissions=perms,
            deadline_ms=deadline,
            connection=self._connections.setdefault(viewer_id, len(self._connections) + 1),
            handover=handover,
            handover_by=handover_by,
        )
        self._pending[request_id] = _Pending(prompt)
        viewer = self._viewers.setdefault(viewer_id, _Viewer(user_name, role))
        viewer.name, viewer.role = user_name, role
        return prompt

    def mark_shown(self, request_id: str) -> None:
        """The UI displayed this prompt to the client (a grant needs this)."""
        pending = self._pending.get(request_id)
        if pending is None:
            raise ConsentError(f"no pending consent request {request_id!r}")
        pending.shown = True

    @property
    def pending(self) -> tuple[Prompt, ...]:
        """Prompts waiting for the client, oldest first."""
        return tuple(p.prompt for p in self._pending.values())

    def answer(self, request_id: str, allowed: Iterable[str], now_ms: int) -> Decision:
        """The client's answer: ``allowed`` is the subset of asked permissions allowed;
        every other asked permission is denied. A late answer is a timeout (deny)."""
        pending = self._pending.get(request_id)
        if pending is None:
            raise ConsentError(f"no pending consent request {request_id!r}")
        allow = set(parse_permissions(allowed))
        prompt = pending.prompt
        # Validate before mutating: nothing beyond what was asked may be granted.
        extra = allow - set(prompt.permissions)
        if extra:
            raise ConsentError(f"cannot grant what was not asked: {', '.join(sorted(extra))}")
        if allow and not pending.shown:
            raise ConsentError("a prompt the client has not seen cannot be granted")
        if now_ms >= prompt.deadline_ms:
            return self._deny(pending, "timed_out")
        viewer = self._viewers.setdefault(prompt.viewer_id, _Viewer(prompt.user_name, prompt.role))
        if "control" in allow and "view" not in allow and "view" not in viewer.granted:
            allow.discard("control")  # control needs view: no blind input
        del self._pending[request_id]
        viewer.granted |= allow
        granted = tuple(p for p in prompt.permissions if p in allow)
        denied = tuple(p for p in prompt.permissions if p not in allow)
        return Decision(request_id, prompt.viewer_id, granted, denied, "answered")

    def expire(self, now_ms: int) -> list[Decision]:
        """Deny every prompt whose deadline has passed."""
        late = [p for p in self._pending.values() if now_ms >= p.prompt.deadline_ms]
        return [self._deny(p, "timed_out") for p in late]

    def next_deadline(self) -> int | None:
        """The earliest pending deadline (for the caller's timer), if any."""
        return min((p.prompt.deadline_ms for p in self._pending.values()), default=None)

    def _deny(self, pending: _Pending, reason: DecisionReason) -> Decision:
        prompt = pending.prompt
        self._pending.pop(prompt.request_id, None)
        return Decision(prompt.request_id, prompt.viewer_id, (), prompt.permissions, reason)

    # -- grants ----------------------------------------------------------------

    def may(self, viewer_id: str, permission: Permission) -> bool:
        """Whether ``viewer_id`` currently holds ``permission``."""
        viewer = self._viewers.get(viewer_id)
        return viewer is not None and permission in viewer.granted

    def permissions(self, viewer_id: str) -> frozenset[Permission]:
        """Everything ``viewer_id`` currently holds."""
        viewer = self._viewers.get(viewer_id)
        return frozenset(viewer.granted) if viewer else frozenset()

    def viewers_with(self, permission: Permission) -> tuple[str, ...]:
        """The viewers holding ``permission``, in join order."""
        return tuple(v for v, s in self._viewers.items() if permission in s.granted)

    def viewer_name(self, viewer_id: str) -> str:
        """The verified display name of a viewer (or its id when unknown)."""
        viewer = self._viewers.get(viewer_id)
        return viewer.name if viewer else viewer_id

    def viewers(self) -> dict[str, tuple[str, str, frozenset[Permission]]]:
        """``viewer_id -> (name, role, permissions)`` for every known viewer."""
        return {v: (s.name, s.role, frozenset(s.granted)) for v, s in self._viewers.items()}

    def revoke(self, viewer_id: str, permissions: Iterable[str]) -> Revocation | None:
        """The client takes permissions back (any time). Returns what was really lost."""
        return self._take(viewer_id, parse_permissions(permissions))

    def release(self, viewer_id: str, permissions: Iterable[str]) -> Revocation | None:
        """The viewer gives permissions back (``permission.release``)."""
        return self._take(viewer_id, parse_permissions(permissions))

    def viewer_left(self, viewer_id: str) -> tuple[Revocation | None, list[Decision]]:
        """Forget a viewer: its grants go, its pending prompts become denies."""
        viewer = self._viewers.pop(viewer_id, None)
        lost = None
        if viewer and viewer.granted:
            lost = Revocation(viewer_id, tuple(p for p in PERMISSIONS if p in viewer.granted))
        prompts = [p for p in self._pending.values() if p.prompt.viewer_id == viewer_id]
        return lost, [self._deny(p, "viewer_left") for p in prompts]

    def _take(self, viewer_id: str, perms: tuple[Permission, ...]) -> Revocation | None:
        viewer = self._viewers.get(viewer_id)
        if viewer is None:
            return None
        wanted = set(perms)
        if "view" in wanted:
            wanted.add("control")  # no blind input after view is gone
        lost = viewer.granted & wanted
        if not lost:
            return None
        viewer.granted -= lost
        return Revocation(viewer_id, tuple(p for p in PERMISSIONS if p in lost))

    # -- end -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True after ``close()``: nothing can be granted any more."""
        return self._closed

    def close(self) -> tuple[list[Decision], list[Revocation]]:
        """Session over (kill, end): deny all pending prompts, clear all grants."""
        decisions = [self._deny(p, "session_closed") for p in list(self._pending.values())]
        revocations = []
        for viewer_id, viewer in self._viewers.items():
            if viewer.granted:
                revocations.append(
                    Revocation(viewer_id, tuple(p for p in PERMISSIONS if p in viewer.granted))
                )
                viewer.granted.clear()
        self._closed = True
        return decisions, revocations
