"""The broker's configuration: one frozen dataclass, read from ``CLEARPANE_*``
environment variables (:meth:`BrokerConfig.from_env`), overridden by command-line
flags (broker/cli.py) and checked by :meth:`BrokerConfig.check`.

Each setting is declared once, here: its field carries the parser of its variable
(``CLEARPANE_`` + the upper-case field name), the flag that overrides it and its
documentation. The table in docs/configuration.md is generated from these fields
(``python -m broker.config``) and a test fails when the two differ.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from broker.errors import ConfigError
from broker.ice import IceConfigError, parse_ice_servers

__all__ = ["CONFIG", "ENV_PREFIX", "BrokerConfig", "env_name", "markdown_table", "setting"]

ENV_PREFIX = "CLEARPANE_"
T = TypeVar("T")


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def setting(
    default: T, parse: Callable[[str], Any], doc: str, *, flag: str = "—", shown: str = "—"
) -> T:
    """A config field: ``default``, the parser of its environment variable, its
    documentation (Markdown), the overriding flag and the default as documented."""
    meta = {"parse": parse, "doc": doc, "flag": flag, "shown": shown}
    return dataclasses.field(default=default, metadata=meta)


def env_name(field_name: str) -> str:
    """The environment variable of a field: ``CLEARPANE_`` + its upper-case name."""
    return ENV_PREFIX + field_name.upper()


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Everything the broker process needs to know at start (see docs/configuration.md)."""

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
        _list,
        "DNS names in the broker's TLS server certificate. The certificate is re-issued when this list changes.",
        flag="`--hostname` (repeatable)",
        shown="`localhost`",
    )
    ip_addresses: tuple[str, ...] = setting(
        ("127.0.0.1",),
        _list,
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
        _bool,
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
    sla_escalation_fraction: float = setting(
        0.8,
        float,
        "A waiting request escalates to supervisors once this fraction of the time between its creation and its SLA deadline has passed (premium, 5 min → after 4 min). In (0, 1].",
        shown="`0.8`",
    )
    escalation_interval_s: float = setting(
        5.0, float, "How often the escalation task checks the queue.", shown="`5`"
    )
    default_tier: str = setting(
        "standard",
        str,
        "SLA tier for tickets and requests that name none. Seeded tiers: `premium` (5 min), `standard` (30 min), `basic` (4 h).",
        shown="`standard`",
    )
    allowed_origins: tuple[str, ...] = setting(
        (),
        _list,
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
        _bool,
        "Take the client address from the first `X-Forwarded-For` hop (for login throttling and rate limits). Only behind a proxy that sets it.",
        shown="off",
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
    # Outbound webhooks (broker/webhooks, docs/webhooks.md).
    webhook_max_attempts: int = setting(
        12,
        int,
        "Attempts per webhook delivery before it is marked dead (docs/webhooks.md).",
        shown="`12`",
    )
    webhook_timeout_s: float = setting(
        10.0, float, "Time limit of one webhook request (connect, send, answer).", shown="`10`"
    )
    webhook_backoff_base_s: float = setting(
        10.0,
        float,
        "Wait after the first failed attempt; it doubles after each further failure, times a random factor in [0.5, 1).",
        shown="`10`",
    )
    webhook_backoff_max_s: float = setting(
        3600.0, float, "Longest wait between two attempts.", shown="`3600`"
    )
    webhook_poll_interval_s: float = setting(
        5.0,
        float,
        "How often the delivery worker looks for due retries (new events wake it at once).",
        shown="`5`",
    )
    webhook_ca_file: Path | None = setting(
        None,
        Path,
        "PEM bundle of the CAs trusted for `https://` webhook receivers (instead of the system's).",
        shown="system trust store",
    )
    webhook_allow_http_loopback: bool = setting(
        False,
        _bool,
        "Development only: also accept `http://127.0.0.1[:port]/…` webhook URLs. Otherwise only `https://`.",
        shown="off",
    )
    mtls_agents: bool = setting(
        False,
        _bool,
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
        _bool,
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
    # security (issue 14, docs/THREAT_MODEL.md): engineers see every ticket (off: only
    # their organisations', unassigned ones and those they work on).
    engineers_see_all_tickets: bool = setting(
        False,
        _bool,
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
        "Wrong invitation codes, from all addresses together (store-backed: all nodes), per window; past it every redemption is refused (429) until the window ends, and a `security.alert` webhook event and a warning log line are raised once. Guessing arithmetic: docs/THREAT_MODEL.md.",
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
        _list,
        "Roles whose users must use TOTP MFA (comma-separated, e.g. `admin,supervisor`). A user of such a role without MFA can only enrol (`/auth/mfa/setup`, `/auth/mfa/enable`), see `/me` and log out; every other request answers 403 until they have. Recovery codes: `docs/API.md`.",
        shown="none",
    )
    # cluster (issue 15, docs/operations.md §6): the event loop, and the relay backend
    # that lets several broker processes or nodes serve one session (DESIGN §8).
    event_loop: str = setting(
        "auto",
        str,
        "`auto` (uvloop when installed, else asyncio), `uvloop` or `asyncio`. uvloop cuts the broker's CPU per relayed frame (docs/BENCHMARKS.md).",
        shown="`auto`",
    )
    relay_backend: str = setting(
        "inprocess",
        str,
        "`inprocess` (one broker process holds each whole session) or `nats`: several broker processes or nodes serve one session, relay traffic between them over NATS (docs/operations.md §6). `nats` needs a shared PostgreSQL `CLEARPANE_DATABASE_URL`.",
        shown="`inprocess`",
    )
    nats_url: str = setting(
        "nats://127.0.0.1:4222",
        str,
        "The NATS server of the `nats` relay backend.",
        shown="`nats://127.0.0.1:4222`",
    )
    node_id: str | None = setting(
        None,
        str,
        "This broker process's name in the cluster (logs, which node holds a session).",
        shown="host name and process id",
    )

    # --- derived values -------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        """``database_url``, or SQLite (aiosqlite) in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'clearpane.db').resolve()}"

    @property
    def scheme(self) -> str:
        """``https`` unless plain HTTP was explicitly asked for."""
        return "http" if self.insecure_http else "https"

    def broker_url(self, port: int | None = None) -> str:
        """The URL agents and browsers use: ``public_url`` or one built from the first
        hostname and the listening port (``port`` overrides a configured port 0)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        if self.host in self.ip_addresses or self.host in self.hostnames:
            host = self.host  # bound to one specific name: use it
        elif self.hostnames:
            host = self.hostnames[0]
        else:
            host = self.ip_addresses[0]
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{port if port is not None else self.port}"

    def with_overrides(self, **overrides: Any) -> BrokerConfig:
        """A copy with some fields replaced (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    # --- construction and checks ------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BrokerConfig:
        """Read ``CLEARPANE_<FIELD>`` variables (upper case field names); raise
        :class:`ConfigError` naming every variable that does not parse."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in dataclasses.fields(cls):
            var = env_name(f.name)
            if var in env:
                try:
                    values[f.name] = f.metadata["parse"](env[var])
                except ValueError as exc:
                    problems.append(f"{var}: {exc}")
        if problems:
            raise ConfigError(problems)
        return cls(**values)

    def check(self) -> BrokerConfig:
        """Raise :class:`ConfigError` listing every inconsistent value; return self."""
        problems: list[str] = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port {self.port} is not in 0..65535")
        if self.public_url and not self.public_url.startswith(("https://", "http://")):
            problems.append("public_url must start with https:// (or http://)")
        if self.public_url and self.public_url.startswith("http://") and not self.insecure_http:
            problems.append("public_url is http:// but --insecure-http is not set")
        if not self.hostnames and not self.ip_addresses:
            problems.append("need at least one hostname or IP address for the certificate")
        for name in (
            "access_token_ttl_s",
            "agent_token_ttl_s",
            "viewer_token_ttl_s",
            "invitation_ttl_s",
            "invitation_max_ttl_s",
            "jwt_rotate_after_s",
            "agent_requests_per_minute",
        ):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        if self.invitation_ttl_s > self.invitation_max_ttl_s:
            problems.append("invitation_ttl_s must not exceed invitation_max_ttl_s")
        if not 0.0 < self.sla_escalation_fraction <= 1.0:
            problems.append("sla_escalation_fraction must be in (0, 1]")
        if self.escalation_interval_s <= 0:
            problems.append("escalation_interval_s must be positive")
        if self.login_free_failures < 0:
            problems.append("login_free_failures must be >= 0")
        if self.login_base_delay_s <= 0 or self.login_max_delay_s < self.login_base_delay_s:
            problems.append("need 0 < login_base_delay_s <= login_max_delay_s")
        for origin in self.allowed_origins:
            if not origin.startswith(("https://", "http://")) or origin.endswith("/"):
                problems.append(f"allowed origin {origin!r} must look like https://host[:port]")
        url = self.effective_database_url
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            problems.append("database_url must be sqlite+aiosqlite:// or postgresql+asyncpg://")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            problems.append("log_level must be DEBUG, INFO, WARNING or ERROR")
        problems.extend(self._webhook_problems())
        problems.extend(self._ice_problems())
        problems.extend(self._cluster_problems())
        if problems:
            raise ConfigError(problems)
        return self

    def _cluster_problems(self) -> list[str]:
        """Inconsistent event loop / relay backend values (cluster engineer)."""
        problems: list[str] = []
        if self.event_loop not in {"auto", "uvloop", "asyncio"}:
            problems.append("event_loop must be auto, uvloop or asyncio")
        if self.relay_backend not in {"inprocess", "nats"}:
            problems.append("relay_backend must be inprocess or nats")
        if self.relay_backend == "nats" and not self.nats_url.startswith(("nats://", "tls://")):
            problems.append("nats_url must start with nats:// or tls://")
        if self.relay_backend == "nats" and self.database_url is None:
            problems.append("relay_backend nats needs a shared database_url (PostgreSQL)")
        return problems

    def _webhook_problems(self) -> list[str]:
        """Inconsistent ``webhook_*`` values (webhooks engineer)."""
        problems: list[str] = []
        if self.webhook_max_attempts < 1:
            problems.append("webhook_max_attempts must be at least 1")
        if self.webhook_timeout_s <= 0 or self.webhook_poll_interval_s <= 0:
            problems.append("webhook_timeout_s and webhook_poll_interval_s must be positive")
        if not 0 < self.webhook_backoff_base_s <= self.webhook_backoff_max_s:
            problems.append("need 0 < webhook_backoff_base_s <= webhook_backoff_max_s")
        if self.webhook_ca_file is not None and not self.webhook_ca_file.is_file():
            problems.append(f"webhook_ca_file {self.webhook_ca_file} is not a file")
        return problems

    def _ice_problems(self) -> list[str]:
        """Inconsistent ``ice_servers`` / ``turn_*`` values (video calls)."""
        try:
            servers = parse_ice_servers(self.ice_servers)
        except IceConfigError as exc:
            return [f"ice_servers: {exc}"]
        problems: list[str] = []
        needs_secret = any(s.needs_rest_credentials for s in servers)
        if needs_secret and not self.turn_secret:
            problems.append(
                "ice_servers has a TURN entry without username/credential: "
                "set turn_secret or give the entry fixed credentials"
            )
        if self.turn_secret and not needs_secret:
            problems.append(
                "turn_secret is set but ice_servers has no TURN entry without credentials"
            )
        if self.turn_credential_ttl_s <= 0:
            problems.append("turn_credential_ttl_s must be positive")
        return problems


# The application's config (set by broker.app.create_app).
CONFIG = web.AppKey[BrokerConfig]("config")


def markdown_table() -> str:
    """The variable table of docs/configuration.md, generated from the fields."""
    lines = ["| variable | flag | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(BrokerConfig):
        m = f.metadata
        lines.append(f"| `{env_name(f.name)}` | {m['flag']} | {m['shown']} | {m['doc']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - prints the table for docs/configuration.md
    print(markdown_table(), end="")
