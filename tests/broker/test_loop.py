"""The broker's event loop choice (broker/loop.py): uvloop by default, asyncio on request."""

from __future__ import annotations

import asyncio

import pytest

from broker.config import BrokerConfig
from broker.errors import ConfigError
from broker.loop import loop_factory, run


async def _loop_type() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_runs_on_uvloop_and_asyncio_on_request() -> None:
    assert loop_factory("auto")[0] == "uvloop"
    assert run(_loop_type(), "auto").startswith("uvloop")
    assert loop_factory("asyncio") == ("asyncio", None)
    assert run(_loop_type(), "asyncio").startswith("asyncio")


def test_config_checks_the_loop_and_backend_names() -> None:
    with pytest.raises(ConfigError) as exc:
        BrokerConfig(event_loop="trio", relay_backend="redis").check()
    assert "event_loop" in str(exc.value) and "relay_backend" in str(exc.value)
    with pytest.raises(ConfigError, match="shared database_url"):
        BrokerConfig(relay_backend="nats").check()
    env = {"CLEARPANE_EVENT_LOOP": "asyncio", "CLEARPANE_NODE_ID": "n1"}
    config = BrokerConfig.from_env(env)
    assert (config.event_loop, config.node_id) == ("asyncio", "n1")
