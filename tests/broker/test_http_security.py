"""Security headers on every response, the static viewer, health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from broker.app import create_app
from broker.middleware import CSP
from broker.testing import RunningBroker, running_broker, test_config

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def _viewer(tmp_path: Path) -> Path:
    root = tmp_path / "viewer"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Clearpane</title>")
    (root / "js" / "ui.js").write_text("export const x = 1;\n")
    (root / "notes.txt").write_text("not served")
    (tmp_path / "secret.html").write_text("outside")
    return root


def _assert_security_headers(headers: Any, *, tls: bool = True) -> None:
    assert headers["Content-Security-Policy"] == EXPECTED_CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert ("Strict-Transport-Security" in headers) is tls


async def test_headers_on_viewer_api_and_errors(tmp_path: Path) -> None:
    assert CSP == EXPECTED_CSP
    async with running_broker(tmp_path, viewer_dir=_viewer(tmp_path)) as broker:
        status, body, headers = await broker.request("GET", "/")
        assert status == 200 and "<title>Clearpane</title>" in body
        assert headers["Content-Type"].startswith("text/html")
        _assert_security_headers(headers)
        for path in ("/js/ui.js", "/static/js/ui.js"):
            status, body, headers = await broker.request("GET", path)
            assert status == 200 and "export const" in body
            assert headers["Content-Type"].startswith("text/javascript")
            _assert_security_headers(headers)
        status, body, headers = await broker.request("GET", "/api/v1/health")
        assert status == 200 and body["status"] == "ok" and body["version"]
        _assert_security_headers(headers)
        assert headers["Cache-Control"] == "no-store"
        for path in (
            "/nope.js",
            "/notes.txt",
            "/%2e%2e/secret.html",
            "/static/..%2fsecret.html",
            "/api/v1/nope",
        ):
            status, body, headers = await broker.request("GET", path)
            assert status == 404, path
            assert body["error"]["code"] == "not_found"
            _assert_security_headers(headers)


async def test_no_hsts_on_plain_http(aiohttp_client: Any, tmp_path: Path) -> None:
    app = create_app(test_config(tmp_path / "d", insecure_http=True, viewer_dir=_viewer(tmp_path)))
    client = await aiohttp_client(app)
    response = await client.get("/")
    assert response.status == 200
    _assert_security_headers(response.headers, tls=False)


async def test_tls_only_by_default(broker: RunningBroker) -> None:
    import aiohttp

    # Plain HTTP to the TLS port fails: there is no silent downgrade.
    async with aiohttp.ClientSession() as http:
        try:
            async with http.get(
                broker.base_url.replace("https://", "http://") + "/api/v1/health"
            ) as r:
                status = r.status
        except aiohttp.ClientError:
            status = None
    assert status in (None, 400)
