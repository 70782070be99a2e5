"""Fixtures of the integration tests: a REAL OpenID provider (django-oidc-provider)
in its own process, and a broker configured to use it for staff single sign-on."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import pytest

from broker.testing import RunningBroker, running_broker
from tests.integrations.sites import DjangoSite, django_site, migrated_template

CLIENT_ID = "clearpane"
CLIENT_SECRET = "test-client-secret-7f3a9c"
ROLE_MAP = (
    "cp-admins=admin",
    "cp-supervisors=supervisor",
    "cp-engineers=engineer",
    "cp-reviewers=reviewer",
)
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Sso:
    """A provider and a broker that signs staff in through it."""

    provider: DjangoSite
    broker: RunningBroker

    @property
    def issuer(self) -> str:
        return self.provider.url + "/openid"

    async def add_user(self, username: str, groups: list[str], name: str = "") -> str:
        """A user at the provider; returns their password."""
        password = f"pw-{username}-provider"
        await self.provider.command(
            "add_user",
            username=username,
            password=password,
            groups=groups,
            name=name or username.title(),
            email=f"{username}@example.com",
        )
        return password

    def browser(self) -> aiohttp.ClientSession:
        """A cookie-keeping HTTP client ("a browser") trusting the broker's CA."""
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self.broker.ssl_context()),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # keep cookies of 127.0.0.1
        )

    async def to_provider_form(self, http: aiohttp.ClientSession, next_hash: str = "") -> str:
        """Start the login at the broker and follow it to the provider's login form;
        return that form's URL."""
        query = f"?next={quote(next_hash)}" if next_hash else ""
        login_url = f"{self.broker.base_url}/api/v1/auth/oidc/login{query}"
        async with http.get(login_url) as r:
            assert r.status == 200 and "provider-login" in await r.text(), r.url
            return str(r.url)

    async def submit_form(
        self,
        http: aiohttp.ClientSession,
        form_url: str,
        username: str,
        password: str,
        *,
        follow: bool = True,
    ) -> aiohttp.ClientResponse:
        """Sign in on the provider's form (its CSRF token included). ``follow``: on to
        the broker's callback and the viewer; otherwise stop at the provider's answer."""
        async with http.get(form_url) as r:
            token = _CSRF.search(await r.text())
            assert token, "no CSRF token in the provider's form"
        nxt = parse_qs(urlsplit(form_url).query).get("next", [""])[0]
        form = {
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": password,
            "next": nxt,
        }
        async with http.post(form_url, data=form, allow_redirects=follow) as r:
            await r.read()
            return r

    async def sign_in(
        self, http: aiohttp.ClientSession, username: str, password: str, next_hash: str = ""
    ) -> str:
        """The whole flow; returns where the broker sent the browser at the end (the
        ``Location`` of its callback answer)."""
        form_url = await self.to_provider_form(http, next_hash)
        r = await self.submit_form(http, form_url, username, password)
        callback = [h for h in r.history if "/api/v1/auth/oidc/callback" in str(h.url)]
        assert callback, [str(h.url) for h in r.history]
        return callback[-1].headers["Location"]


def session_cookie(http: aiohttp.ClientSession) -> str | None:
    """The broker's session cookie in this browser, if any."""
    for cookie in http.cookie_jar:
        if cookie.key == "clearpane_session" and cookie.value:
            return cookie.value
    return None


def start_sso(tmp_path: Path, provider: DjangoSite, **overrides: Any) -> Any:
    """A broker context manager configured for ``provider``."""
    return running_broker(
        tmp_path,
        oidc_issuer=provider.url + "/openid",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_scopes=("openid", "profile", "email", "groups"),
        oidc_role_map=ROLE_MAP,
        oidc_allow_http_loopback=True,
        oidc_display_name="Test ID",
        **overrides,
    )


@pytest.fixture(scope="session")
def django_templates(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``template(site)``: that site's migrated database, made once per test run."""
    made: dict[str, Path] = {}

    def template(site: str) -> Path:
        if site not in made:
            made[site] = migrated_template(site, tmp_path_factory.mktemp(site))
        return made[site]

    return template


@pytest.fixture
async def provider(
    tmp_path: Path, django_templates: Callable[[str], Path]
) -> AsyncIterator[DjangoSite]:
    """The real OpenID provider, in its own process."""
    folder = tmp_path / "provider"
    async with django_site("oidc_site", folder, template=django_templates("oidc_site")) as site:
        yield site


async def register_client(provider: DjangoSite, broker: RunningBroker) -> None:
    """Register the broker as the provider's client (its callback and logout URLs)."""
    await provider.command(
        "add_client",
        client_id=CLIENT_ID,
        secret=CLIENT_SECRET,
        redirect_uris=[broker.base_url + "/api/v1/auth/oidc/callback"],
        post_logout_redirect_uris=[broker.base_url + "/"],
    )


@pytest.fixture
async def sso(tmp_path: Path, provider: DjangoSite) -> AsyncIterator[Sso]:
    """The provider and a broker using it (roles from the ``groups`` claim)."""
    async with start_sso(tmp_path, provider) as broker:
        await register_client(provider, broker)
        yield Sso(provider, broker)
