"""Windows input as data: coordinates over a virtual screen, buttons, wheel, keys,
and the secure-desktop check (pure code: nothing here needs Windows)."""

from __future__ import annotations

from agent.desktop import win32
from agent.desktop.keymaps import KEYSYM
from agent.desktop.layout import Layout, Monitor

# A secondary monitor left of the primary: the virtual screen starts at x = -1280.
LAYOUT = Layout(
    (Monitor("PRIMARY", 0, 0, 1920, 1080, True), Monitor("LEFT", -1280, 56, 1280, 1024))
)
VS = LAYOUT.view(0)


def test_virtual_screen_and_normalised_corners() -> None:
    assert (VS.x, VS.y, VS.width, VS.height) == (-1280, 0, 3200, 1080)
    assert win32.normalise(-1280, 0, VS) == (0, 0)
    assert win32.normalise(1919, 1079, VS) == (65535, 65535)
    assert win32.normalise(0, 0, VS) == (round(1280 * 65535 / 3199), 0)
    assert win32.normalise(-5000, 5000, VS) == (0, 65535)  # clamped


def test_frame_pixels_of_the_left_monitor_land_on_it() -> None:
    left = LAYOUT.view(2)
    x, y = left.to_desktop(0, 0)
    assert (x, y) == (-1280, 56)
    (event,) = win32.move(x, y, VS)
    assert event.dx == 0 and event.dy == round(56 * 65535 / 1079)
    assert event.flags == win32.MOUSEEVENTF_MOVE | win32.MOUSEEVENTF_ABSOLUTE | (
        win32.MOUSEEVENTF_VIRTUALDESK
    )


def test_buttons_and_wheel() -> None:
    (down,) = win32.button(10, 10, 1, True, VS)
    (up,) = win32.button(10, 10, 3, False, VS)
    assert down.flags & win32.MOUSEEVENTF_LEFTDOWN and up.flags & win32.MOUSEEVENTF_RIGHTUP
    assert win32.button(10, 10, 8, True, VS) == []
    _, vertical, horizontal = win32.wheel(10, 10, 1, 2, VS)
    assert (vertical.data, vertical.flags) == (-240, win32.MOUSEEVENTF_WHEEL)  # down
    assert (horizontal.data, horizontal.flags) == (120, win32.MOUSEEVENTF_HWHEEL)


def test_keys_by_virtual_key_extended_flag_and_unicode() -> None:
    assert win32.key(ord("a"), True) == [win32.KeyInput(0x41, 0, 0)]
    assert win32.key(ord("a"), False) == [win32.KeyInput(0x41, 0, win32.KEYEVENTF_KEYUP)]
    assert win32.key(KEYSYM["Left"], True) == [win32.KeyInput(0x25, 0, win32.KEYEVENTF_EXTENDEDKEY)]
    assert win32.key(0x01000416, True) == [win32.KeyInput(0, 0x0416, win32.KEYEVENTF_UNICODE)]
    # U+1F600 is outside the BMP: a surrogate pair.
    assert [k.scan for k in win32.key(0x0101F600, False)] == [0xD83D, 0xDE00]
    assert win32.key(0xFE03, True) == []


def test_secure_desktop() -> None:
    assert not win32.on_secure_desktop("Default")
    assert win32.on_secure_desktop("Winlogon")
    assert win32.on_secure_desktop(None)
