"""The broker configuration's consistency checks: every value that parses but makes no
sense (a port out of range, a TURN entry without a secret, a NATS relay without a
shared database, …), named in words. :meth:`broker.config.BrokerConfig.check` raises
them all at once."""

from __future__ import annotations

from broker.auth.oidc_roles import RoleMapError, parse_role_map
from broker.config_fields import ConfigFields
from broker.ice import IceConfigError, parse_ice_servers

__all__ = ["problems"]

#: Durations and rates that must be positive.
_POSITIVE = (
    "access_token_ttl_s",
    "agent_token_ttl_s",
    "viewer_token_ttl_s",
    "invitation_ttl_s",
    "invitation_max_ttl_s",
    "jwt_rotate_after_s",
    "agent_requests_per_minute",
)


def problems(c: ConfigFields) -> list[str]:
    """Every inconsistent value of ``c``, one sentence each (empty: all is well)."""
    found: list[str] = []
    if not 0 <= c.port <= 65535:
        found.append(f"port {c.port} is not in 0..65535")
    if c.public_url and not c.public_url.startswith(("https://", "http://")):
        found.append("public_url must start with https:// (or http://)")
    if c.public_url and c.public_url.startswith("http://") and not c.insecure_http:
        found.append("public_url is http:// but --insecure-http is not set")
    if not c.hostnames and not c.ip_addresses:
        found.append("need at least one hostname or IP address for the certificate")
    for name in _POSITIVE:
        if getattr(c, name) <= 0:
            found.append(f"{name} must be positive")
    if c.invitation_ttl_s > c.invitation_max_ttl_s:
        found.append("invitation_ttl_s must not exceed invitation_max_ttl_s")
    if not 0.0 < c.sla_escalation_fraction <= 1.0:
        found.append("sla_escalation_fraction must be in (0, 1]")
    if c.escalation_interval_s <= 0:
        found.append("escalation_interval_s must be positive")
    if not 0 < c.smtp_port <= 65535:
        found.append(f"smtp_port {c.smtp_port} is not in 1..65535")
    if c.mail_interval_s <= 0:
        found.append("mail_interval_s must be positive")
    if c.routing_capacity < 1:
        found.append("routing_capacity must be at least 1")
    if c.routing_interval_s <= 0:
        found.append("routing_interval_s must be positive")
    if c.presence_lease_s <= 0:
        found.append("presence_lease_s must be positive")
    if c.login_free_failures < 0:
        found.append("login_free_failures must be >= 0")
    if c.login_base_delay_s <= 0 or c.login_max_delay_s < c.login_base_delay_s:
        found.append("need 0 < login_base_delay_s <= login_max_delay_s")
    for origin in c.allowed_origins:
        if not origin.startswith(("https://", "http://")) or origin.endswith("/"):
            found.append(f"allowed origin {origin!r} must look like https://host[:port]")
    # No database_url means SQLite in the data directory, which is always valid.
    if c.database_url is not None and not c.database_url.startswith(
        ("sqlite+aiosqlite://", "postgresql+asyncpg://")
    ):
        found.append("database_url must be sqlite+aiosqlite:// or postgresql+asyncpg://")
    if c.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        found.append("log_level must be DEBUG, INFO, WARNING or ERROR")
    found.extend(_webhook_problems(c))
    found.extend(_ice_problems(c))
    found.extend(_cluster_problems(c))
    found.extend(_oidc_problems(c))
    return found


def _oidc_problems(c: ConfigFields) -> list[str]:
    """Inconsistent ``oidc_*`` values (single sign-on)."""
    found: list[str] = []
    try:
        parse_role_map(c.oidc_role_map)
    except RoleMapError as exc:
        found.append(f"oidc_role_map: {exc}")
    if c.oidc_issuer is None:
        if c.oidc_only:
            found.append("oidc_only needs oidc_issuer")
        return found
    issuer = c.oidc_issuer
    loopback = issuer.startswith(("http://127.0.0.1:", "http://127.0.0.1/", "http://[::1]:"))
    if not issuer.startswith("https://") and not (c.oidc_allow_http_loopback and loopback):
        found.append(
            "oidc_issuer must start with https:// (http://127.0.0.1 only with oidc_allow_http_loopback)"
        )
    if not c.oidc_client_id:
        found.append("oidc_issuer needs oidc_client_id")
    if not c.oidc_role_map:
        found.append("oidc_issuer needs oidc_role_map (nobody could get a role)")
    if c.oidc_ca_file is not None and not c.oidc_ca_file.is_file():
        found.append(f"oidc_ca_file {c.oidc_ca_file} is not a file")
    return found


def _cluster_problems(c: ConfigFields) -> list[str]:
    """Inconsistent event loop / relay backend values (cluster engineer)."""
    found: list[str] = []
    if c.event_loop not in {"auto", "uvloop", "asyncio"}:
        found.append("event_loop must be auto, uvloop or asyncio")
    if c.relay_backend not in {"inprocess", "nats"}:
        found.append("relay_backend must be inprocess or nats")
    if c.relay_backend == "nats" and not c.nats_url.startswith(("nats://", "tls://")):
        found.append("nats_url must start with nats:// or tls://")
    if c.node_url and not c.node_url.startswith(("https://", "http://")):
        found.append("node_url must start with https:// (or http://)")
    if c.relay_backend == "nats" and c.database_url is None:
        found.append("relay_backend nats needs a shared database_url (PostgreSQL)")
    return found


def _webhook_problems(c: ConfigFields) -> list[str]:
    """Inconsistent ``webhook_*`` values (webhooks engineer)."""
    found: list[str] = []
    if c.webhook_max_attempts < 1:
        found.append("webhook_max_attempts must be at least 1")
    if c.webhook_timeout_s <= 0 or c.webhook_poll_interval_s <= 0:
        found.append("webhook_timeout_s and webhook_poll_interval_s must be positive")
    if not 0 < c.webhook_backoff_base_s <= c.webhook_backoff_max_s:
        found.append("need 0 < webhook_backoff_base_s <= webhook_backoff_max_s")
    if c.webhook_ca_file is not None and not c.webhook_ca_file.is_file():
        found.append(f"webhook_ca_file {c.webhook_ca_file} is not a file")
    return found


def _ice_problems(c: ConfigFields) -> list[str]:
    """Inconsistent ``ice_servers`` / ``turn_*`` values (video calls)."""
    try:
        servers = parse_ice_servers(c.ice_servers)
    except IceConfigError as exc:
        return [f"ice_servers: {exc}"]
    found: list[str] = []
    needs_secret = any(s.needs_rest_credentials for s in servers)
    if needs_secret and not c.turn_secret:
        found.append(
            "ice_servers has a TURN entry without username/credential: "
            "set turn_secret or give the entry fixed credentials"
        )
    if c.turn_secret and not needs_secret:
        found.append("turn_secret is set but ice_servers has no TURN entry without credentials")
    if c.turn_credential_ttl_s <= 0:
        found.append("turn_credential_ttl_s must be positive")
    return found
