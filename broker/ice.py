"""STUN/TURN servers handed to viewers and agents for video calls (docs/video-calls.md).

The list's shape, its parser and the coturn credential function live in
``protocol.ice`` (shared with the agent); this module adds what only the broker does:
fill TURN entries without fixed credentials from ``CLEARPANE_TURN_SECRET``.
"""

from __future__ import annotations

from typing import Any

from protocol.ice import IceConfigError, IceServer, parse_ice_servers, turn_rest_credentials

__all__ = [
    "IceConfigError",
    "IceServer",
    "ice_servers_for",
    "parse_ice_servers",
    "turn_rest_credentials",
]


def ice_servers_for(
    servers_json: str,
    turn_secret: str | None,
    user: str,
    *,
    now_s: int,
    ttl_s: int,
) -> list[dict[str, Any]]:
    """The ``RTCIceServer`` list for one caller (``user``: an opaque id, no ``:``).

    Entries with fixed credentials and STUN entries are passed on as configured;
    TURN entries without credentials get :func:`turn_rest_credentials` when
    ``turn_secret`` is set (and are left out otherwise: a TURN server without
    credentials is useless to a browser, which would reject the whole list).
    """
    out: list[dict[str, Any]] = []
    rest: tuple[str, str] | None = None
    for server in parse_ice_servers(servers_json):
        if not server.needs_rest_credentials:
            out.append(server.to_json())
            continue
        if turn_secret is None:
            continue
        if rest is None:
            rest = turn_rest_credentials(turn_secret, user, now_s=now_s, ttl_s=ttl_s)
        out.append(IceServer(server.urls, *rest).to_json())
    return out
