"""The broker's settings, each declared once: its field carries the parser of its
environment variable (``CLEARPANE_`` + the upper-case field name), the flag that
overrides it and its documentation (:func:`setting`). :class:`broker.config.BrokerConfig`
adds construction, derived values and checks to these fields; the table in
docs/configuration.md is generated from them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["ENV_PREFIX", "ConfigFields", "env_name", "parse_bool", "parse_list", "setting"]

ENV_PREFIX = "CLEARPANE_"
T = TypeVar("T")


def parse_bool(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (empty: false)."""
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated list, items trimmed, empty items dropped."""
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
class ConfigFields:
    """Every setting of the broker process, with its default (see docs/configuration.md)."""

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
    sla_escalation_fraction: float = setting(
        0.8,
        float,
        "A waiting request escalates to supervisors once this fraction of the time between its creation and its SLA deadline has passed (premium, 5 min → after 4 min). In (0, 1].",
        shown="`0.8`",
    )
    escalation_interval_s: float = setting(
        5.0,
        float,
        "How often the SLA scheduler looks at the queue and the clocks of open tickets (at risk, breach, escalation levels, auto-close).",
        shown="`5`",
    )
    smtp_host: str = setting(
        "",
        str,
        "SMTP server for e-mail (escalations to staff, progress and closure to clients, docs/workflow.md). Empty: no e-mail is sent or queued.",
        shown="empty (off)",
    )
    smtp_port: int = setting(25, int, "Port of the SMTP server.", shown="`25`")
    smtp_from: str = setting(
        "clearpane@localhost",
        str,
        "The From address of the broker's e-mail.",
        shown="`clearpane@localhost`",
    )
    smtp_starttls: bool = setting(
        False,
        parse_bool,
        "Upgrade the SMTP connection with STARTTLS before sending.",
        shown="`false`",
    )
    mail_interval_s: float = setting(
        10.0, float, "How often the mail worker looks for messages to send or retry.", shown="`10`"
    )
    routing_capacity: int = setting(
        2,
        int,
        "Routing (issue 19): how many sessions an engineer carries at once (live ones plus waiting requests routed to them). An available engineer with this many live sessions is shown busy, and routing gives work only to engineers below it.",
        shown="`2`",
    )
    presence_lease_s: float = setting(
        120.0,
        float,
        "Routing (issue 19): an available engineer whose viewer has not renewed their presence for this long (a closed browser) counts as away, unless a live session shows they are there.",
        shown="`120`",
    )
    routing_interval_s: float = setting(
        5.0,
        float,
        "How often the routing task assigns waiting requests (it also runs at once on a new request and when an engineer becomes available).",
        shown="`5`",
    )
    default_tier: str = setting(
        "standard",
        str,
        "SLA tier for tickets and requests that name none. Seeded tiers: `premium` (5 min), `standard` (30 min), `basic` (4 h).",
        shown="`standard`",
    )
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
        parse_bool,
        "Development only: also accept `http://127.0.0.1[:port]/…` webhook URLs. Otherwise only `https://`.",
        shown="off",
    )
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
    node_url: str | None = setting(
        None,
        str,
        "This node's own address through the load balancer (`https://lb.example:9444`, a port or SNI name HAProxy maps to this node only: docs/operations.md §6). A viewer's join answers the `ws_url` of the node holding the session, so its frames stay in one process; unset: every viewer uses the public URL.",
        shown="—",
    )
    # Staff single sign-on with OpenID Connect (issue 18, broker/auth/oidc.py,
    # docs/configuration.md "Single sign-on").
    oidc_issuer: str | None = setting(
        None,
        str,
        "The OpenID provider's issuer URL (e.g. `https://id.example.com/realms/staff`); its `/.well-known/openid-configuration` is read at the first login. Unset: no single sign-on.",
        shown="—",
    )
    oidc_client_id: str = setting("", str, "The broker's client id at the provider.", shown="—")
    oidc_client_secret: str | None = setting(
        None,
        str,
        "The client secret (`client_secret_basic`). Never logged. Unset: a public client (PKCE only).",
        shown="—",
    )
    oidc_scopes: tuple[str, ...] = setting(
        ("openid", "profile", "email"),
        parse_list,
        "Scopes asked for (comma-separated; `openid` is always added). Add the scope that releases the role claim (e.g. `groups`).",
        shown="`openid,profile,email`",
    )
    oidc_role_claim: str = setting(
        "groups",
        str,
        "The claim (of the ID token, else of the userinfo answer) whose values decide the role: a string or a list of strings.",
        shown="`groups`",
    )
    oidc_role_map: tuple[str, ...] = setting(
        (),
        parse_list,
        "`claim value=role` pairs, comma-separated, e.g. `helpdesk-admins=admin,helpdesk-engineers=engineer`; roles: engineer, supervisor, reviewer, admin. The first pair whose value the user has wins (list the strongest first). A user matching none is refused.",
        shown="none",
    )
    oidc_username_claim: str = setting(
        "preferred_username",
        str,
        "The claim that names the local user created at the first sign-on (lower-cased; letters, digits, `.`, `_`, `-`). The link itself is the provider's `sub`, so a renamed user keeps their account.",
        shown="`preferred_username`",
    )
    oidc_display_name: str = setting(
        "SSO",
        str,
        "The provider's name on the login page's button (\"Sign in with …\").",
        shown="`SSO`",
    )
    oidc_only: bool = setting(
        False,
        parse_bool,
        "Staff sign in through the provider only: password logins are refused except for the break-glass admins below.",
        shown="off",
    )
    oidc_break_glass_users: tuple[str, ...] = setting(
        ("admin",),
        parse_list,
        "Admins who may still sign in with their local password when `CLEARPANE_OIDC_ONLY` is on (the provider being down must not lock everyone out). Default: the first admin.",
        shown="`admin`",
    )
    oidc_ca_file: Path | None = setting(
        None,
        Path,
        "PEM bundle of the CAs trusted for the provider's `https://` endpoints (instead of the system's).",
        shown="system trust store",
    )
    oidc_allow_http_loopback: bool = setting(
        False,
        parse_bool,
        "Development and tests only: also accept an `http://127.0.0.1[:port]` issuer. Otherwise only `https://`.",
        shown="off",
    )
