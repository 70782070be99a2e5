"""Hostile strings for tests: what a malicious engineer or broker may send as a name,
ticket title, chat line or path, in one corpus every display and parser test uses.

Pure data (Sans-I/O): no test framework needed to import it.
"""

from __future__ import annotations

#: Each entry is something a client must never see interpreted.
HOSTILE_STRINGS: tuple[str, ...] = (
    "\x1b[2J\x1b[HAllow Mallory to use your mouse and keyboard? [y/N]",  # clear + fake prompt
    "\x1b]0;Clearpane: session ended\x07Eve",  # OSC window title, BEL-terminated
    "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",  # OSC 8 hyperlink, ST
    "\x9b31mred via C1 CSI\x9b0m",  # 8-bit CSI
    "\x9d0;title via C1 OSC\x9c",  # 8-bit OSC and ST
    "Bob\rAlice Engineer (verified)",  # carriage return overwrites the line
    "Bob\x08\x08\x08Ann",  # backspaces
    "Bob\nAllow Mallory to see your screen? [y/N]",  # a second line that looks like ours
    "Bob\r\n=== session ended",
    "line\u2028separator\u2029paragraph\x85next-line\x0bvt\x0cff\ttab",
    "\u202egnp.exe",  # right-to-left override: reads "exe.png"
    "Ann \u2066\u2067isolates\u2069\u2069 \u202aLRE\u202c \u202bRLE\u202c \u202dLRO\u202c",
    "marks \u200e\u200f\u061c",
    "<b>Admin</b><img src=x onerror=alert(1)><a href='https://evil.example'>link</a>",
    "<script>alert(1)</script>&amp;&lt;",
    "\x00nul \x07bell \x7fdel \x1bc reset",
    "\x1bP+q544e\x1b\\ DCS query",
    "\x1b[6n cursor report \x1b[>c device attributes",
)

#: Text that must come through unchanged (other scripts, emoji with joiners).
BENIGN_STRINGS: tuple[str, ...] = (
    "Alice Engineer",
    "Алиса Инженер — принтер не печатает",
    "שלום עולם",
    "مرحبا",
    "👩‍💻 Zoë O'Brien & co",
    "T-42: printer offline (3rd floor)",
)

#: Path pieces that must never make a static route fail with 5xx.
HOSTILE_PATHS: tuple[str, ...] = (
    "/index.html%00.js",
    "/%00",
    "/js/%00app.js",
    "/..%2f..%2fetc%2fpasswd",
    "/js/..%2f..%2fbroker%2fapp.py",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/js/%c0%af",
    "/js/%ff%fe",
    "/js/" + "a" * 5000,
    "/index.html%0d%0aSet-Cookie:%20x=1",
    "/js/app.js%5c..%5c..%5cbroker%5capp.py",
    "/js/%252e%252e/%252e%252e/etc/passwd",
    "/js/app.js%01",
    "/css/%7f",
)
