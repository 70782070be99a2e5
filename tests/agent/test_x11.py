"""The one X11 binding (agent.x11) against real Xvfb servers."""

from __future__ import annotations

import pytest

from agent.capture.testing import set_monitors
from agent.x11 import Rect, X11Connection, X11Unavailable, keysym_name

pytestmark = pytest.mark.xvfb


def test_monitor_layout_is_read_from_randr(dual_monitor_display: str) -> None:
    x = X11Connection(dual_monitor_display)
    try:
        mons = x.monitors()
        assert [(m.name, m.rect, m.primary) for m in mons] == [
            ("LEFT", Rect(0, 0, 1200, 1080), True),
            ("RIGHT", Rect(1200, 100, 720, 900), False),
        ]
        assert x.screen_size() == (1920, 1080)
        # A layout change (the right monitor's resolution) is seen by the next read.
        set_monitors(
            dual_monitor_display, [("LEFT", 0, 0, 1200, 1080), ("RIGHT", 1200, 0, 600, 800)]
        )
        assert x.monitors()[1].rect == Rect(1200, 0, 600, 800)
    finally:
        set_monitors(
            dual_monitor_display, [("LEFT", 0, 0, 1200, 1080), ("RIGHT", 1200, 100, 720, 900)]
        )
        x.close()


def test_single_screen_is_one_monitor(xvfb_display: str) -> None:
    x = X11Connection(xvfb_display)
    try:
        (mon,) = x.monitors()
        assert mon.rect == Rect(0, 0, 1920, 1080) and mon.primary
    finally:
        x.close()
    x.close()  # idempotent
    assert x.closed


def test_pointer_and_cursor_image_follow_fake_motion(xvfb_display: str) -> None:
    x = X11Connection(xvfb_display)
    try:
        assert x.has_xtest()
        x.fake_motion(333, 222)
        x.sync()
        assert x.pointer() == (333, 222)
        cur = x.cursor_image()
        assert cur is not None
        assert (cur.x, cur.y) == (333, 222)
        assert cur.width > 0 and cur.height > 0 and len(cur.pixels) == cur.width * cur.height
        assert 0 <= cur.xhot < cur.width and 0 <= cur.yhot < cur.height
        assert any(p >> 24 for p in cur.pixels)  # some pixels are not transparent
    finally:
        x.close()


def test_no_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(X11Unavailable, match="DISPLAY"):
        X11Connection()
    with pytest.raises(X11Unavailable, match=":250"):
        X11Connection(":250")


def test_keysym_names_need_no_display() -> None:
    assert keysym_name(0xFF0D) == "Return"
    assert keysym_name(ord("a")) == "a"
    assert keysym_name(0x12345678) is None


def test_cursor_shape_changes_are_reported_without_polling_the_image(xvfb_display: str) -> None:
    from Xlib import Xcursorfont

    x = X11Connection(xvfb_display)
    other = X11Connection(xvfb_display)  # an application changing the root's cursor
    try:
        assert x.watch_cursor()
        x.sync()
        assert not x.cursor_changed()
        before = x.cursor_image()
        font = other.display.open_font("cursor")
        shape = font.create_glyph_cursor(
            font, Xcursorfont.hand2, Xcursorfont.hand2 + 1, (65535, 65535, 65535), (0, 0, 0)
        )
        other.root.change_attributes(cursor=shape)
        other.sync()
        x.sync()  # the notify event is queued on x by now
        assert x.cursor_changed()
        assert not x.cursor_changed()  # drained
        after = x.cursor_image()
        assert before is not None and after is not None and after.pixels != before.pixels
    finally:
        other.root.change_attributes(cursor=0)
        other.sync()
        other.close()
        x.close()
