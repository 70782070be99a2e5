"""Single sign-on's public routes with hostile input (no provider needed): whatever the
callback's query holds — states never issued, huge or odd values, provider errors,
extra parameters — the answer is a redirect to the login page with a reason, no session
cookie, never a 5xx; a login while the provider is down says so the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.testing import RunningBroker, running_broker

REASONS = {"sso_state", "sso_provider"}
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@pytest.fixture
async def sso_broker(tmp_path: Path) -> AsyncIterator[RunningBroker]:
    async with running_broker(
        tmp_path,
        oidc_issuer="http://127.0.0.1:9/openid",  # nothing listens there: the provider is down
        oidc_client_id="clearpane",
        oidc_role_map=("staff=engineer",),
        oidc_allow_http_loopback=True,
    ) as broker:
        yield broker


async def _redirect(broker: RunningBroker, path: str) -> tuple[int, str, bool]:
    async with (
        broker.client() as http,
        http.get(broker.base_url + path, allow_redirects=False) as r,
    ):
        session = any(c.key == "clearpane_session" and c.value for c in r.cookies.values())
        return r.status, r.headers.get("Location", ""), session


async def test_hostile_callbacks_only_ever_lead_back_to_the_login_page(
    sso_broker: RunningBroker,
) -> None:
    seen: set[str] = set()

    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(st.dictionaries(st.sampled_from(["state", "code", "error", "session_state", "x"]),
                           TEXT, max_size=5))  # fmt: skip
    def run(query: dict[str, str]) -> None:
        status, location, session = asyncio.run_coroutine_threadsafe(
            _redirect(sso_broker, "/api/v1/auth/oidc/callback?" + urlencode(query)), loop
        ).result(30)
        assert status == 303 and not session, (query, status, location)
        reason = location.removeprefix("/#/login?sso_error=")
        assert reason in REASONS, location
        seen.add(reason)

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(run)
    assert seen == {"sso_state"}  # no state was ever issued: nothing reaches the provider
    status, location, session = await _redirect(
        sso_broker, "/api/v1/auth/oidc/login?next=%23/queue"
    )
    assert (status, location, session) == (303, "/#/login?sso_error=sso_provider", False)
    status, location, _ = await _redirect(sso_broker, "/api/v1/auth/oidc/login?nope=1")
    assert status == 400, location  # an unknown parameter: a JSON error, no redirect
