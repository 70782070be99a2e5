"""Where the broker listens, where it keeps its data, its TLS names and the lifetimes of
the tokens it issues."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from broker.config_fields.declare import parse_bool, parse_list, setting

__all__ = ["ServerFields"]


@dataclass(frozen=True)
class ServerFields:
    """One group of :class:`broker.config_fields.ConfigFields` (docs/configuration.md)."""

    __slots__ = ()  # the slots are ConfigFields' own: a group is never built alone

    data_dir: Path = setting(
        Path("clearpane-data"),
        Path,
        "The data directory: SQLite database, CA and TLS keys (`ca/`), JWT signing keys (`jwt/`), session logs, `enrollment.json`. Created with mode 0700.",
        flag="`--data-dir`",
        shown="`./clearpane-data`",
    )
    host: str = setting("0.0.0.0", str, "Address to listen on.", flag="`--host`", shown="`0.0.0.0`")
    port: int = setting(
        8443,
        int,
        "TCP port (`0`: pick a free one; the chosen URL is printed and written to `enrollment.json`).",
        flag="`--port`",
        shown="`8443`",
    )
    public_url: str | None = setting(
        None,
        str,
        "The URL agents and browsers use (e.g. `https://help.example.com`), when it differs from host:port (load balancer, proxy). Written to `enrollment.json`.",
        flag="`--public-url`",
        shown="—",
    )
    hostnames: tuple[str, ...] = setting(
        ("localhost",),
        parse_list,
        "DNS names in the broker's TLS server certificate. The certificate is re-issued when this list changes.",
        flag="`--hostname` (repeatable)",
        shown="`localhost`",
    )
    ip_addresses: tuple[str, ...] = setting(
        ("127.0.0.1",),
        parse_list,
        "IP addresses in the server certificate.",
        flag="`--ip` (repeatable)",
        shown="`127.0.0.1`",
    )
    database_url: str | None = setting(
        None,
        str,
        "The store. PostgreSQL: `postgresql+asyncpg://user:password@host:5432/clearpane`. Migrations are applied on every start.",
        flag="`--database-url`",
        shown="`sqlite+aiosqlite:///DATA_DIR/clearpane.db`",
    )
    insecure_http: bool = setting(
        False,
        parse_bool,
        "Serve plain HTTP. Only behind a TLS-terminating proxy; the broker then sends no HSTS header (the proxy should). Without it the broker serves HTTPS only.",
        flag="`--insecure-http`",
        shown="off",
    )
    ca_passphrase: str | None = setting(
        None,
        str,
        "Passphrase that encrypts the CA and leaf keys at rest (certs.bootstrap). Unset: a random one is generated once and kept in `DATA_DIR/ca/passphrase` (demo only).",
        shown="—",
    )
    access_token_ttl_s: int = setting(
        4 * 3600,
        int,
        "Lifetime of staff access tokens and of the session cookie. There is no refresh: staff log in again.",
        shown="`14400` (4 h)",
    )
    agent_token_ttl_s: int = setting(
        600,
        int,
        "Lifetime of the agent token returned by `/agent/requests` and `/agent/redeem` (used in the agent's WebSocket `hello`).",
        shown="`600`",
    )
    viewer_token_ttl_s: int = setting(
        60, int, "Lifetime of the viewer token returned by `/sessions/{id}/join`.", shown="`60`"
    )
    invitation_ttl_s: int = setting(
        15 * 60, int, "Default lifetime of invitation codes.", shown="`900`"
    )
    invitation_max_ttl_s: int = setting(
        7 * 24 * 3600,
        int,
        "Longest lifetime a caller may ask for (`ttl_s`).",
        shown="`604800` (7 d)",
    )
    jwt_rotate_after_s: int = setting(
        30 * 24 * 3600,
        int,
        "On start, a JWT signing key older than this is rotated. Retired keys keep verifying until the longest token lifetime has passed, then are deleted.",
        shown="`2592000` (30 d)",
    )
