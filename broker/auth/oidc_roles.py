"""From a provider's claims to a local user (single sign-on, broker/auth/oidc.py):
the role map (``CLEARPANE_OIDC_ROLE_MAP``) and the username. Pure functions, standard
library only, so broker/config.py can check the map when it starts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SSO_ROLES", "RoleMapError", "map_role", "parse_role_map", "username_from"]

#: Roles single sign-on may give. Never ``integration``: those accounts use API keys.
SSO_ROLES = ("engineer", "supervisor", "reviewer", "admin")
_USERNAME = re.compile(r"^[a-z0-9._-]{2,64}$")


class RoleMapError(ValueError):
    """``CLEARPANE_OIDC_ROLE_MAP`` has an entry that is not ``value=role``."""


def parse_role_map(entries: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``("admins=admin", …)`` → ``(("admins", "admin"), …)``, in the given order."""
    pairs: list[tuple[str, str]] = []
    for entry in entries:
        value, sep, role = entry.rpartition("=")
        value, role = value.strip(), role.strip()
        if not sep or not value:
            raise RoleMapError(f"{entry!r} is not 'claim value=role'")
        if role not in SSO_ROLES:
            raise RoleMapError(f"{entry!r}: the role must be one of {', '.join(SSO_ROLES)}")
        pairs.append((value, role))
    return tuple(pairs)


def claim_values(claims: Mapping[str, Any], claim: str) -> frozenset[str]:
    """The string values of ``claim``: a string is one value, a list its strings."""
    raw = claims.get(claim)
    if isinstance(raw, str):
        return frozenset({raw})
    if isinstance(raw, list):
        return frozenset(v for v in raw if isinstance(v, str))
    return frozenset()


def map_role(
    claims: Mapping[str, Any], claim: str, role_map: Sequence[tuple[str, str]]
) -> str | None:
    """The role of the first pair of ``role_map`` whose value the user's ``claim``
    holds; None if none does (the user is refused)."""
    values = claim_values(claims, claim)
    for value, role in role_map:
        if value in values:
            return role
    return None


def username_from(claims: Mapping[str, Any], claim: str) -> str | None:
    """The local username for a new user: the claim lower-cased, if it is a valid
    username (2–64 of ``a-z 0-9 . _ -``); None otherwise."""
    raw = claims.get(claim)
    if not isinstance(raw, str):
        return None
    name = raw.strip().lower()
    return name if _USERNAME.match(name) else None
