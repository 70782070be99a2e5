"""The connector's settings: one frozen dataclass read from ``CLEARPANE_CONNECTOR_*``
environment variables (docs/integrations.md lists them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ENV_PREFIX", "ConfigError", "ConnectorConfig"]

ENV_PREFIX = "CLEARPANE_CONNECTOR_"


class ConfigError(ValueError):
    """A setting is missing or does not parse; the message names the variable."""


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(",") if p.strip())


def _words(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """Everything the connector needs (``*_ca_file``: PEM bundles to trust instead of
    the system's)."""

    clearpane_url: str
    api_key: str  # an integration account's cpk_ key: tickets, invitations, sessions:read
    helpdesk_url: str  # where django-helpdesk's URLs are mounted, e.g. …/helpdesk
    helpdesk_user: str  # a staff user of the help desk (its API answers staff only)
    helpdesk_password: str
    webhook_secret: str  # the whsec_… of the connector's webhook endpoint at Clearpane
    clearpane_ca_file: str | None = None
    helpdesk_ca_file: str | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = 8790
    poll_interval_s: float = 15.0
    invitation_ttl_s: int = 24 * 3600
    #: django-helpdesk's statuses: 1 open, 2 reopened, 3 resolved, 4 closed.
    open_statuses: tuple[int, ...] = (1, 2)
    resolved_status: int = 3
    #: Outcomes that resolve the ticket (others only add the follow-up).
    resolve_outcomes: tuple[str, ...] = ("ended_by_engineer",)
    queues: tuple[int, ...] = field(default=())  # only these queues (empty: all)
    #: Where twins of client-opened Clearpane tickets are created (None: not at all).
    twin_queue: int | None = None
    external_source: str = "django-helpdesk"  # Clearpane's name for this help desk
    language: str = "en"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConnectorConfig:
        """Read ``CLEARPANE_CONNECTOR_<FIELD>``; :class:`ConfigError` if one is missing
        or wrong."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, kind in cls.__annotations__.items():
            var = ENV_PREFIX + name.upper()
            if var not in env:
                continue
            text = env[var]
            try:
                if "tuple[int" in kind:
                    values[name] = _ints(text)
                elif "tuple[str" in kind:
                    values[name] = _words(text)
                elif kind.startswith("int"):
                    values[name] = int(text)
                elif kind.startswith("float"):
                    values[name] = float(text)
                else:
                    values[name] = text
            except ValueError as exc:
                raise ConfigError(f"{var}: {exc}") from None
        required = ("clearpane_url", "api_key", "helpdesk_url", "helpdesk_user",
                    "helpdesk_password", "webhook_secret")  # fmt: skip
        missing = [ENV_PREFIX + n.upper() for n in required if n not in values]
        if missing:
            raise ConfigError("set " + ", ".join(missing))
        return cls(**values)  # type: ignore[arg-type]
