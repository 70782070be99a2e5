"""Staff single sign-on with OpenID Connect (issue 18, broker/auth/oidc.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from broker.config_fields.declare import parse_bool, parse_list, setting

__all__ = ["OidcFields"]


@dataclass(frozen=True)
class OidcFields:
    """One group of :class:`broker.config_fields.ConfigFields` (docs/configuration.md)."""

    __slots__ = ()  # the slots are ConfigFields' own: a group is never built alone

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
