"""The agent's translations (agent/i18n.py, agent/locale/, docs/i18n.md).

Fails when a string marked with ``_()``/``ngettext()`` has no Russian translation, when
the Russian text loses a ``{placeholder}``, or when the window or the terminal mode
builds user-visible text from an English literal that is not marked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from agent import i18n
from agent.i18n import _, detect_language, ngettext

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "agent"
PO = AGENT / "locale" / "ru" / "LC_MESSAGES" / "clearpane.po"
KEYWORDS = {"_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")
#: Files whose literals reach the client; each call below must take a translated text.
UI_FILES = [
    "headless.py",
    *sorted(
        str(p.relative_to(AGENT)) for p in (AGENT / "ui").glob("*.py") if p.name != "__init__.py"
    ),
]
LITERAL_SITES = re.compile(
    r"""\b(?:say|setText|setPlaceholderText|setToolTip|setWindowTitle|QLabel|QPushButton|"""
    r"""QGroupBox|QCheckBox|addItem|setTitle|notice|_status)\(\s*f?(["'])([^"']*[A-Za-z]{2})"""
)


def extracted() -> dict[str, tuple[str, ...]]:
    """Every marked msgid in the agent → its texts (singular, plural)."""
    out: dict[str, tuple[str, ...]] = {}
    for _fn, _lineno, message, _comments, _ctx in extract_from_dir(
        str(AGENT), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        texts = message if isinstance(message, tuple) else (message,)
        out[texts[0]] = tuple(texts)
    return out


def test_every_marked_string_has_a_russian_translation() -> None:
    marked = extracted()
    assert len(marked) >= 1
    with PO.open("rb") as f:
        po = read_po(f, locale="ru")
    missing, broken = [], []
    for msgid, texts in marked.items():
        entry = po.get(msgid if len(texts) == 1 else texts)
        strings = entry.string if entry is not None else None
        forms = strings if isinstance(strings, tuple) else (strings,)
        if entry is None or entry.fuzzy or not all(forms):
            missing.append(msgid)
            continue
        want = {n for t in texts for n in PLACEHOLDER.findall(t)}
        if any({n for n in PLACEHOLDER.findall(str(s))} != want for s in forms):
            broken.append(msgid)
    assert not missing, "no Russian for (run `make i18n-agent`, then translate):\n" + "\n".join(
        missing
    )
    assert not broken, f"placeholders differ: {broken}"


def test_no_unmarked_english_in_client_facing_code() -> None:
    found = []
    for rel in UI_FILES:
        path = AGENT / rel
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if "i18n-ok" in line:
                continue
            for m in LITERAL_SITES.finditer(line):
                found.append(f"{rel}:{n}: {m.group(2)!r}")
    assert not found, "wrap in _() (or mark `# i18n-ok` why):\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("env", "lang"),
    [
        ({"LANG": "ru_RU.UTF-8"}, "ru"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LANGUAGE": "de:ru", "LANG": "en_US.UTF-8"}, "ru"),
        ({"LC_ALL": "C", "LANG": "ru_RU.UTF-8"}, "en"),
        ({"CLEARPANE_LANG": "en", "LANG": "ru_RU.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_language_follows_the_environment(env: dict[str, str], lang: str) -> None:
    assert detect_language(env) == lang


def test_switching_language_changes_text_and_plurals() -> None:
    try:
        assert i18n.set_language("ru") == "ru"
        text = _("Clearpane agent — type 'kill' or press Ctrl+C to stop everything at any time.")
        assert "Агент" in text
        cat = i18n.load_catalogue("ru")
        assert [cat.plural_index(n) for n in (1, 3, 5, 11, 21)] == [0, 1, 2, 2, 0]
        assert ngettext("{n} second", "{n} seconds", 5) in ("5 seconds", "5 секунд")
        assert i18n.set_language("xx") == "en"
        assert _("No such message {x}", x=1) == "No such message 1"
    finally:
        i18n.set_language("en")
