"""BrokerConfig: environment variables, checks, derived values."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.config import BrokerConfig
from broker.errors import ConfigError


def test_defaults() -> None:
    config = BrokerConfig().check()
    assert config.port == 8443 and config.insecure_http is False and config.scheme == "https"
    assert config.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert config.effective_database_url.endswith("/clearpane-data/clearpane.db")


def test_from_env_reads_prefixed_variables(tmp_path: Path) -> None:
    config = BrokerConfig.from_env(
        {
            "CLEARPANE_DATA_DIR": str(tmp_path),
            "CLEARPANE_PORT": "9443",
            "CLEARPANE_HOSTNAMES": "help.example.com, broker.internal",
            "CLEARPANE_INSECURE_HTTP": "yes",
            "CLEARPANE_SLA_ESCALATION_FRACTION": "0.5",
            "CLEARPANE_ALLOWED_ORIGINS": "https://desk.example.com",
            "CLEARPANE_DATABASE_URL": "postgresql+asyncpg://cp@db/cp",
            "OTHER_PORT": "1",
        }
    ).check()
    assert config.data_dir == tmp_path and config.port == 9443
    assert config.hostnames == ("help.example.com", "broker.internal")
    assert config.insecure_http and config.scheme == "http"
    assert config.sla_escalation_fraction == 0.5
    assert config.allowed_origins == ("https://desk.example.com",)
    assert config.effective_database_url == "postgresql+asyncpg://cp@db/cp"
    assert config.broker_url(9443) == "http://help.example.com:9443"


def test_unparsable_values_are_all_named() -> None:
    with pytest.raises(ConfigError) as info:
        BrokerConfig.from_env({"CLEARPANE_PORT": "https", "CLEARPANE_INSECURE_HTTP": "maybe"})
    assert len(info.value.problems) == 2
    assert "CLEARPANE_PORT" in str(info.value) and "CLEARPANE_INSECURE_HTTP" in str(info.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"port": 70000},
        {"sla_escalation_fraction": 0.0},
        {"sla_escalation_fraction": 1.5},
        {"access_token_ttl_s": 0},
        {"database_url": "mysql://x"},
        {"public_url": "http://x.example"},
        {"allowed_origins": ("https://x.example/",)},
        {"invitation_ttl_s": 10**9},
        {"login_base_delay_s": 0.0},
        {"log_level": "LOUD"},
    ],
)
def test_check_rejects(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        BrokerConfig().with_overrides(**overrides).check()


def test_broker_url_prefers_public_url_then_bound_address() -> None:
    assert (
        BrokerConfig(public_url="https://help.example.com/").broker_url(1)
        == "https://help.example.com"
    )
    assert BrokerConfig(host="127.0.0.1").broker_url(1234) == "https://127.0.0.1:1234"
    assert (
        BrokerConfig(host="0.0.0.0", hostnames=("h.example",)).broker_url()
        == "https://h.example:8443"
    )


def test_every_field_is_read_from_env_and_documented() -> None:
    import dataclasses

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    for f in dataclasses.fields(BrokerConfig):
        var = "CLEARPANE_" + f.name.upper()
        assert f"`{var}`" in doc, f"{var} is not documented in docs/configuration.md"
        # from_env knows the variable: a value that cannot parse for its type is
        # reported, a valid one is taken.
        kind = str(f.type)
        if "bool" in kind:
            sample = "1"
        elif "Path" in kind:
            sample = "/x"
        elif "tuple" in kind:
            sample = "https://a.example" if f.name == "allowed_origins" else "10.0.0.1,b"
        elif "int" in kind or "float" in kind:
            sample = "17"
        else:
            sample = "v"
        config = BrokerConfig.from_env({var: sample})
        assert getattr(config, f.name) != getattr(BrokerConfig(), f.name), var


def test_docs_table_is_the_one_generated_from_the_fields() -> None:
    """docs/configuration.md's table is derived from BrokerConfig's fields (env name,
    flag, default, meaning declared once): regenerate it with ``python -m broker.config``."""
    from broker.config import markdown_table

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    assert markdown_table() in doc, "docs/configuration.md: run python -m broker.config"


def test_every_documented_flag_exists_in_the_cli() -> None:
    import dataclasses
    import re

    cli = (Path(__file__).resolve().parents[2] / "broker" / "cli.py").read_text()
    for f in dataclasses.fields(BrokerConfig):
        for flag in re.findall(r"`(--[a-z-]+)`", f.metadata["flag"]):
            assert f'"{flag}"' in cli, f"{f.name}: flag {flag} is not in broker/cli.py"


def test_the_settings_are_declared_in_groups_and_read_in_group_order() -> None:
    """broker/config_fields/ is one small module per group: every setting belongs to
    exactly one group, the fields (and the docs table) read group after group in the
    declared order, and the config keeps its slots (no per-instance __dict__)."""
    import dataclasses

    from broker.config_fields import (
        ConfigFields,
        access,
        cluster,
        integration,
        oidc,
        security,
        server,
        sessions,
        workflow,
    )

    groups = [
        server.ServerFields,
        workflow.WorkflowFields,
        access.AccessFields,
        integration.IntegrationFields,
        sessions.SessionFields,
        security.SecurityFields,
        cluster.ClusterFields,
        oidc.OidcFields,
    ]
    in_groups = [f.name for g in groups for f in dataclasses.fields(g)]
    assert len(in_groups) == len(set(in_groups))
    assert [f.name for f in dataclasses.fields(ConfigFields)] == in_groups
    assert [f.name for f in dataclasses.fields(BrokerConfig)] == in_groups
    config = BrokerConfig()
    assert not hasattr(config, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.port = 1  # type: ignore[misc]
