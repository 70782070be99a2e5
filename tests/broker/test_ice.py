"""broker.ice: CLEARPANE_ICE_SERVERS parsing, coturn REST credentials, the per-caller
list, and the config checks of the ICE/TURN variables."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from broker.config import BrokerConfig
from broker.errors import ConfigError
from broker.ice import IceConfigError, ice_servers_for, parse_ice_servers, turn_rest_credentials

STUN = {"urls": ["stun:turn.example.com:3478"]}
TURN_OPEN = {"urls": ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"]}
TURN_FIXED = {"urls": "turn:other.example.com:3478", "username": "cp", "credential": "pw"}


def _coturn_password(secret: str, username: str) -> str:
    """What coturn computes with use-auth-secret (its documentation's formula)."""
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def test_parse_accepts_the_browser_shape() -> None:
    servers = parse_ice_servers(json.dumps([STUN, TURN_OPEN, TURN_FIXED]))
    assert [s.urls for s in servers] == [
        tuple(STUN["urls"]),
        tuple(TURN_OPEN["urls"]),
        ("turn:other.example.com:3478",),
    ]
    assert [s.needs_rest_credentials for s in servers] == [False, True, False]
    assert parse_ice_servers("") == () and parse_ice_servers(" [] ") == ()
    assert "pw" not in repr(servers[2])  # credentials stay out of logs


@pytest.mark.parametrize(
    "text",
    [
        "{",
        '{"urls": "stun:x"}',
        "[1]",
        '[{"urls": []}]',
        '[{"urls": "http://x"}]',
        '[{"urls": "turn:x", "username": "only"}]',
        '[{"urls": "turn:x", "username": "u", "credential": 5}]',
        '[{"urls": "stun:x", "password": "p"}]',
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(IceConfigError):
        parse_ice_servers(text)


def test_turn_rest_credentials_match_coturn() -> None:
    username, password = turn_rest_credentials("s3cret", "user1", now_s=1_000, ttl_s=60)
    assert username == "1060:user1"
    assert password == _coturn_password("s3cret", username)
    assert turn_rest_credentials("other", "user1", now_s=1_000, ttl_s=60)[1] != password


def test_servers_for_a_caller_fill_only_open_turn_entries() -> None:
    text = json.dumps([STUN, TURN_OPEN, TURN_FIXED])
    out = ice_servers_for(text, "s3cret", "u42", now_s=5_000, ttl_s=600)
    assert out[0] == {"urls": STUN["urls"]}
    assert out[2] == {"urls": ["turn:other.example.com:3478"], "username": "cp", "credential": "pw"}
    assert out[1]["urls"] == TURN_OPEN["urls"] and out[1]["username"] == "5600:u42"
    assert out[1]["credential"] == _coturn_password("s3cret", "5600:u42")
    # Without a secret an open TURN entry is useless to the browser: left out.
    assert ice_servers_for(text, None, "u42", now_s=5_000, ttl_s=600) == [out[0], out[2]]
    assert ice_servers_for("", "s3cret", "u42", now_s=5_000, ttl_s=600) == []


def test_config_reads_and_checks_ice_variables() -> None:
    config = BrokerConfig.from_env(
        {
            "CLEARPANE_ICE_SERVERS": json.dumps([STUN, TURN_OPEN]),
            "CLEARPANE_TURN_SECRET": "s3cret",
            "CLEARPANE_TURN_CREDENTIAL_TTL_S": "900",
        }
    ).check()
    assert config.turn_secret == "s3cret" and config.turn_credential_ttl_s == 900
    assert BrokerConfig().check().ice_servers == ""  # default: no servers
    bad = [
        {"ice_servers": "[{"},
        {"ice_servers": json.dumps([TURN_OPEN])},  # open TURN entry needs the secret
        {"ice_servers": json.dumps([STUN]), "turn_secret": "s"},  # secret for nothing
        {"ice_servers": json.dumps([TURN_OPEN]), "turn_secret": "s", "turn_credential_ttl_s": -1},
    ]
    for overrides in bad:
        with pytest.raises(ConfigError):
            BrokerConfig().with_overrides(**overrides).check()
    BrokerConfig(ice_servers=json.dumps([TURN_FIXED])).check()  # fixed credentials suffice
