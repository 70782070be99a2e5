"""Key tables: X11 keysyms (what the viewer sends, SPEC §4.2) → each platform's keys.

Pure data.  The viewer sends X11 keysyms; X11 injects them through the keyboard map
(``XKeysymToKeycode``).  Windows ``SendInput`` wants virtual-key codes and macOS
``CGEventCreateKeyboardEvent`` wants ``CGKeyCode`` (positions on the ANSI keyboard).
A printable character that is not in a table is typed as a Unicode character
(``KEYEVENTF_UNICODE`` / ``CGEventKeyboardSetUnicodeString``), so layouts other than
US English still type the right text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlatformKey:
    """How one keysym is pressed on a platform: a key ``code`` (with Windows'
    extended-key flag), or a Unicode ``char`` to type."""

    code: int | None = None
    extended: bool = False
    char: str | None = None


def _named() -> dict[str, int]:
    # The X11 keysyms the tables use, by name (X11's keysymdef.h values).
    names = {
        "BackSpace": 0xFF08, "Tab": 0xFF09, "Return": 0xFF0D, "Pause": 0xFF13,
        "Scroll_Lock": 0xFF14, "Escape": 0xFF1B, "Home": 0xFF50, "Left": 0xFF51,
        "Up": 0xFF52, "Right": 0xFF53, "Down": 0xFF54, "Prior": 0xFF55, "Next": 0xFF56,
        "End": 0xFF57, "Print": 0xFF61, "Insert": 0xFF63, "Menu": 0xFF67,
        "Num_Lock": 0xFF7F, "KP_Enter": 0xFF8D, "KP_Multiply": 0xFFAA, "KP_Add": 0xFFAB,
        "KP_Subtract": 0xFFAD, "KP_Decimal": 0xFFAE, "KP_Divide": 0xFFAF,
        "Shift_L": 0xFFE1, "Shift_R": 0xFFE2, "Control_L": 0xFFE3, "Control_R": 0xFFE4,
        "Caps_Lock": 0xFFE5, "Alt_L": 0xFFE9, "Alt_R": 0xFFEA, "Super_L": 0xFFEB,
        "Super_R": 0xFFEC, "Delete": 0xFFFF, "space": 0x20,
    }  # fmt: skip
    names.update({f"KP_{d}": 0xFFB0 + d for d in range(10)})
    names.update({f"F{n}": 0xFFBD + n for n in range(1, 25)})
    return names


KEYSYM: dict[str, int] = _named()


def _windows() -> dict[int, PlatformKey]:
    k = KEYSYM
    table = {
        k["BackSpace"]: 0x08, k["Tab"]: 0x09, k["Return"]: 0x0D, k["Pause"]: 0x13,
        k["Caps_Lock"]: 0x14, k["Escape"]: 0x1B, k["space"]: 0x20, k["Print"]: 0x2C,
        k["Scroll_Lock"]: 0x91, k["Num_Lock"]: 0x90, k["KP_Multiply"]: 0x6A,
        k["KP_Add"]: 0x6B, k["KP_Subtract"]: 0x6D, k["KP_Decimal"]: 0x6E,
        k["Shift_L"]: 0xA0, k["Shift_R"]: 0xA1, k["Control_L"]: 0xA2, k["Alt_L"]: 0xA4,
    }  # fmt: skip
    out = {sym: PlatformKey(vk) for sym, vk in table.items()}
    # Keys of the navigation block and right-hand modifiers are "extended" keys:
    # without the flag Windows reads them as the numeric keypad's twins.
    extended = {
        k["Prior"]: 0x21, k["Next"]: 0x22, k["End"]: 0x23, k["Home"]: 0x24,
        k["Left"]: 0x25, k["Up"]: 0x26, k["Right"]: 0x27, k["Down"]: 0x28,
        k["Insert"]: 0x2D, k["Delete"]: 0x2E, k["Super_L"]: 0x5B, k["Super_R"]: 0x5C,
        k["Menu"]: 0x5D, k["KP_Divide"]: 0x6F, k["KP_Enter"]: 0x0D,
        k["Control_R"]: 0xA3, k["Alt_R"]: 0xA5,
    }  # fmt: skip
    out.update({sym: PlatformKey(vk, extended=True) for sym, vk in extended.items()})
    for d in range(10):
        out[ord("0") + d] = PlatformKey(0x30 + d)
        out[k[f"KP_{d}"]] = PlatformKey(0x60 + d)
    for i in range(26):  # VK_A..VK_Z for both cases (Shift is its own event)
        out[ord("a") + i] = out[ord("A") + i] = PlatformKey(0x41 + i)
    for n in range(1, 25):
        out[k[f"F{n}"]] = PlatformKey(0x6F + n)  # VK_F1 = 0x70 … VK_F24 = 0x87
    return out


def _macos() -> dict[int, PlatformKey]:
    k = KEYSYM
    # kVK_ANSI_* and kVK_* from Carbon's Events.h (positions, not characters).
    letters = "asdfhgzxcv?bqweryt"  # 0x00..0x11 ("?" is kVK_ISO_Section, 0x0A)
    table: dict[int, int] = {ord(c): i for i, c in enumerate(letters) if c != "?"}
    table.update({
        ord("1"): 0x12, ord("2"): 0x13, ord("3"): 0x14, ord("4"): 0x15, ord("6"): 0x16,
        ord("5"): 0x17, ord("="): 0x18, ord("9"): 0x19, ord("7"): 0x1A, ord("-"): 0x1B,
        ord("8"): 0x1C, ord("0"): 0x1D, ord("]"): 0x1E, ord("o"): 0x1F, ord("u"): 0x20,
        ord("["): 0x21, ord("i"): 0x22, ord("p"): 0x23, ord("l"): 0x25, ord("j"): 0x26,
        ord("'"): 0x27, ord("k"): 0x28, ord(";"): 0x29, ord("\\"): 0x2A, ord(","): 0x2B,
        ord("/"): 0x2C, ord("n"): 0x2D, ord("m"): 0x2E, ord("."): 0x2F, ord("`"): 0x32,
        k["Return"]: 0x24, k["Tab"]: 0x30, k["space"]: 0x31, k["BackSpace"]: 0x33,
        k["Escape"]: 0x35, k["Super_R"]: 0x36, k["Super_L"]: 0x37, k["Shift_L"]: 0x38,
        k["Caps_Lock"]: 0x39, k["Alt_L"]: 0x3A, k["Control_L"]: 0x3B, k["Shift_R"]: 0x3C,
        k["Alt_R"]: 0x3D, k["Control_R"]: 0x3E, k["KP_Decimal"]: 0x41,
        k["KP_Multiply"]: 0x43, k["KP_Add"]: 0x45, k["Num_Lock"]: 0x47,
        k["KP_Divide"]: 0x4B, k["KP_Enter"]: 0x4C, k["KP_Subtract"]: 0x4E,
        k["Insert"]: 0x72, k["Home"]: 0x73, k["Prior"]: 0x74, k["Delete"]: 0x75,
        k["End"]: 0x77, k["Next"]: 0x79, k["Left"]: 0x7B, k["Right"]: 0x7C,
        k["Down"]: 0x7D, k["Up"]: 0x7E,
    })  # fmt: skip
    keypad = (0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5B, 0x5C)
    table.update({k[f"KP_{d}"]: code for d, code in enumerate(keypad)})
    fkeys = (0x7A, 0x78, 0x63, 0x76, 0x60, 0x61, 0x62, 0x64, 0x65, 0x6D, 0x67, 0x6F,
             0x69, 0x6B, 0x71, 0x6A, 0x40, 0x4F, 0x50, 0x5A)  # fmt: skip
    table.update({k[f"F{n}"]: code for n, code in enumerate(fkeys, 1)})
    for i in range(26):
        lower = ord("a") + i
        if lower in table:
            table[ord("A") + i] = table[lower]
    return {sym: PlatformKey(code) for sym, code in table.items()}


WINDOWS_KEYS: dict[int, PlatformKey] = _windows()
MACOS_KEYS: dict[int, PlatformKey] = _macos()


def _char(keysym: int) -> str | None:
    # Latin-1 keysyms are their code points; 0x01000000 + U is Unicode code point U.
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if 0x01000100 <= keysym <= 0x0110FFFF:
        return chr(keysym - 0x01000000)
    return None


def lookup(table: dict[int, PlatformKey], keysym: int) -> PlatformKey | None:
    """How to press ``keysym`` with ``table``: its key, else its character, else None
    (a keysym the platform has no key for is dropped, as X11 drops it)."""
    key = table.get(keysym)
    if key is not None:
        return key
    ch = _char(keysym)
    return PlatformKey(char=ch) if ch is not None else None
