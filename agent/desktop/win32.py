"""Windows input as data (pure): what a ``SendInput`` backend would send, and the
secure-desktop check.  Nothing here calls Windows; docs/platforms.md has the plan.

``SendInput`` takes ``INPUT`` records: mouse events with absolute coordinates
normalised to 0..65535 over the virtual screen (which may start at negative
coordinates, left of or above the primary monitor), keyboard events by virtual key
(with the extended-key flag) or as a UTF-16 code unit (``KEYEVENTF_UNICODE``).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.desktop.keymaps import WINDOWS_KEYS, lookup
from agent.desktop.layout import FrameTransform

MOUSEEVENTF_MOVE = 0x0001
MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP = 0x0002, 0x0004
MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP = 0x0008, 0x0010
MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP = 0x0020, 0x0040
MOUSEEVENTF_WHEEL, MOUSEEVENTF_HWHEEL = 0x0800, 0x1000
MOUSEEVENTF_VIRTUALDESK, MOUSEEVENTF_ABSOLUTE = 0x4000, 0x8000
KEYEVENTF_EXTENDEDKEY, KEYEVENTF_KEYUP, KEYEVENTF_UNICODE = 0x0001, 0x0002, 0x0004
WHEEL_DELTA = 120

_BUTTONS = {
    1: (MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP),
    2: (MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP),
    3: (MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP),
}


@dataclass(frozen=True, slots=True)
class MouseInput:
    """One ``MOUSEINPUT``: ``dx``/``dy`` normalised, ``data`` the wheel amount."""

    dx: int
    dy: int
    data: int
    flags: int


@dataclass(frozen=True, slots=True)
class KeyInput:
    """One ``KEYBDINPUT``: a virtual key, or a UTF-16 code unit in ``scan``."""

    vk: int
    scan: int
    flags: int


def normalise(x: int, y: int, virtual_screen: FrameTransform) -> tuple[int, int]:
    """Desktop pixel (x, y) → ``SendInput``'s 0..65535 over the virtual screen."""
    v = virtual_screen
    nx = round((x - v.x) * 65535 / max(v.width - 1, 1))
    ny = round((y - v.y) * 65535 / max(v.height - 1, 1))
    return min(max(nx, 0), 65535), min(max(ny, 0), 65535)


def _at(x: int, y: int, vs: FrameTransform, extra: int = 0, data: int = 0) -> MouseInput:
    nx, ny = normalise(x, y, vs)
    flags = MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK | extra
    return MouseInput(nx, ny, data, flags)


def move(x: int, y: int, vs: FrameTransform) -> list[MouseInput]:
    """Move the pointer to desktop pixel (x, y)."""
    return [_at(x, y, vs)]


def button(x: int, y: int, number: int, pressed: bool, vs: FrameTransform) -> list[MouseInput]:
    """Press or release button 1 (left), 2 (middle) or 3 (right) at (x, y)."""
    if number not in _BUTTONS:
        return []
    down, up = _BUTTONS[number]
    return [_at(x, y, vs, down if pressed else up)]


def wheel(x: int, y: int, dx: int, dy: int, vs: FrameTransform) -> list[MouseInput]:
    """Scroll (dx, dy) notches at (x, y); positive dy scrolls down (Windows: negative)."""
    out = [_at(x, y, vs)]
    if dy:
        out.append(MouseInput(0, 0, -dy * WHEEL_DELTA, MOUSEEVENTF_WHEEL))
    if dx:
        out.append(MouseInput(0, 0, dx * WHEEL_DELTA, MOUSEEVENTF_HWHEEL))
    return out


def key(keysym: int, pressed: bool) -> list[KeyInput]:
    """The keyboard inputs for an X11 keysym (empty if Windows has no such key)."""
    k = lookup(WINDOWS_KEYS, keysym)
    if k is None:
        return []
    up = 0 if pressed else KEYEVENTF_KEYUP
    if k.code is not None:
        return [KeyInput(k.code, 0, up | (KEYEVENTF_EXTENDEDKEY if k.extended else 0))]
    assert k.char is not None
    units = k.char.encode("utf-16-le")  # outside the BMP: a surrogate pair, two inputs
    codes = [int.from_bytes(units[i : i + 2], "little") for i in range(0, len(units), 2)]
    return [KeyInput(0, c, KEYEVENTF_UNICODE | up) for c in codes]


def on_secure_desktop(input_desktop: str | None) -> bool:
    """True when the client is on a desktop a user-level agent cannot see: the input
    desktop cannot be opened (``OpenInputDesktop`` fails: UAC prompt, lock screen)
    or is not the user's ``Default`` desktop."""
    return input_desktop is None or input_desktop.lower() != "default"
