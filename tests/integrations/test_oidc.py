"""Staff single sign-on against a REAL OpenID provider (django-oidc-provider on SQLite,
its own process): the code flow through the provider's login form, roles mapped from
the ``groups`` claim, a disabled local user refused, a forged, replayed or foreign
state refused, the nonce checked, no local account taken over by name, password
sign-in limited to break-glass admins under ``oidc_only``."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import update

from broker.store import queries
from broker.store.db import DB
from broker.store.oidc_models import OidcLoginModel
from broker.testing import FakeClock
from tests.integrations.conftest import Sso, register_client, session_cookie, start_sso
from tests.integrations.sites import DjangoSite


async def _me(sso: Sso, token: str) -> dict[str, object]:
    status, body, _ = await sso.broker.request("GET", "/api/v1/me", token=token)
    assert status == 200, body
    return dict(body)


async def test_sign_in_maps_the_role_and_keeps_it_up_to_date(sso: Sso) -> None:
    password = await sso.add_user("nina", ["cp-engineers", "cp-supervisors"], "Nina Petrova")
    async with sso.browser() as http:
        location = await sso.sign_in(http, "nina", password, next_hash="#/tickets")
        assert location == "/#/tickets"  # back where the login page was asked for
        token = session_cookie(http)
        assert token
        me = await _me(sso, token)
    # The first pair of the map that matches wins: supervisor is listed before engineer.
    assert (me["username"], me["role"], me["name"]) == ("nina", "supervisor", "Nina Petrova")
    # The provider moves her to reviewers: the next sign-in updates the same local user.
    await sso.provider.command("set_groups", username="nina", groups=["cp-reviewers"])
    async with sso.browser() as http:
        await sso.sign_in(http, "nina", password)
        again = await _me(sso, session_cookie(http) or "")
    assert (again["id"], again["role"]) == (me["id"], "reviewer")
    # The old token was of the supervisor's generation: the role change revoked it.
    status, _, _ = await sso.broker.request("GET", "/api/v1/me", token=token)
    assert status == 401


async def test_a_user_without_a_mapped_group_gets_no_account(sso: Sso) -> None:
    password = await sso.add_user("otto", ["marketing"])
    async with sso.browser() as http:
        location = await sso.sign_in(http, "otto", password)
        assert location == "/#/login?sso_error=sso_no_role"
        assert session_cookie(http) is None
    assert await queries.get_user_by_username(sso.broker.app[DB], "otto") is None


async def test_a_disabled_local_user_is_refused(sso: Sso) -> None:
    password = await sso.add_user("dora", ["cp-engineers"])
    async with sso.browser() as http:
        assert await sso.sign_in(http, "dora", password) == "/#/"
    db = sso.broker.app[DB]
    dora = await queries.get_user_by_username(db, "dora")
    assert dora is not None
    admin = await sso.broker.login(sso.broker.admin_username, sso.broker.admin_password)
    status, body, _ = await sso.broker.request(
        "PATCH", f"/api/v1/users/{dora.id}", token=admin, json={"disabled": True}
    )
    assert status == 200, body
    async with sso.browser() as http:  # the provider still says yes; the broker says no
        assert await sso.sign_in(http, "dora", password) == "/#/login?sso_error=sso_disabled"
        assert session_cookie(http) is None


async def test_a_local_account_is_never_taken_over_by_its_username(sso: Sso) -> None:
    # Somebody at the provider is called "admin" like the break-glass admin.
    password = await sso.add_user("admin", ["cp-admins"])
    async with sso.browser() as http:
        location = await sso.sign_in(http, "admin", password)
        assert location == "/#/login?sso_error=sso_username"
        assert session_cookie(http) is None


async def _callback_url(sso: Sso, http: object, username: str, password: str) -> str:
    """Sign in at the provider but stop before the broker's callback; its URL."""
    form_url = await sso.to_provider_form(http)  # type: ignore[arg-type]
    r = await sso.submit_form(http, form_url, username, password, follow=False)  # type: ignore[arg-type]
    location = r.headers["Location"]
    while not location.startswith(sso.broker.base_url + "/api/v1/auth/oidc/callback"):
        async with http.get(  # type: ignore[attr-defined]
            location if location.startswith("http") else sso.provider.url + location,
            allow_redirects=False,
        ) as step:
            location = step.headers["Location"]
    return location


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?code={query['code'][0]}&state={state}"


async def test_forged_foreign_and_replayed_states_are_refused(sso: Sso) -> None:
    password = await sso.add_user("fred", ["cp-engineers"])
    async with sso.browser() as http:
        callback = await _callback_url(sso, http, "fred", password)
        # A forged state (the right code, this browser's binding cookie): refused.
        async with http.get(
            _with_state(callback, secrets.token_urlsafe(32)), allow_redirects=False
        ) as r:
            assert r.status == 303
            assert r.headers["Location"] == "/#/login?sso_error=sso_state"
        assert session_cookie(http) is None
    # The first attempt used the state up, whatever came of it: a fresh login.
    async with sso.browser() as http:
        callback = await _callback_url(sso, http, "fred", password)
        # The genuine callback in ANOTHER browser (login CSRF): it lacks the binding.
        async with sso.browser() as other:
            async with other.get(callback, allow_redirects=False) as r:
                assert r.headers["Location"] == "/#/login?sso_error=sso_state"
            assert session_cookie(other) is None
    async with sso.browser() as http:
        callback = await _callback_url(sso, http, "fred", password)
        async with http.get(callback, allow_redirects=False) as r:
            assert r.headers["Location"] == "/#/"
        assert session_cookie(http)
        http.cookie_jar.clear(lambda c: c.key == "clearpane_session")
        async with http.get(callback, allow_redirects=False) as r:  # replayed: used up
            assert r.headers["Location"] == "/#/login?sso_error=sso_state"
        assert session_cookie(http) is None


async def test_an_id_token_for_another_nonce_is_refused(sso: Sso) -> None:
    password = await sso.add_user("nora", ["cp-engineers"])
    async with sso.browser() as http:
        callback = await _callback_url(sso, http, "nora", password)
        # The provider put the login's nonce into the ID token; the broker expects
        # another one now (as if the token had been minted for a different login).
        async with sso.broker.app[DB].sessions.begin() as s:
            await s.execute(update(OidcLoginModel).values(nonce=secrets.token_urlsafe(32)))
        async with http.get(callback, allow_redirects=False) as r:
            assert r.headers["Location"] == "/#/login?sso_error=sso_token"
        assert session_cookie(http) is None
    assert await queries.get_user_by_username(sso.broker.app[DB], "nora") is None


async def test_oidc_only_keeps_passwords_for_break_glass_admins(
    tmp_path: Path, provider: DjangoSite
) -> None:
    async with start_sso(tmp_path, provider, oidc_only=True) as broker:
        await register_client(provider, broker)
        status, methods, _ = await broker.request("GET", "/api/v1/auth/methods")
        assert status == 200
        assert methods == {
            "password": False,
            "sso": {"name": "Test ID", "login_url": "/api/v1/auth/oidc/login"},
        }
        _, secret = await broker.create_user("eve", "engineer")
        status, body, _ = await broker.request(
            "POST", "/api/v1/auth/login", json={"username": "eve", "password": secret}
        )
        assert (status, body["error"]["code"]) == (403, "forbidden")
        assert await broker.login(broker.admin_username, broker.admin_password)  # break glass


async def test_a_login_not_finished_within_ten_minutes_is_refused(
    tmp_path: Path, provider: DjangoSite
) -> None:
    clock = FakeClock()
    async with start_sso(tmp_path, provider, clock=clock) as broker:
        await register_client(provider, broker)
        sso = Sso(provider, broker)
        password = await sso.add_user("lena", ["cp-engineers"])
        async with sso.browser() as http:
            callback = await _callback_url(sso, http, "lena", password)
            clock.advance(10 * 60 + 1)  # the state was issued more than ten minutes ago
            async with http.get(callback, allow_redirects=False) as r:
                assert r.headers["Location"] == "/#/login?sso_error=sso_state"
            assert session_cookie(http) is None
