"""How sessions connect and are kept: agents' mTLS, the TLS reload, recordings and their
retention, STUN/TURN for video calls."""

from __future__ import annotations

from dataclasses import dataclass

from broker.config_fields.declare import parse_bool, setting

__all__ = ["SessionFields"]


@dataclass(frozen=True)
class SessionFields:
    """One group of :class:`broker.config_fields.ConfigFields` (docs/configuration.md)."""

    __slots__ = ()  # the slots are ConfigFields' own: a group is never built alone

    mtls_agents: bool = setting(
        False,
        parse_bool,
        "Mutual TLS for agents: the agent endpoints (`/ws/agent`, `/api/v1/agent/…`) require a client certificate issued by the organisation CA and not revoked (browsers are not asked). See broker/tls_reload.py.",
        shown="off",
    )
    tls_reload_interval_s: float = setting(
        10.0,
        float,
        "How often the broker checks for a renewed server certificate or CRL and loads it without dropping connections.",
        shown="`10`",
    )
    recording_retention_days: int = setting(
        90,
        int,
        "Days a session recording is kept; the hourly retention task deletes older ones and logs `recording.deleted` first (`docs/evidence.md`).",
        shown="`90`",
    )
    allow_unrecorded_sessions: bool = setting(
        False,
        parse_bool,
        "When a recording cannot be written (disk full), screen updates stop until it can (off: fail closed, G10); on: the organisation allows sessions to go on unrecorded, and each such session logs `recording.unavailable` (`docs/evidence.md`).",
        shown="off",
    )
    # Video calls (broker/ice.py, docs/video-calls.md): STUN/TURN servers as JSON text
    # (parsed in check()), the coturn REST secret and the lifetime of its credentials.
    ice_servers: str = setting(
        "",
        str,
        'STUN/TURN servers for video calls: a JSON list in the browser\'s `RTCIceServer` shape, e.g. `[{"urls": ["stun:turn.example.com:3478"]}, {"urls": ["turn:turn.example.com:3478?transport=udp"]}]`. Handed to each viewer in the `/sessions/{id}/join` answer and to the agent in the `/agent/requests` and `/agent/redeem` answers (`ice_servers`). A TURN entry either has a fixed `username` and `credential` or neither (then `CLEARPANE_TURN_SECRET` is required). Empty: host candidates only (one LAN). See docs/video-calls.md.',
        shown="`[]`",
    )
    turn_secret: str | None = setting(
        None,
        str,
        'coturn\'s `static-auth-secret` (`use-auth-secret`). When set, TURN entries of `CLEARPANE_ICE_SERVERS` without credentials are given short-lived "TURN REST" credentials per caller: username `EXPIRY:USER`, password `base64(HMAC-SHA1(secret, username))` (`protocol/ice.py`, filled in by `broker/ice.py`). Never logged.',
        shown="—",
    )
    turn_credential_ttl_s: int = setting(
        8 * 3600,
        int,
        "Lifetime of those TURN credentials. coturn also checks it when an allocation is refreshed, so it bounds how long after joining a relayed call can last.",
        shown="`28800` (8 h)",
    )
