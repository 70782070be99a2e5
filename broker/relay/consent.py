"""Consent bookkeeping for one session (SPEC §3.3, G2, G4).

Pure state, time passed in. Permissions change **only** from the agent's
answers (``consent.grant`` / ``consent.deny`` / ``consent.revoke``) to a
``consent.request`` the broker issued, plus the viewer's own
``permission.release``. A request unanswered by its deadline
(``CONSENT_TIMEOUT_S``) is a deny: a later grant for it is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import CONSENT_TIMEOUT_S

__all__ = ["PERMISSIONS", "ConsentBook", "ConsentRequest"]

PERMISSIONS = frozenset({"view", "control", "video"})


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """A prompt the broker sent to the agent and that is still open."""

    request_id: str
    viewer_id: str
    permissions: frozenset[str]
    expires_ms: int


class ConsentBook:
    """Which viewer holds which permission, and the open consent prompts."""

    __slots__ = ("_counter", "_grants", "_open", "timeout_ms")

    def __init__(self, timeout_s: float = CONSENT_TIMEOUT_S) -> None:
        self.timeout_ms = int(timeout_s * 1000)
        self._counter = 0
        self._open: dict[str, ConsentRequest] = {}
        self._grants: dict[str, set[str]] = {}

    # -- queries -------------------------------------------------------------

    def holds(self, viewer_id: str, permission: str) -> bool:
        """Whether ``viewer_id`` currently holds ``permission``."""
        return permission in self._grants.get(viewer_id, ())

    def holds_any(self, viewer_id: str) -> bool:
        """Whether the client granted ``viewer_id`` anything (and has not taken it all back)."""
        return bool(self._grants.get(viewer_id))

    def permissions(self, viewer_id: str) -> frozenset[str]:
        """The permissions ``viewer_id`` holds now."""
        return frozenset(self._grants.get(viewer_id, ()))

    def open_requests(self, viewer_id: str | None = None) -> list[ConsentRequest]:
        """Open prompts, optionally only those for one viewer."""
        return [r for r in self._open.values() if viewer_id is None or r.viewer_id == viewer_id]

    def next_deadline(self) -> int | None:
        """The earliest prompt deadline (ms), or ``None``."""
        return min((r.expires_ms for r in self._open.values()), default=None)

    # -- changes -------------------------------------------------------------

    def prepare(self, viewer_id: str, permissions: Iterable[str], now_ms: int) -> ConsentRequest:
        """Build (but do not yet record) a prompt; call :meth:`open` once it is logged."""
        perms = frozenset(permissions)
        unknown = perms - PERMISSIONS
        if unknown or not perms:
            raise ProtocolError.of(ErrorCode.INVALID_FIELD, "unknown or empty permission list")
        return ConsentRequest(
            request_id=f"c{self._counter + 1}",
            viewer_id=viewer_id,
            permissions=perms,
            expires_ms=now_ms + self.timeout_ms,
        )

    def open(self, request: ConsentRequest) -> None:
        """Record a prepared prompt as sent."""
        self._counter += 1
        self._open[request.request_id] = request

    def check_answer(
        self, request_id: str, viewer_id: str, permissions: Iterable[str], now_ms: int
    ) -> tuple[ConsentRequest, frozenset[str]]:
        """Validate an agent's grant/deny against an open, unexpired prompt.

        Returns the prompt and the answered permissions (must be a subset of what
        the prompt asked). Raises ``ProtocolError`` otherwise; nothing changes.
        """
        request = self._open.get(request_id)
        if request is None or request.viewer_id != viewer_id:
            raise ProtocolError.of(ErrorCode.INVALID_FIELD, "no open consent request with that id")
        if now_ms >= request.expires_ms:
            raise ProtocolError.of(ErrorCode.WRONG_STATE, "consent request expired (denied)")
        perms = frozenset(permissions)
        if not perms <= request.permissions:
            raise ProtocolError.of(
                ErrorCode.INVALID_FIELD, "answer names permissions that were not asked"
            )
        return request, perms

    def grant(self, request: ConsentRequest, permissions: frozenset[str]) -> None:
        """Close ``request`` and give its viewer ``permissions``."""
        self._open.pop(request.request_id, None)
        if permissions:
            self._grants.setdefault(request.viewer_id, set()).update(permissions)

    def close(self, request: ConsentRequest) -> None:
        """Close ``request`` without granting (deny or timeout)."""
        self._open.pop(request.request_id, None)

    def revoke(self, viewer_id: str, permissions: Iterable[str]) -> frozenset[str]:
        """Take ``permissions`` from ``viewer_id``; returns what was actually held."""
        held = self._grants.get(viewer_id)
        if not held:
            return frozenset()
        removed = frozenset(held & set(permissions))
        held -= removed
        return removed

    def expired(self, now_ms: int) -> list[ConsentRequest]:
        """Open prompts whose deadline has passed (the caller denies them)."""
        return [r for r in self._open.values() if now_ms >= r.expires_ms]

    def forget(self, viewer_id: str) -> None:
        """The viewer left: drop its grants and open prompts."""
        self._grants.pop(viewer_id, None)
        for rid in [r.request_id for r in self._open.values() if r.viewer_id == viewer_id]:
            del self._open[rid]
