"""The desktop seams in pure code: layouts and transforms, key tables, the permission
step, the capabilities of synthetic sources, and InputGate's frame → desktop mapping."""

from __future__ import annotations

import numpy as np
import pytest

from agent.capture.cursor import draw, sprite
from agent.desktop.capabilities import probe_source
from agent.desktop.keymaps import KEYSYM, MACOS_KEYS, WINDOWS_KEYS, PlatformKey, lookup
from agent.desktop.layout import ALL, FrameTransform, Layout, LayoutError, Monitor
from agent.desktop.permissions import PermissionStep
from agent.x11 import CursorImage
from protocol.media import ButtonDown, PointerMove, Wheel
from tests.agent.conftest import InputRig as Rig

# A laptop (Retina-like scale 2 at the left, below the top edge) and a big monitor.
MIXED = Layout(
    (
        Monitor("BIG", 1440, 0, 2560, 1440, primary=True),
        Monitor("LAPTOP", 0, 300, 1440, 900, scale=2.0),
    )
)


def test_each_monitor_maps_frame_pixels_to_its_own_desktop_area() -> None:
    big = MIXED.view(1)
    assert big == FrameTransform(1440, 0, 2560, 1440, 1.0)
    assert big.to_desktop(0, 0) == (1440, 0) and big.to_desktop(2559, 1439) == (3999, 1439)
    laptop = MIXED.view(2)
    assert laptop.frame_size == (2880, 1800)  # twice as many frame pixels as points
    assert laptop.to_desktop(0, 0) == (0, 300)
    assert laptop.to_desktop(2879, 1799) == (1439, 1199)
    assert laptop.to_desktop(1000, 500) == (500, 550)
    assert laptop.to_frame(500, 550) == (1000, 500)
    assert laptop.to_frame(1440, 300) is None  # that point is on the other monitor


def test_input_is_clamped_into_the_shared_monitor() -> None:
    laptop = MIXED.view(2)
    # A hostile or stale viewer cannot reach the big monitor the client did not share.
    assert laptop.to_desktop(99_999, -5) == (1439, 300)
    assert laptop.to_desktop(-1, 99_999) == (0, 1199)


def test_all_monitors_is_the_bounding_box() -> None:
    everything = MIXED.view(ALL)
    assert (everything.x, everything.y, everything.width, everything.height) == (
        0,
        0,
        4000,
        1440,
    )
    assert everything.to_desktop(3000, 100) == (3000, 100)


def test_client_choices_resolve_or_fail() -> None:
    assert MIXED.resolve("all") == ALL
    assert MIXED.resolve("primary") == 1 and MIXED.resolve("") == 1
    assert MIXED.resolve("2") == 2 and MIXED.resolve("LAPTOP") == 2
    for bad in ("3", "0x1", "TV"):
        with pytest.raises(LayoutError):
            MIXED.resolve(bad)
    with pytest.raises(LayoutError):
        MIXED.view(3)
    with pytest.raises(LayoutError):
        Layout(())


def test_input_gate_maps_pointer_events_through_the_transform() -> None:
    rig = Rig("v1")
    view = {"t": FrameTransform(1200, 100, 720, 900)}
    rig.gate._transform = lambda: view["t"]  # what the session passes: the source's view
    rig.grant("v1", "view", "control")
    rig.gate.handle(rig.frame("v1", PointerMove(0, 0), ButtonDown(10, 20, 1), Wheel(5, 5, 0, 1)))
    assert rig.injector.calls == [
        ("move", 1200, 100),
        ("button", 1210, 120, 1, True),
        ("wheel", 1205, 105, 0, 1),
    ]
    view["t"] = FrameTransform(0, 0, 1440, 900, 2.0)  # the client switched to a Retina view
    rig.injector.calls.clear()
    rig.gate.handle(rig.frame("v1", PointerMove(1000, 500)))
    assert rig.injector.calls == [("move", 500, 250)]


def test_windows_key_table() -> None:
    assert WINDOWS_KEYS[ord("a")] == WINDOWS_KEYS[ord("A")] == PlatformKey(0x41)
    assert WINDOWS_KEYS[ord("z")].code == 0x5A and WINDOWS_KEYS[ord("7")].code == 0x37
    assert WINDOWS_KEYS[KEYSYM["F1"]].code == 0x70 and WINDOWS_KEYS[KEYSYM["F24"]].code == 0x87
    assert WINDOWS_KEYS[KEYSYM["Return"]] == PlatformKey(0x0D)
    # The numeric keypad's Enter is Return's twin, told apart by the extended flag.
    assert WINDOWS_KEYS[KEYSYM["KP_Enter"]] == PlatformKey(0x0D, extended=True)
    for name in ("Left", "Up", "Right", "Down", "Home", "End", "Prior", "Next", "Delete"):
        assert WINDOWS_KEYS[KEYSYM[name]].extended, name
    assert WINDOWS_KEYS[KEYSYM["KP_7"]] == PlatformKey(0x67)
    assert not WINDOWS_KEYS[KEYSYM["Shift_L"]].extended
    # No two different keys share a code and flag, except letters' two cases.
    seen: dict[tuple[int | None, bool], set[int]] = {}
    for sym, key in WINDOWS_KEYS.items():
        seen.setdefault((key.code, key.extended), set()).add(sym)
    for syms in seen.values():
        assert len({chr(s).lower() if s < 0x80 else s for s in syms}) == 1, syms


def test_macos_key_table() -> None:
    assert MACOS_KEYS[ord("a")].code == 0x00 and MACOS_KEYS[ord("B")].code == 0x0B
    assert MACOS_KEYS[ord("q")].code == 0x0C and MACOS_KEYS[ord("m")].code == 0x2E
    assert MACOS_KEYS[KEYSYM["Return"]].code == 0x24
    assert MACOS_KEYS[KEYSYM["BackSpace"]].code == 0x33  # "delete" on a Mac keyboard
    assert MACOS_KEYS[KEYSYM["Delete"]].code == 0x75  # forward delete
    assert MACOS_KEYS[KEYSYM["F1"]].code == 0x7A and MACOS_KEYS[KEYSYM["F12"]].code == 0x6F
    assert MACOS_KEYS[KEYSYM["Super_L"]].code == 0x37  # Command
    assert MACOS_KEYS[KEYSYM["KP_9"]].code == 0x5C
    codes = [k.code for s, k in MACOS_KEYS.items() if not (0x41 <= s <= 0x5A)]
    assert len(codes) == len(set(codes))  # one keysym per key position
    for c in "abcdefghijklmnopqrstuvwxyz0123456789":
        assert ord(c) in MACOS_KEYS, c


def test_characters_without_a_key_are_typed_as_unicode() -> None:
    assert lookup(WINDOWS_KEYS, 0x01000416) == PlatformKey(char="Ж")
    assert lookup(MACOS_KEYS, 0xE9) == PlatformKey(char="é")
    assert lookup(WINDOWS_KEYS, ord(";")) == PlatformKey(char=";")  # OEM keys vary
    assert lookup(MACOS_KEYS, ord(";")) == PlatformKey(0x29)
    assert lookup(WINDOWS_KEYS, 0xFE03) is None  # ISO_Level3_Shift: no such key


def test_os_prompt_only_after_view_and_only_narrows() -> None:
    step = PermissionStep("macos")
    assert step.prompts_for(frozenset()) == []
    assert step.prompts_for(frozenset({"control"})) == []  # never before view
    both = frozenset({"view", "control"})
    assert step.prompts_for(both) == ["screen_recording", "accessibility"]
    assert step.effective(both) == frozenset()  # nothing until the OS answered
    step.answer("screen_recording", True)
    step.answer("accessibility", False)
    assert step.effective(both) == {"view"}
    step.answer("accessibility", True)  # a refusal is final for the session
    assert step.effective(both) == {"view"}
    assert step.prompts_for(both) == []  # each OS prompt once
    # The OS cannot add what the client did not grant.
    assert step.effective(frozenset({"view"})) == {"view"}
    refused = PermissionStep("macos")
    refused.answer("screen_recording", False)
    refused.answer("accessibility", True)
    assert refused.effective(both) == frozenset()  # control without the picture: no


def test_x11_asks_the_os_nothing() -> None:
    step = PermissionStep("x11")
    both = frozenset({"view", "control", "video"})
    assert step.prompts_for(both) == [] and step.effective(both) == both


def test_synthetic_sources_cannot_list_windows_or_inject() -> None:
    caps = probe_source("pattern", want_input=True)
    assert (caps.capture, caps.windows, caps.input, caps.secure_prompt) == (
        True,
        False,
        False,
        False,
    )
    assert probe_source("screen::250", want_input=True).to_wire() == {
        "capture": False,
        "windows": False,
        "input": False,
        "secure_prompt": False,
    }


def test_cursor_is_blended_and_clipped_at_the_frame_edge() -> None:
    # A 2x2 cursor: opaque red, half-transparent white (premultiplied), transparent.
    cur = CursorImage(0, 0, 2, 2, 0, 0, 1, (0xFFFF0000, 0x80808080, 0, 0xFFFF0000))
    frame = np.zeros((4, 4, 4), np.uint8)
    draw(frame, sprite(cur), 3, 3)  # only the top-left pixel is inside
    assert tuple(frame[3, 3, :3]) == (0, 0, 255)
    assert frame[:3].sum() == 0 and frame[3, :3].sum() == 0
    frame[:] = 100
    draw(frame, sprite(cur), 0, 0)
    assert tuple(frame[0, 0, :3]) == (0, 0, 255)
    assert tuple(frame[0, 1, :3]) == (178, 178, 178)  # 128 + 100 * (1 - 128/255)
    assert tuple(frame[1, 0, :3]) == (100, 100, 100)
    draw(frame, sprite(cur), -10, 50)  # entirely outside: nothing happens


class _Source:
    """A capture source with monitors (the part needs only layout, view and select)."""

    def __init__(self) -> None:
        self.layout, self.view = MIXED, 2

    def select(self, view: int) -> None:
        from agent.capture.base import CaptureError

        if view not in (0, 1, 2):
            raise CaptureError("no such monitor")
        self.view = view


def test_desktop_info_and_switching_only_when_the_client_allows() -> None:
    from agent.desktop.capabilities import Capabilities
    from agent.desktop.share import DesktopShare, describe

    caps = Capabilities("x11", True, True, False)
    src = _Source()
    locked = DesktopShare(False, caps)
    info = locked.info(src)
    assert (info.monitor, info.switchable, len(info.monitors)) == (2, False, 2)
    assert info.monitors[1].name == "LAPTOP" and info.capabilities.input is False
    assert locked.select(src, 1) == "not_allowed" and src.view == 2
    open_ = DesktopShare(True, caps)
    assert open_.info(src).switchable
    assert open_.select(src, 7) == "no_such_monitor" and src.view == 2
    assert open_.select(src, 0) is None and open_.info(src).monitor == 0
    assert open_.select(None, 1) == "not_supported"
    # A source without monitors is one monitor that cannot switch.
    from agent.capture.pattern import PatternSource

    flat = open_.info(PatternSource(320, 200))
    assert (flat.monitor, flat.switchable, flat.monitors[0].width) == (1, False, 320)
    assert "input no" in describe(caps)


def test_the_client_chooses_without_permission_and_before_capture_starts() -> None:
    from agent.desktop.capabilities import Capabilities
    from agent.desktop.share import DesktopShare

    share = DesktopShare(False, Capabilities("x11", True, True, True), "primary")
    assert share.choose(None, 0) is None and share.choice == "all"  # for the source to come
    src = _Source()
    assert share.choose(src, 1) is None and src.view == 1 and share.choice == "1"
    assert share.choose(src, 9) == "no_such_monitor" and src.view == 1
    assert share.select(src, 2) == "not_allowed"  # the engineer still may not
