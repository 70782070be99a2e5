"""The viewer's translations (viewer/js/i18n.js, viewer/i18n/*.json, docs/i18n.md).

Static checks fail when a key used by the code lacks a translation, when catalogues
disagree (keys, plural forms, placeholders), or when DOM-building code still carries
English text instead of a `t()` call. Browser checks load the real page in Russian and
English and exercise plural rules, formatting and the saved language switch.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

VIEWER = Path(__file__).resolve().parents[2] / "viewer"
LANGS = ("en", "ru")
PLURAL_FORMS = {"en": {"one", "other"}, "ru": {"one", "few", "many", "other"}}

#: `t('key'` and `t("key"` calls; `i18n-keys: a b` comments name keys built at run time.
KEY_CALL = re.compile(r"""\bt\(\s*(['"])([A-Za-z0-9_.-]+)\1""")
KEY_COMMENT = re.compile(r"i18n-keys:\s*([A-Za-z0-9_. -]+)")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: Where DOM-building code would put literal text for people.
LITERAL_SITES = [
    re.compile(r"""\b(?:text|title|placeholder|label|alt|'aria-label'|"aria-label"):\s*(['"`])"""),
    re.compile(r"""\.(?:textContent|innerText|title|placeholder)\s*=\s*(['"`])"""),
    re.compile(r"""\b(?:toast|confirm|alert|prompt)\(\s*(['"`])"""),
    re.compile(r"""\bh\(\s*'[a-z0-9]+',\s*(?:\{[^{}]*\}|null|undefined),\s*(['"`])"""),
    # A sentence-like literal anywhere (a table of labels): "Capital word, more words".
    re.compile(r"""(?<![\w.])(['"`])(?=[A-Z][a-z]+[ ,][a-z])"""),
]


def catalogue(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VIEWER / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def js_files() -> list[Path]:
    return sorted(p for p in (VIEWER / "js").rglob("*.js") if p.name != "i18n.js")


def used_keys() -> dict[str, str]:
    """Every key the code uses → where."""
    keys: dict[str, str] = {}
    for path in js_files():
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            for m in KEY_CALL.finditer(line):
                keys.setdefault(m.group(2), f"{path.name}:{n}")
            for m in KEY_COMMENT.finditer(line):
                for key in m.group(1).split():
                    keys.setdefault(key, f"{path.name}:{n}")
    html = (VIEWER / "index.html").read_text("utf-8")
    for key in re.findall(r'data-i18n="([^"]+)"', html):
        keys.setdefault(key, "index.html")
    for spec in re.findall(r'data-i18n-attr="([^"]+)"', html):
        for pair in spec.split(";"):
            keys.setdefault(pair.split(":")[1].strip(), "index.html")
    return keys


def literal_text(line: str, start: int, quote: str) -> str:
    """The string literal opening at ``start`` (template ``${…}`` parts removed)."""
    out, i, depth = [], start, 0
    while i < len(line):
        c = line[i]
        if quote == "`" and line.startswith("${", i):
            depth += 1
            i += 2
            continue
        if depth:
            depth += c == "{"
            depth -= c == "}"
        elif c == "\\":
            i += 1
        elif c == quote:
            break
        else:
            out.append(c)
        i += 1
    return "".join(out)


def test_every_used_key_is_translated_in_every_language() -> None:
    used = used_keys()
    assert len(used) > 20  # the scan itself works
    for lang in LANGS:
        cat = catalogue(lang)
        missing = {k: where for k, where in used.items() if k not in cat}
        assert not missing, f"{lang}.json lacks {missing}"


def test_catalogues_agree() -> None:
    en, ru = catalogue("en"), catalogue("ru")
    assert set(en) == set(ru), f"only in en: {set(en) - set(ru)}; only in ru: {set(ru) - set(en)}"
    for key, value in en.items():
        other = ru[key]
        for lang, v in (("en", value), ("ru", other)):
            if isinstance(v, dict):
                assert set(v) == PLURAL_FORMS[lang], f"{lang} {key}: plural forms {set(v)}"
                assert all(isinstance(s, str) and s for s in v.values()), f"{lang} {key}"
            else:
                assert isinstance(v, str) and v.strip(), f"{lang} {key} is empty"

        def names(v: Any) -> set[str]:
            texts = v.values() if isinstance(v, dict) else [v]
            return {n for s in texts for n in PLACEHOLDER.findall(s)}

        assert names(value) == names(other), f"{key}: placeholders differ"


#: Files already converted (the whole viewer once every page is).
CONVERTED = {p.name for p in (VIEWER / "js").rglob("*.js")}


def test_no_english_left_in_dom_building_code() -> None:
    found = []
    for path in js_files():
        if path.name not in CONVERTED:
            continue
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            code = line.split("//")[0] if "i18n-ok" not in line else ""
            if "throw new" in code or "console." in code:
                code = ""  # for developers, not people
            if code.lstrip().startswith(("*", "/*")):
                continue  # JSDoc
            for site in LITERAL_SITES:
                for m in site.finditer(code):
                    text = literal_text(code, m.end(), m.group(1))
                    if re.search(r"[A-Za-z]{2}", text):
                        found.append(f"{path.relative_to(VIEWER)}:{n}: {text!r}")
    assert not found, "untranslated text (use t(), or mark `// i18n-ok` why):\n" + "\n".join(found)


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("meta", "link", "img", "input", "br"):
            return
        self.stack.append((tag, any(k == "data-i18n" for k, _ in attrs)))

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text or text == "Clearpane" or not re.search(r"[A-Za-z]{2}", text):
            return
        tags = [t for t, _ in self.stack]
        if "noscript" in tags or "script" in tags:
            return  # noscript carries both languages
        if not (self.stack and self.stack[-1][1]):
            self.bad.append(text)


def test_index_html_text_is_translated() -> None:
    parser = _Texts()
    parser.feed((VIEWER / "index.html").read_text("utf-8"))
    assert not parser.bad, f"index.html text without data-i18n: {parser.bad}"


@pytest.fixture
async def ru_page(browser: Any) -> Any:
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()


async def test_page_follows_the_browser_language_and_switch_is_saved(
    ru_page: Any, static_viewer: str
) -> None:
    page = ru_page
    await page.goto(f"{static_viewer}/index.html#/login")
    await page.wait_for_selector("#login-form")
    assert await page.text_content("#login-submit") == "Войти"
    assert await page.get_attribute("html", "lang") == "ru"
    assert await page.text_content("#nav a[data-route=queue]") == "Очередь"
    await page.select_option("#lang-select", "en")
    await page.wait_for_function(
        "document.querySelector('#login-submit').textContent === 'Sign in'"
    )
    assert await page.get_attribute("html", "lang") == "en"
    await page.reload()
    await page.wait_for_selector("#login-form")
    assert await page.text_content("#login-submit") == "Sign in"  # the choice was saved


async def test_plural_rules_and_formats_follow_the_language(
    ru_page: Any, static_viewer: str
) -> None:
    page = ru_page
    await page.goto(f"{static_viewer}/blank.html")
    result = await page.evaluate(
        """async () => {
          const i = await import('/js/i18n.js');
          const out = {};
          for (const lang of ['ru', 'en']) {
            await i.loadLanguage(lang);
            out[lang] = {
              forms: [1, 3, 5, 21].map((n) => i.t('queue.count', { count: n })),
              number: i.fmtNumber(12345.5),
              missing: i.t('no.such.key'),
            };
          }
          return out;
        }"""
    )
    ru, en = result["ru"], result["en"]
    assert len(set(ru["forms"][:3])) == 3, ru["forms"]  # one, few, many differ in Russian
    assert ru["forms"][0].split()[-1] == ru["forms"][3].split()[-1]  # 21 is "one" again
    assert en["forms"][1].split()[-1] == en["forms"][2].split()[-1]
    assert ru["number"] != en["number"]  # 12 345,5 vs 12,345.5
    assert en["missing"] == "no.such.key"
