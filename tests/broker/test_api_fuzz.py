"""Property-based fuzzing of the REAL broker (TLS, SQLite) from broker/openapi.yaml with
schemathesis: every documented operation, valid and invalid data (wrong types, missing
and unknown fields, nulls, huge strings, bad path ids), as an admin, as an engineer, with
an agent's token, with a cookie but no CSRF header, and without credentials; plus raw
bodies schemathesis does not send (not JSON, deep nesting, too large). For every answer:
no 5xx; status, content type and body match the spec; every 4xx body is
``{"error": {"code", "message"}}``; data the spec rejects is refused; and a refused
request changes nothing in the store (every table's rows, but failed-login counters).

Bounded for CI (a few examples per operation, derandomized); set CLEARPANE_FUZZ_EXAMPLES
to run more locally, e.g. ``CLEARPANE_FUZZ_EXAMPLES=150 CLEARPANE_FUZZ_SEED=7``.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import hashlib
import json
import os
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from broker.store.db import DB, import_all_models
from broker.store.models import Base
from broker.testing import RunningBroker, running_broker
from protocol.hostile import HOSTILE_PATHS

SPEC_PATH = Path(__file__).resolve().parents[2] / "broker" / "openapi.yaml"
EXAMPLES = int(os.environ.get("CLEARPANE_FUZZ_EXAMPLES", "10"))
# CLEARPANE_FUZZ_SEED=<int> explores other examples than CI's fixed (derandomized) ones.
SEED = os.environ.get("CLEARPANE_FUZZ_SEED")
# Tables a refused request may legitimately change: failed logins are counted there.
VOLATILE_TABLES = frozenset({"login_attempts"})
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
METHODS = ("get", "post", "put", "patch", "delete")

T = TypeVar("T")


class BrokerThread:
    """The real broker running in its own event loop on a background thread, so that
    schemathesis (which sends with ``requests``, synchronously) can talk to it."""

    def __init__(self, tmp_path: Path) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._cm: AbstractAsyncContextManager[RunningBroker] = running_broker(
            tmp_path, agent_requests_per_minute=100_000
        )
        self.broker = self.run(self._cm.__aenter__())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the broker's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    def close(self) -> None:
        """Stop the broker and the loop."""
        try:
            self.run(self._cm.__aexit__(None, None, None))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    async def _snapshot(self) -> dict[str, str]:
        import_all_models()
        db = self.broker.app[DB]
        out: dict[str, str] = {}
        async with db.sessions() as s:
            for table in Base.metadata.sorted_tables:
                if table.name in VOLATILE_TABLES:
                    continue
                rows = (await s.execute(select(table))).all()
                digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
                out[table.name] = f"{len(rows)}:{digest}"
        return out

    def snapshot(self) -> dict[str, str]:
        """Per table (but the volatile ones): row count and a digest of every row."""
        return self.run(self._snapshot())


class _TrustBroker(HTTPAdapter):
    """Verifies TLS with the broker's own client context (its CA only)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


class World:
    """The broker plus the identities and real ids the fuzzer uses."""

    def __init__(self, bt: BrokerThread) -> None:
        self.bt = bt
        b = bt.broker
        self.base_url = b.base_url
        self.http = requests.Session()
        self.http.mount("https://", _TrustBroker(b.ssl_context()))
        admin = bt.run(b.login(b.admin_username, b.admin_password))
        name, password = bt.run(b.create_user("fuzz-eng", "engineer", ("windows",)))
        engineer = bt.run(b.login(name, password))
        # Real ids, so that some cases get past the 404s into the handlers.
        auth = {"Authorization": f"Bearer {engineer}"}
        ticket = self._post("/api/v1/tickets", {"title": "Fuzz"}, auth)
        request = self._post(
            "/api/v1/agent/requests", {"description": "Help", "client_name": "Fuzz"}, {}
        )
        # Who the fuzzer is: request headers per identity. The agent's own token is for
        # POST /agent/rating (staff routes refuse it); the cookie without the CSRF header
        # must not change anything; "anon" sends whatever schemathesis generates.
        self.identities: dict[str, dict[str, str]] = {
            "admin": {"Authorization": f"Bearer {admin}"},
            "engineer": auth,
            "agent": {"Authorization": f"Bearer {request['token']}"},
            "cookie-no-csrf": {"Cookie": f"clearpane_session={admin}"},
            "anon": {},
        }
        users = self.http.get(
            self.base_url + "/api/v1/users", headers={"Authorization": f"Bearer {admin}"}
        ).json()["users"]
        self.ids = {
            "ticket_id": ticket["id"],
            "session_id": request["session_id"],
            "user_id": next(u["id"] for u in users if u["username"] == "fuzz-eng"),
            "name": "standard",
        }

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        r = self.http.post(self.base_url + path, json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    bt = BrokerThread(tmp_path_factory.mktemp("fuzz"))
    try:
        yield World(bt)
    finally:
        bt.close()


def _settings() -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Hypothesis settings: bounded and reproducible unless CLEARPANE_FUZZ_SEED is set."""
    configured = settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=SEED is None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    if SEED is None:
        return configured
    chosen = seed(int(SEED))
    return lambda test: chosen(configured(test))


@functools.cache
def _spec() -> dict[str, Any]:
    """broker/openapi.yaml, parsed once per process (read only: callers never change it).
    Parsing it and building the schemathesis schema took ≈ 0.5 s per test."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SPEC_PATH.read_text(), Loader=loader)  # type: ignore[no-any-return]


@functools.cache
def _schema() -> Any:
    return schemathesis.openapi.from_dict(copy.deepcopy(_spec()))


def _operations() -> list[tuple[str, str]]:
    raw = _spec()
    return [(m.upper(), p) for p, item in raw["paths"].items() for m in item if m in METHODS]


def check_error_body(response: schemathesis.Response) -> None:
    """A 4xx answer is ``{"error": {"code": str, "message": non-empty str}}``."""
    ctype = (response.headers.get("content-type") or [""])[0]
    assert ctype.startswith("application/json"), f"content type {ctype!r}"
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err, dict) and set(err) == {"code", "message"}, body
    assert isinstance(err["code"], str) and err["code"], body
    assert isinstance(err["message"], str) and err["message"].strip(), body


def _exercise(world: World, case: Case[Any], who: str) -> None:
    headers = world.identities[who]
    before = world.bt.snapshot()
    response = case.call(base_url=world.base_url, session=world.http, headers=headers)
    status = response.status_code
    what = f"as {who}: {case.as_curl_command(headers=headers)}\n-> {status} {response.text[:300]}"
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
        assert status < 500
        if 400 <= status < 500:
            check_error_body(response)
            after = world.bt.snapshot()
            changed = sorted(t for t in after if after[t] != before.get(t))
            assert not changed, f"refused, but changed {changed}"
    except (AssertionError, Exception) as exc:
        raise AssertionError(f"{what}\n{exc}") from None


def _sent_as_generated(case: Case[Any]) -> bool:
    """False for a case whose "invalid" query value the HTTP client drops (None, [], {}):
    the server never sees it, so it cannot be asked to refuse it."""
    return not any(v is None or v == [] or v == {} for v in (case.query or {}).values())


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: str(v))
def test_fuzz_operation(world: World, method: str, path: str) -> None:
    operation = _schema()[path][method]
    fixed = {k: v for k, v in world.ids.items() if "{" + k + "}" in path}
    strategies: list[st.SearchStrategy[Case[Any]]] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(generation_mode=mode).filter(_sent_as_generated))
        if fixed:
            with_ids = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
            strategies.append(with_ids.filter(_sent_as_generated))

    @_settings()
    @given(case=st.one_of(strategies), who=st.sampled_from(sorted(world.identities)))
    def run(case: Case[Any], who: str) -> None:
        _exercise(world, case, who)

    run()


def _json_bodies() -> st.SearchStrategy[bytes]:
    """Bodies schemathesis does not send: not JSON, not UTF-8, not an object, nested
    thousands deep, too large, or an object with odd keys and values."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False),
        st.text(max_size=50),
    )
    objects = st.dictionaries(
        st.one_of(st.sampled_from(["title", "username", "code", "score", "as", ""]), st.text()),
        st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(), c)),
        max_size=4,
    )
    return st.one_of(
        st.binary(max_size=200),
        st.sampled_from([b"[]", b"null", b"1", b'"x"', b"{", b"{}x", b"\xff\xfe{}", b"NaN"]),
        st.integers(min_value=900, max_value=40_000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(min_value=900, max_value=20_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.integers(min_value=64 * 1024 - 20, max_value=200 * 1024).map(
            lambda n: b'{"title": "' + b"x" * n + b'"}'
        ),
        objects.map(lambda d: json.dumps(d).encode()),
    )


_WITH_BODY = [(m, p) for m, p in _operations() if m in ("POST", "PUT", "PATCH")]


@pytest.mark.parametrize(("method", "path"), _WITH_BODY, ids=lambda v: str(v))
def test_fuzz_raw_bodies(world: World, method: str, path: str) -> None:
    raw = _spec()
    documented = set(raw["paths"][path][method.lower()]["responses"])
    url = world.base_url + path.format(**{k: world.ids.get(k, "nope") for k in _params(path)})

    @_settings()
    @given(
        body=_json_bodies(),
        ctype=st.sampled_from(["application/json", "text/plain", "", "application/json; x=1"]),
        who=st.sampled_from(sorted(world.identities)),
    )
    def run(body: bytes, ctype: str, who: str) -> None:
        headers = dict(world.identities[who])
        if ctype:
            headers["Content-Type"] = ctype
        before = world.bt.snapshot()
        r = world.http.request(method, url, data=body, headers=headers)
        what = f"{method} {url} as {who} {ctype!r} body {body[:80]!r}… ({len(body)} bytes)"
        assert r.status_code < 500, f"{what} -> {r.status_code} {r.text[:300]}"
        if r.status_code >= 400:
            assert str(r.status_code) in documented, f"{what} -> undocumented {r.status_code}"
            check_error_body(schemathesis.Response.from_any(r))
            after = world.bt.snapshot()
            assert after == before, f"{what} -> {r.status_code} but the store changed"

    run()


def _params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def test_undocumented_methods_are_405_with_a_json_error(world: World) -> None:
    raw = _spec()
    for path, item in raw["paths"].items():
        if path == "/":
            continue  # the viewer's files: GET only, served by path
        url = world.base_url + path.format(**{k: world.ids.get(k, "x") for k in _params(path)})
        for method in METHODS:
            if method in item:
                continue
            r = world.http.request(method.upper(), url, json={})
            check_error_body(schemathesis.Response.from_any(r))
            if method == "get" and r.status_code == 404:
                continue  # GET of any other path falls through to the viewer's files
            assert r.status_code == 405, (method, path, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] == "method_not_allowed"
            allowed = {m.strip().lower() for m in r.headers["Allow"].split(",")}
            assert {m for m in item if m in METHODS} <= allowed, (path, allowed)


def _check_static(world: World, path: str) -> None:
    r = world.http.get(world.base_url + path)
    what = f"GET {path[:120]!r} -> {r.status_code} {r.text[:200]}"
    assert r.status_code < 500, what
    if r.status_code >= 400:
        assert r.status_code in (400, 404), what
        check_error_body(schemathesis.Response.from_any(r))
    else:
        assert r.status_code == 200, what


def test_fuzz_static_paths(world: World) -> None:
    """The viewer's catch-all file route: the hostile corpus, then generated bytes and
    text percent-encoded under every prefix, never a 5xx and always a JSON error."""
    for path in HOSTILE_PATHS:
        _check_static(world, path)
        _check_static(world, "/static" + path)

    @_settings()
    @given(
        raw=st.one_of(st.binary(min_size=1, max_size=80), st.text(min_size=1, max_size=80)),
        prefix=st.sampled_from(["/", "/static/", "/js/", "/css/", "/index.html"]),
    )
    def run(raw: bytes | str, prefix: str) -> None:
        _check_static(world, prefix + urllib.parse.quote(raw, safe="/.%"))

    run()
