"""Naming keys for the client's log without ever recording characters (G7, SPEC §4.2).

Special keys (Enter, Tab, Escape, F1–F12, arrows, …) are named; printable keys are
only *counted*; a printable key pressed with Ctrl, Alt or Meta is a shortcut and is
named as a combination ("Ctrl+C"), because the client must see shortcuts that act on
their machine. Modifier keys on their own are neither named nor counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MOD_SHIFT = 0x01
MOD_CTRL = 0x02
MOD_ALT = 0x04
MOD_META = 0x08

_SPECIAL: dict[int, str] = {
    0xFF08: "Backspace",
    0xFF09: "Tab",
    0xFF0D: "Enter",
    0xFF13: "Pause",
    0xFF14: "ScrollLock",
    0xFF15: "SysReq",
    0xFF1B: "Escape",
    0xFF50: "Home",
    0xFF51: "Left",
    0xFF52: "Up",
    0xFF53: "Right",
    0xFF54: "Down",
    0xFF55: "PageUp",
    0xFF56: "PageDown",
    0xFF57: "End",
    0xFF61: "PrintScreen",
    0xFF63: "Insert",
    0xFF67: "Menu",
    0xFF8D: "Enter",  # KP_Enter
    0xFFFF: "Delete",
    0xFE20: "Tab",  # ISO_Left_Tab (Shift+Tab)
}
_SPECIAL.update({0xFFBE + i: f"F{i + 1}" for i in range(12)})

_MODIFIER_KEYS = frozenset(
    {
        0xFFE1, 0xFFE2,  # Shift
        0xFFE3, 0xFFE4,  # Control
        0xFFE5, 0xFFE6,  # Caps/Shift lock
        0xFFE7, 0xFFE8,  # Meta
        0xFFE9, 0xFFEA,  # Alt
        0xFFEB, 0xFFEC,  # Super
        0xFFED, 0xFFEE,  # Hyper
        0xFE03,  # ISO_Level3_Shift (AltGr)
        0xFF7F,  # Num_Lock
    }
)  # fmt: skip


def is_modifier(keysym: int) -> bool:
    """True for Shift, Ctrl, Alt, Meta, Super and the lock keys."""
    return keysym in _MODIFIER_KEYS


def _combo_prefix(modifiers: int) -> str:
    parts = []
    if modifiers & MOD_CTRL:
        parts.append("Ctrl")
    if modifiers & MOD_ALT:
        parts.append("Alt")
    if modifiers & MOD_META:
        parts.append("Meta")
    if modifiers & MOD_SHIFT:
        parts.append("Shift")
    return "+".join(parts)


def _shortcut_letter(keysym: int) -> str:
    # Latin-1 printable keysyms equal their code points; shortcuts show the key cap.
    if 0x20 < keysym < 0x7F:
        return chr(keysym).upper()
    if keysym == 0x20:
        return "Space"
    return "key"


def describe_key(keysym: int, modifiers: int) -> str | None:
    """The name to log for a key press, or None for a printable key (count only) or a
    bare modifier key."""
    if is_modifier(keysym):
        return None
    special = _SPECIAL.get(keysym)
    prefix = _combo_prefix(modifiers & (MOD_CTRL | MOD_ALT | MOD_META | MOD_SHIFT))
    if special is not None:
        return f"{prefix}+{special}" if prefix else special
    if modifiers & (MOD_CTRL | MOD_ALT | MOD_META):
        return f"{prefix}+{_shortcut_letter(keysym)}"
    return None  # printable: counted, never named


@dataclass(slots=True)
class InputSummary:
    """What one engineer did in one batch, safe to log (no characters)."""

    clicks: int = 0
    keys: int = 0  # printable keys typed (count only)
    special: list[str] = field(default_factory=list)
    scrolls: int = 0
    moves: int = 0
    dropped: int = 0

    @property
    def empty(self) -> bool:
        """True when nothing was applied."""
        return not (self.clicks or self.keys or self.special or self.scrolls or self.moves)

    def detail(self) -> dict[str, str | int]:
        """A flat dict for ``log.local`` (strings ≤ 64 characters)."""
        special = ",".join(self.special)
        if len(special) > 64:
            special = special[:61] + "..."
        return {
            "clicks": self.clicks,
            "keys": self.keys,
            "special": special,
            "scrolls": self.scrolls,
            "moves": self.moves,
        }

    def text(self) -> str:
        """A sentence for the live log, e.g. "clicked 2 times, typed 5 keys, Enter"."""
        parts = []
        if self.clicks:
            parts.append(f"clicked {self.clicks} time{'s' if self.clicks != 1 else ''}")
        if self.keys:
            parts.append(f"typed {self.keys} key{'s' if self.keys != 1 else ''}")
        if self.special:
            parts.append("pressed " + ", ".join(self.special))
        if self.scrolls:
            parts.append(f"scrolled {self.scrolls} time{'s' if self.scrolls != 1 else ''}")
        if self.moves and not parts:
            parts.append("moved the pointer")
        return ", ".join(parts) if parts else "no input"
