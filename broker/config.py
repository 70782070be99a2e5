"""The broker's configuration: one frozen dataclass, read from ``CLEARPANE_*``
environment variables (:meth:`BrokerConfig.from_env`), overridden by command-line
flags (broker/cli.py) and checked by :meth:`BrokerConfig.check`.

Every field is documented in docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from broker.errors import ConfigError
from broker.ice import IceConfigError, parse_ice_servers

__all__ = ["CONFIG", "ENV_PREFIX", "BrokerConfig"]

ENV_PREFIX = "CLEARPANE_"


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Everything the broker process needs to know at start (see docs/configuration.md)."""

    data_dir: Path = Path("clearpane-data")
    host: str = "0.0.0.0"
    port: int = 8443
    public_url: str | None = None
    hostnames: tuple[str, ...] = ("localhost",)
    ip_addresses: tuple[str, ...] = ("127.0.0.1",)
    database_url: str | None = None
    insecure_http: bool = False
    ca_passphrase: str | None = None
    access_token_ttl_s: int = 4 * 3600
    agent_token_ttl_s: int = 600
    viewer_token_ttl_s: int = 60
    invitation_ttl_s: int = 15 * 60
    invitation_max_ttl_s: int = 7 * 24 * 3600
    jwt_rotate_after_s: int = 30 * 24 * 3600
    sla_escalation_fraction: float = 0.8
    escalation_interval_s: float = 5.0
    default_tier: str = "standard"
    allowed_origins: tuple[str, ...] = ()
    login_free_failures: int = 3
    login_base_delay_s: float = 1.0
    login_max_delay_s: float = 900.0
    agent_requests_per_minute: int = 10
    trust_forwarded_for: bool = False
    viewer_dir: Path | None = None
    log_level: str = "INFO"
    # Outbound webhooks (broker/webhooks, docs/webhooks.md).
    webhook_max_attempts: int = 12
    webhook_timeout_s: float = 10.0
    webhook_backoff_base_s: float = 10.0
    webhook_backoff_max_s: float = 3600.0
    webhook_poll_interval_s: float = 5.0
    webhook_ca_file: Path | None = None
    webhook_allow_http_loopback: bool = False
    mtls_agents: bool = False  # certs-admin: agents need a client certificate (tls_reload)
    tls_reload_interval_s: float = 10.0  # certs-admin: poll for renewed certificates / CRL
    recording_retention_days: int = 90  # evidence: delete recordings after (0 = keep)
    # Video calls (broker/ice.py, docs/video-calls.md): STUN/TURN servers as JSON text
    # (parsed in check()), the coturn REST secret and the lifetime of its credentials.
    ice_servers: str = ""
    turn_secret: str | None = None
    turn_credential_ttl_s: int = 8 * 3600
    # security (issue 14, docs/THREAT_MODEL.md): engineers see every ticket (off: only
    # their organisations', unassigned ones and those they work on).
    engineers_see_all_tickets: bool = False
    # cluster (issue 15, docs/operations.md §6): the event loop, and the relay backend
    # that lets several broker processes or nodes serve one session (DESIGN §8).
    event_loop: str = "auto"
    relay_backend: str = "inprocess"
    nats_url: str = "nats://127.0.0.1:4222"
    node_id: str | None = None

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
        parsers: dict[str, Callable[[str], Any]] = {
            "data_dir": Path,
            "host": str,
            "port": int,
            "public_url": str,
            "hostnames": _list,
            "ip_addresses": _list,
            "database_url": str,
            "insecure_http": _bool,
            "ca_passphrase": str,
            "access_token_ttl_s": int,
            "agent_token_ttl_s": int,
            "viewer_token_ttl_s": int,
            "invitation_ttl_s": int,
            "invitation_max_ttl_s": int,
            "jwt_rotate_after_s": int,
            "sla_escalation_fraction": float,
            "escalation_interval_s": float,
            "default_tier": str,
            "allowed_origins": _list,
            "login_free_failures": int,
            "login_base_delay_s": float,
            "login_max_delay_s": float,
            "agent_requests_per_minute": int,
            "trust_forwarded_for": _bool,
            "viewer_dir": Path,
            "log_level": str,
            "webhook_max_attempts": int,
            "webhook_timeout_s": float,
            "webhook_backoff_base_s": float,
            "webhook_backoff_max_s": float,
            "webhook_poll_interval_s": float,
            "webhook_ca_file": Path,
            "webhook_allow_http_loopback": _bool,
            "mtls_agents": _bool,
            "tls_reload_interval_s": float,
            "recording_retention_days": int,
            "ice_servers": str,
            "turn_secret": str,
            "turn_credential_ttl_s": int,
            "engineers_see_all_tickets": _bool,
            "event_loop": str,
            "relay_backend": str,
            "nats_url": str,
            "node_id": str,
        }
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, parse in parsers.items():
            var = ENV_PREFIX + name.upper()
            if var in env:
                try:
                    values[name] = parse(env[var])
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
