"""The web front: allowed origins, login and request rates, forwarded addresses, the
viewer's files and the log level."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from broker.config_fields.declare import parse_bool, parse_list, setting

__all__ = ["AccessFields"]


@dataclass(frozen=True)
class AccessFields:
    """One group of :class:`broker.config_fields.ConfigFields` (docs/configuration.md)."""

    __slots__ = ()  # the slots are ConfigFields' own: a group is never built alone

    allowed_origins: tuple[str, ...] = setting(
        (),
        parse_list,
        "Extra browser origins (`https://host[:port]`) accepted on `/ws/viewer` besides the broker's own.",
        shown="—",
    )
    login_free_failures: int = setting(
        3,
        int,
        "Wrong passwords allowed per (username, client address) before throttling starts.",
        shown="`3`",
    )
    login_base_delay_s: float = setting(
        1.0,
        float,
        "First lock after the free failures; each further failure doubles it.",
        shown="`1`",
    )
    login_max_delay_s: float = setting(
        900.0, float, "Longest lock. A successful login clears the count.", shown="`900`"
    )
    agent_requests_per_minute: int = setting(
        10,
        int,
        "Unauthenticated agent calls (help requests; invitation redeems, counted separately) allowed per client address per minute.",
        shown="`10`",
    )
    trust_forwarded_for: bool = setting(
        False,
        parse_bool,
        "Take the client address from the first `X-Forwarded-For` hop (for login throttling and rate limits), from the proxies in `CLEARPANE_TRUSTED_PROXIES` only. Only behind a proxy that sets it (deploy/tls-offload/haproxy.cfg replaces any header a client sent).",
        shown="off",
    )
    trusted_proxies: tuple[str, ...] = setting(
        ("127.0.0.1", "::1"),
        parse_list,
        "Peer addresses whose `X-Forwarded-For` is believed when `CLEARPANE_TRUST_FORWARDED_FOR` is on; a connection from any other address is taken at its own address.",
        shown="`127.0.0.1,::1`",
    )
    viewer_dir: Path | None = setting(
        None,
        Path,
        "Folder the static web viewer is served from.",
        shown="`viewer/` of the installation",
    )
    log_level: str = setting(
        "INFO",
        str,
        "`DEBUG`, `INFO`, `WARNING` or `ERROR`. Tokens, keys, passwords and screen bytes are never logged.",
        flag="`--log-level`",
        shown="`INFO`",
    )
