"""Every error code the broker can send has a text in English and Russian.

The broker words its errors in English (``{"error": {"code", "message"}}`` over HTTP,
``error`` messages over the WebSocket); the viewer shows a person the text of the
``code`` from its catalogue (``error.<code>`` in viewer/i18n) when the page is not in
English (viewer/js/api.js ``errorText``). This test finds the codes the broker can emit
by reading its source — every ``code = "…"`` of an exception class under broker/, the
middleware's HTTP status codes, the protocol's SPEC §7 codes the relay sends — so a new
code without both texts fails here.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import yaml

from protocol.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[2]


def _class_codes(path: Path) -> set[str]:
    """``code = "…"`` assigned in the body of any class in ``path``."""
    codes: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            if isinstance(stmt, ast.AnnAssign):
                targets = [stmt.target]
            value = getattr(stmt, "value", None)
            if (
                any(isinstance(t, ast.Name) and t.id == "code" for t in targets)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                codes.add(value.value)
    return codes


def http_error_codes() -> set[str]:
    """Every code the broker can put in an HTTP error body."""
    from broker.middleware import _HTTP_CODES

    codes: set[str] = set()
    for path in (ROOT / "broker").rglob("*.py"):
        if "migrations" not in path.parts:
            codes |= _class_codes(path)
    codes |= set(_HTTP_CODES.values())
    codes.discard("config")  # ConfigError stops the broker at start; never sent
    return codes


def broker_error_codes() -> set[str]:
    """Every code the broker can send: HTTP bodies and the relay's ``error`` messages."""
    return http_error_codes() | {str(c) for c in ErrorCode}


def test_the_scan_finds_the_codes_it_should() -> None:
    # Guards the scanner itself: codes from the errors module, the API modules, the
    # middleware and the protocol.
    codes = broker_error_codes()
    assert {
        "password_change_required",
        "mfa_required",
        "idempotency_key_reused",
        "method_not_allowed",
        "not_granted",
        "session_ended",
        "organisation_disabled",
    } <= codes


def test_every_broker_error_code_has_an_english_and_a_russian_text() -> None:
    codes = broker_error_codes()
    for lang in ("en", "ru"):
        catalogue = json.loads((ROOT / "viewer" / "i18n" / f"{lang}.json").read_text("utf-8"))
        missing = sorted(c for c in codes if not str(catalogue.get(f"error.{c}", "")).strip())
        assert not missing, f"viewer/i18n/{lang}.json lacks error.<code> for {missing}"


def test_the_openapi_error_enum_lists_every_http_code() -> None:
    # The spec's Error.code enum is what API clients switch on.
    spec = yaml.safe_load((ROOT / "broker" / "openapi.yaml").read_text("utf-8"))
    error = spec["components"]["schemas"]["Error"]["properties"]["error"]
    enum = set(error["properties"]["code"]["enum"])
    assert http_error_codes() <= enum, sorted(http_error_codes() - enum)


async def test_a_broker_error_reads_in_the_page_language(browser: Any, broker: Any) -> None:
    """The real broker answers a wrong password with ``unauthorized`` in English; a
    Russian page shows the Russian text of that code, an English page the broker's own
    message."""
    ru = json.loads((ROOT / "viewer" / "i18n" / "ru.json").read_text("utf-8"))
    shown = {}
    for locale in ("ru-RU", "en-US"):
        context = await browser.new_context(ignore_https_errors=True, locale=locale)
        try:
            page = await context.new_page()
            await page.goto(f"{broker.base_url}/#/login")
            await page.wait_for_selector("#login-form")
            await page.fill("#login-username", broker.admin_username)
            await page.fill("#login-password", "certainly not the password")
            await page.click("#login-submit")
            await page.wait_for_selector("#login-error:not([hidden])")
            shown[locale] = (await page.text_content("#login-error") or "").strip()
        finally:
            await context.close()
    assert shown["ru-RU"] == ru["error.unauthorized"]
    assert shown["en-US"] != shown["ru-RU"] and not re.search("[а-я]", shown["en-US"])
