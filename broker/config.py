"""The broker's configuration: one frozen dataclass, read from ``CLEARPANE_*``
environment variables (:meth:`BrokerConfig.from_env`), overridden by command-line
flags (broker/cli.py) and checked by :meth:`BrokerConfig.check`.

Each setting is declared once, in :mod:`broker.config_fields`: its field carries the
parser of its variable (``CLEARPANE_`` + the upper-case field name), the flag that
overrides it and its documentation; the consistency checks are in
:mod:`broker.config_checks`. The table in docs/configuration.md is generated from the
fields (``python -m broker.config``) and a test fails when the two differ.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from broker.config_checks import problems as config_problems
from broker.config_fields import ENV_PREFIX, ConfigFields, env_name, setting
from broker.errors import ConfigError

__all__ = ["CONFIG", "ENV_PREFIX", "BrokerConfig", "env_name", "markdown_table", "setting"]


@dataclass(frozen=True, slots=True)
class BrokerConfig(ConfigFields):
    """Everything the broker process needs to know at start (see docs/configuration.md):
    the fields of :class:`~broker.config_fields.ConfigFields`, values derived from them,
    reading them from the environment and checking them."""

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
        found = config_problems(self)
        if found:
            raise ConfigError(found)
        return self


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
