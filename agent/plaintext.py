"""Text from the broker or an engineer, made safe to show to the client.

Everything a viewer or the broker can choose — a name, a role, a ticket title, a
chat line, a notice — reaches the client's terminal and window. Shown raw, a
terminal obeys escape sequences (clear the screen, set the title, move the cursor
and draw a fake "Allow … [y/N]" question), a newline starts a line that looks like
ours, and a bidi override reverses what the client reads. ``plain_text`` keeps
every printable character (any script, emoji) and turns the rest into something
inert and visible:

- C0 and C1 control characters (ESC, CSI, BEL, backspace, CR…) and DEL become
  the visible "control pictures" (``␛``, ``␇``…) or ``�``, so an escape sequence is
  left as harmless printed text and the tampering shows;
- line breaks (LF, CR LF, VT, FF, NEL, U+2028/2029) and tabs become one space: one
  message stays on one line;
- bidi embeddings, overrides, isolates and marks are removed.

HTML is not touched here: a plain-text widget shows ``<b>`` as typed; a rich-text
label must use ``html_text`` instead.
"""

from __future__ import annotations

import html

#: Explicit bidi formatting characters (Unicode UAX #9): embeddings, overrides,
#: isolates, and the implicit marks (LRM, RLM, ALM).
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
_LINE_BREAKS = frozenset("\n\r\t\v\f\x85\u2028\u2029")
#: Longest text we show in one piece; a longer one is cut with an ellipsis.
MAX_CHARS = 2000


def _table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in range(0x20):
        table[code] = chr(0x2400 + code)  # U+2400… "control pictures": ␀ ␁ … ␛ …
    table[0x7F] = "\u2421"  # ␡
    for code in range(0x80, 0xA0):
        table[code] = "\ufffd"
    for ch in _LINE_BREAKS:
        table[ord(ch)] = " "
    for ch in BIDI_CONTROLS:
        table[ord(ch)] = None
    return table


_TABLE = _table()


def plain_text(text: object, max_chars: int = MAX_CHARS) -> str:
    """``text`` as one inert line: no control, line-break or bidi character left."""
    value = text if isinstance(text, str) else str(text)
    clean = value.replace("\r\n", "\n").translate(_TABLE)
    if len(clean) > max_chars:
        clean = clean[: max_chars - 1] + "…"
    return clean


def html_text(text: object, max_chars: int = MAX_CHARS) -> str:
    """``plain_text`` escaped for a rich-text (HTML) label: markup shows as typed."""
    return html.escape(plain_text(text, max_chars), quote=True)


def is_plain(text: str) -> bool:
    """True when ``text`` has nothing ``plain_text`` would change (used by tests)."""
    return plain_text(text, max_chars=max(len(text), 1)) == text
