"""The agent's languages: every user-visible string of the Qt window and the terminal
mode goes through :func:`_` (or :func:`ngettext` for counts), looked up in gettext
catalogues (``agent/locale/<lang>/LC_MESSAGES/clearpane.po``, read with Babel, so there is
no compile step). The msgid is the English text; placeholders are ``{name}`` fields
filled by :meth:`str.format`. The language follows the OS (``LANGUAGE``, ``LC_ALL``,
``LC_MESSAGES``, ``LANG``), ``CLEARPANE_LANG`` or the ``--lang`` flag override it.
How to add a string: docs/i18n.md.
"""

from __future__ import annotations

import gettext
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DOMAIN",
    "LOCALE_DIR",
    "SUPPORTED",
    "Catalogue",
    "_",
    "detect_language",
    "language",
    "load_catalogue",
    "ngettext",
    "set_language",
]

DOMAIN = "clearpane"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: Languages with a complete catalogue; English is the source text itself.
SUPPORTED = ("en", "ru")
_ENV_ORDER = ("CLEARPANE_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def _english_plural(n: int) -> int:
    return 0 if n == 1 else 1


@dataclass(frozen=True)
class Catalogue:
    """One language's translations: msgid → text, and plural msgid → forms."""

    lang: str
    messages: Mapping[str, str] = field(default_factory=dict)
    plurals: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    plural_index: Callable[[int], int] = _english_plural

    def gettext(self, msgid: str) -> str:
        """The translation, or the English msgid when there is none."""
        return self.messages.get(msgid) or msgid

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The plural form for ``n`` (the language's own rule, e.g. Russian's three)."""
        forms = self.plurals.get(singular)
        if forms:
            index = self.plural_index(n)
            if 0 <= index < len(forms) and forms[index]:
                return forms[index]
        return singular if n == 1 else plural


def load_catalogue(lang: str, locale_dir: Path = LOCALE_DIR) -> Catalogue:
    """Read ``<locale_dir>/<lang>/LC_MESSAGES/clearpane.po`` (English needs none)."""
    path = locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == "en" or not path.is_file():
        return Catalogue("en")
    from babel.messages.pofile import read_po  # imported late: only for a translation

    with path.open("rb") as f:
        po = read_po(f, locale=lang)
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for message in po:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            plurals[str(message.id[0])] = tuple(str(s) for s in forms)
        elif isinstance(message.string, str) and message.string:
            messages[str(message.id)] = message.string
    return Catalogue(lang, messages, plurals, gettext.c2py(po.plural_expr))


def detect_language(env: Mapping[str, str] | None = None) -> str:
    """The first supported language named by the environment, else English."""
    env = os.environ if env is None else env
    for name in _ENV_ORDER:
        for item in env.get(name, "").split(":"):
            code = item.split(".")[0].split("_")[0].split("-")[0].lower()
            if code in SUPPORTED:
                return code
            if code in ("c", "posix"):
                return "en"
    return "en"


class _State:
    """The process speaks one language at a time: set once at start-up (or by the
    window's language switch); reads are lock-free, a switch replaces the whole object."""

    def __init__(self) -> None:
        self.catalogue: Catalogue | None = None
        self.lock = threading.Lock()


_STATE = _State()


def set_language(lang: str | None = None) -> str:
    """Switch the language (``None``: from the environment); returns the one in use."""
    code = (lang or detect_language()).lower()
    if code not in SUPPORTED:
        code = "en"
    with _STATE.lock:
        _STATE.catalogue = load_catalogue(code)
    return code


def _catalogue() -> Catalogue:
    cat = _STATE.catalogue
    if cat is None:
        set_language(None)
        cat = _STATE.catalogue
        assert cat is not None
    return cat


def language() -> str:
    """The language in use (``en`` or ``ru``)."""
    return _catalogue().lang


def _(msgid: str, **params: object) -> str:
    """The user's-language text for ``msgid`` with ``{name}`` fields filled in."""
    text = _catalogue().gettext(msgid)
    return text.format(**params) if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    """The form for ``n`` (``{n}`` is filled in, with any other fields)."""
    text = _catalogue().ngettext(singular, plural, n)
    return text.format(n=n, **params)
