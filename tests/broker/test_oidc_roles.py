"""Single sign-on's claim → role mapping and its config checks (the real provider flow:
tests/integrations/test_oidc.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.auth.oidc_roles import RoleMapError, map_role, parse_role_map, username_from
from broker.errors import ConfigError
from broker.testing import test_config

MAP = parse_role_map(["cp-admins=admin", "cp-sup=supervisor", "cp-eng=engineer"])


def test_the_first_matching_pair_wins_and_strings_count_as_one_value() -> None:
    assert map_role({"groups": ["cp-eng", "cp-admins"]}, "groups", MAP) == "admin"
    assert map_role({"groups": ["cp-eng"]}, "groups", MAP) == "engineer"
    assert map_role({"groups": "cp-sup"}, "groups", MAP) == "supervisor"
    assert map_role({"groups": ["other"], "roles": ["cp-admins"]}, "groups", MAP) is None
    assert map_role({"groups": [1, None]}, "groups", MAP) is None
    assert map_role({}, "groups", MAP) is None


@pytest.mark.parametrize("entry", ["cp-admins", "=admin", "x=integration", "x=root", "x="])
def test_bad_role_map_entries_are_refused(entry: str) -> None:
    with pytest.raises(RoleMapError):
        parse_role_map([entry])


def test_usernames_from_claims() -> None:
    assert username_from({"preferred_username": "Nina.P"}, "preferred_username") == "nina.p"
    assert username_from({"preferred_username": "n p"}, "preferred_username") is None
    assert username_from({"preferred_username": ["x"]}, "preferred_username") is None
    assert username_from({}, "preferred_username") is None


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"oidc_only": True}, "oidc_only needs oidc_issuer"),
        (
            {
                "oidc_issuer": "http://127.0.0.1:9/openid",
                "oidc_client_id": "c",
                "oidc_role_map": ("a=admin",),
            },
            "must start with https://",
        ),
        (
            {"oidc_issuer": "https://id.example.com", "oidc_role_map": ("a=admin",)},
            "needs oidc_client_id",
        ),
        ({"oidc_issuer": "https://id.example.com", "oidc_client_id": "c"}, "needs oidc_role_map"),
        ({"oidc_role_map": ("a=integration",)}, "oidc_role_map"),
    ],
)
def test_config_check_names_the_oidc_problem(
    tmp_path: Path, overrides: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        test_config(tmp_path, **overrides).check()
    assert problem in str(caught.value)


def test_a_loopback_http_issuer_needs_the_development_switch(tmp_path: Path) -> None:
    base = {
        "oidc_issuer": "http://127.0.0.1:9/openid",
        "oidc_client_id": "c",
        "oidc_role_map": ("a=admin",),
    }
    test_config(tmp_path, oidc_allow_http_loopback=True, **base).check()
