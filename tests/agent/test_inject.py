"""The XTest injector really moves the pointer and clicks on an X server (Xvfb)."""

from __future__ import annotations

import pytest

from agent.inject import InjectorError, XTestInjector, open_injector
from agent.x11 import X11Connection


def pointer_position(display: str) -> tuple[int, int]:
    conn = X11Connection(display)
    try:
        return conn.pointer()
    finally:
        conn.close()


@pytest.mark.xvfb
def test_xtest_moves_and_clicks(xvfb_display: str) -> None:
    inj = open_injector("xtest", xvfb_display)
    assert isinstance(inj, XTestInjector)
    inj.move(321, 123)
    assert pointer_position(xvfb_display) == (321, 123)
    inj.button(400, 300, 1, True)
    inj.button(400, 300, 1, False)
    assert pointer_position(xvfb_display) == (400, 300)
    inj.wheel(10, 20, 0, 2)
    inj.key(0xFF0D, True)
    inj.key(0xFF0D, False)
    inj.close()
    with pytest.raises(InjectorError):
        inj.move(1, 1)


def test_bad_display_and_kind() -> None:
    with pytest.raises(InjectorError):
        XTestInjector(":4711")
    with pytest.raises(InjectorError):
        open_injector("telepathy")
