"""Who sees what and how hard guessing is (issue 14, docs/THREAT_MODEL.md): ticket
visibility, failure and pre-auth limits, the roles that need MFA."""

from __future__ import annotations

from dataclasses import dataclass

from broker.config_fields.declare import parse_bool, parse_list, setting

__all__ = ["SecurityFields"]


@dataclass(frozen=True)
class SecurityFields:
    """One group of :class:`broker.config_fields.ConfigFields` (docs/configuration.md)."""

    __slots__ = ()  # the slots are ConfigFields' own: a group is never built alone

    # security (issue 14, docs/THREAT_MODEL.md): engineers see every ticket (off: only
    # their organisations', unassigned ones and those they work on).
    engineers_see_all_tickets: bool = setting(
        False,
        parse_bool,
        "On: every engineer sees and edits every ticket. Off: an engineer sees the tickets of their organisations (the user's `organisations`, set by an admin), tickets without an organisation, tickets they created, and tickets with a session assigned to or answered by them; the ticket view lists only the sessions they may open. Supervisors, reviewers and admins always see all (the role table in `broker/auth/policy.py`).",
        shown="off",
    )
    login_account_free_failures: int = setting(
        10,
        int,
        "Wrong passwords for one account, from any address, before that account's logins back off exponentially (like the per username+address throttle). Counts are forgotten an hour after the last failure.",
        shown="`10`",
    )
    login_address_free_failures: int = setting(
        20,
        int,
        "Wrong passwords from one address, over any usernames (password spraying), before that address backs off. A successful login does not reset it.",
        shown="`20`",
    )
    invitation_failures_per_window: int = setting(
        20,
        int,
        "Wrong invitation codes, from all addresses together (one token bucket in the store: all nodes share it), allowed at once and again per window; while they are used up every redemption is refused (429) until one comes back (window ÷ this), and a `security.alert` webhook event and a warning log line are raised, at most once per window. Guessing arithmetic: docs/THREAT_MODEL.md.",
        shown="`20`",
    )
    invitation_failure_window_s: float = setting(
        600.0,
        float,
        "That window, in seconds.",
        shown="`600`",
    )
    ws_preauth_per_address: int = setting(
        16,
        int,
        "WebSocket connections from one client address that have not yet sent a valid `hello` (each may hold up to `MAX_BINARY_MESSAGE` for `HANDSHAKE_TIMEOUT_S`); one more is refused with 429 and `Retry-After` before the upgrade.",
        shown="`16`",
    )
    ws_preauth_total: int = setting(
        256,
        int,
        "The same cap over all addresses together (per broker process). Bounds memory held by unauthenticated sockets to about this × 8 MiB.",
        shown="`256`",
    )
    mfa_required_roles: tuple[str, ...] = setting(
        (),
        parse_list,
        "Roles whose users must use TOTP MFA (comma-separated, e.g. `admin,supervisor`). A user of such a role without MFA can only enrol (`/auth/mfa/setup`, `/auth/mfa/enable`), see `/me` and log out; every other request answers 403 until they have. Recovery codes: `docs/API.md`.",
        shown="none",
    )
