"""The client's Qt window for people using a screen reader, the keyboard, large text or
high contrast (issue 22; docs/accessibility.md): every control has an accessible name
and description read through Qt's accessibility API (QAccessible, what AT-SPI hands to
Orca), Tab walks the consent prompt, the log and the chat in order without a trap, and
with a large system font and a high-contrast palette the window takes both and nothing
is cut off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QAccessible, QColor, QFont, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTextEdit,
    QWidget,
)

from agent.i18n import set_language
from agent.observer import LogLine
from agent.testing import MachineController
from agent.ui.bridge import QtObserver
from agent.ui.qt_window import AgentWindow
from agent.ui.style import is_high_contrast

NOW = 1_700_000_000_000


class Harness:
    """Starts the window's session on the real consent machine (no broker)."""

    def __init__(self) -> None:
        self.controller: MachineController | None = None
        self.now = NOW

    def start(self, describe: str | None, code: str | None, observer: QtObserver) -> Any:
        self.controller = MachineController(observer, clock_ms=lambda: self.now)
        return self.controller


def click(app: QApplication, button: QAbstractButton) -> None:
    """A real mouse click in the middle of ``button``."""
    QTest.mouseClick(
        button, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, button.rect().center()
    )
    app.processEvents()


def snap(w: QWidget, path: Path) -> None:
    assert w.grab().save(str(path))


CONTROLS = (QAbstractButton, QLineEdit, QPlainTextEdit, QTextEdit, QComboBox, QAbstractItemView)


@pytest.fixture(scope="module")
def app() -> QApplication:
    existing = QApplication.instance()
    return existing if isinstance(existing, QApplication) else QApplication([])


def _live_with_prompt(app: QApplication) -> tuple[AgentWindow, Harness]:
    """The session page with a consent prompt, log lines and a chat line."""
    h = Harness()
    w = AgentWindow(h.start, clock_ms=lambda: h.now)
    w.resize(760, 640)
    w.show()
    app.processEvents()
    w.describe_edit.setPlainText("My printer is offline")
    click(app, w.get_help)
    c = h.controller
    assert c is not None
    c.offer("c1", "v1", "Alice Engineer", "view", "control")
    w.observer.log_line(LogLine(NOW, "broker", "viewer.joined", "Alice Engineer joined"))
    w.observer.chat("Alice Engineer", "Hello, I will look at the printer settings", NOW)
    app.processEvents()
    return w, h


def _name_and_description(widget: QWidget) -> tuple[str, str]:
    iface = QAccessible.queryAccessibleInterface(widget)
    assert iface is not None, widget.objectName()
    return iface.text(QAccessible.Text.Name), iface.text(QAccessible.Text.Description)


def _controls(w: QWidget) -> list[QWidget]:
    # Scroll bars belong to their list or text box (named through it).
    return [
        c
        for c in w.findChildren(QWidget)
        if isinstance(c, CONTROLS) and not isinstance(c, QScrollBar)
    ]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_control_has_an_accessible_name_and_description(app: QApplication, lang: str) -> None:
    set_language(lang)
    try:
        w, _ = _live_with_prompt(app)
        controls = _controls(w)
        assert len(controls) > 25  # the whole window, prompt included
        missing = []
        for c in controls:
            name, description = _name_and_description(c)
            if not name.strip() or not description.strip():
                missing.append(f"{type(c).__name__} {c.objectName()!r}: {name!r} / {description!r}")
        assert not missing, "\n".join(missing)
        # The permission's own words are in each choice's name (not just "Allow").
        allow, _desc = _name_and_description(
            w.panels["c1"].findChild(QAbstractButton, "allow_view")
        )
        assert allow != w.panels["c1"].findChild(QAbstractButton, "allow_view").text()
        w.close()
    finally:
        set_language("en")


def _focus_walk(app: QApplication, w: AgentWindow, steps: int) -> list[str]:
    """Press Tab ``steps`` times from the first control; the focused names in order."""
    w.activateWindow()
    first = w.panels["c1"].findChild(QAbstractButton, "deny_view")
    first.setFocus(Qt.FocusReason.TabFocusReason)
    app.processEvents()
    seen = []
    for _ in range(steps):
        focused = app.focusWidget()
        seen.append(focused.objectName() if focused is not None else "")
        QTest.keyClick(focused or w, Qt.Key.Key_Tab)
        app.processEvents()
    return seen


def test_tab_walks_the_prompt_then_the_log_and_the_chat_without_a_trap(app: QApplication) -> None:
    w, _ = _live_with_prompt(app)
    order = _focus_walk(app, w, 40)
    want = ["deny_view", "denyAll", "confirmConsent", "liveLog", "chatView", "chatEdit", "chatSend"]
    assert all(name in order for name in want), order
    positions = [order.index(name) for name in want]
    assert positions == sorted(positions), order
    assert {"allow_control", "deny_control"} & set(order[: order.index("denyAll")])  # row 2
    assert "killButton" in order  # the kill switch is on the way too
    assert "promptsScroll" not in order  # the prompts' frame is no extra stop
    # No trap: the walk comes back to where it started and goes round again.
    assert order.count("deny_view") >= 2, order
    w.close()


@pytest.fixture
def large_text_high_contrast(app: QApplication) -> Iterator[None]:
    """A 20 pt system font and a white-on-black palette, as a user's settings would
    set them; the application's own are put back after."""
    font, palette = app.font(), app.palette()
    big = QFont(font)
    big.setPointSizeF(20)
    contrast = QPalette()
    for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base, QPalette.ColorRole.Button):
        contrast.setColor(role, QColor("#000000"))
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        contrast.setColor(role, QColor("#ffffff"))
    contrast.setColor(QPalette.ColorRole.Highlight, QColor("#ffff00"))
    app.setFont(big)
    app.setPalette(contrast)
    try:
        yield
    finally:
        app.setFont(font)
        app.setPalette(palette)


def _clipped(w: QWidget) -> list[str]:
    """Visible texts or controls cut off: smaller than they need, or outside the window."""
    bad = []
    inside = QRect(0, 0, w.width(), w.height())
    for c in w.findChildren(QWidget):
        if not c.isVisibleTo(w) or isinstance(c, QScrollBar):
            continue
        if not isinstance(c, (QLabel, QAbstractButton, QLineEdit)):
            continue
        if (
            c.parentWidget() is not None
            and c.parentWidget().objectName() == "qt_scrollarea_viewport"
        ):
            continue  # inside a scroll area: reached by scrolling, not clipped
        rect = QRect(c.mapTo(w, c.rect().topLeft()), c.size())
        name = c.objectName() or type(c).__name__
        if isinstance(c, QLabel) and c.wordWrap() and c.text():
            if c.heightForWidth(c.width()) > c.height() + 1:
                bad.append(f"{name}: text needs {c.heightForWidth(c.width())} px, has {c.height()}")
        elif isinstance(c, QLineEdit):
            if c.height() < c.fontMetrics().height() + 4:  # a line of text and its frame
                bad.append(f"{name}: {c.height()} px for {c.fontMetrics().height()} px text")
        elif c.minimumSizeHint().isValid() and (
            c.width() + 1 < c.minimumSizeHint().width()
            or c.height() + 1 < c.minimumSizeHint().height()
        ):
            bad.append(f"{name}: {c.size().toTuple()} < {c.minimumSizeHint().toTuple()}")
        if rect.left() < 0 or rect.right() > inside.right():
            bad.append(f"{name}: cut off at the side ({rect.getRect()})")
        elif not inside.contains(rect) and not _in_scroll_area(c):
            bad.append(f"{name}: outside the window ({rect.getRect()})")  # pages scroll down
    return bad


def _in_scroll_area(c: QWidget) -> bool:
    p = c.parentWidget()
    while p is not None:
        if p.objectName() == "qt_scrollarea_viewport":
            return True
        p = p.parentWidget()
    return False


def test_large_text_and_high_contrast_are_taken_and_nothing_clips(
    app: QApplication, large_text_high_contrast: None, artifacts_dir: Path
) -> None:
    assert is_high_contrast(app.palette())
    h = Harness()
    w = AgentWindow(h.start, clock_ms=lambda: h.now)
    w.show()
    app.processEvents()
    # Large text: the window's text follows the system size (no fixed pixel sizes).
    assert w.get_help.font().pointSizeF() >= 19.5, w.get_help.font().pointSizeF()
    assert w.kill_button.font().pointSizeF() > w.get_help.font().pointSizeF()
    # High contrast: none of our colours, the system's black and white show.
    assert "#c62828" not in w.styleSheet() and "#f6f7f9" not in w.styleSheet()
    assert w.get_help.palette().color(QPalette.ColorRole.ButtonText) == QColor("#ffffff")
    assert not _clipped(w), _clipped(w)
    snap(w, artifacts_dir / "qt-large-text-high-contrast-start.png")

    w.describe_edit.setPlainText("My printer is offline")
    click(app, w.get_help)
    assert h.controller is not None
    h.controller.offer("c1", "v1", "Alice Engineer", "view", "control")
    app.processEvents()
    assert not _clipped(w), _clipped(w)
    snap(w, artifacts_dir / "qt-large-text-high-contrast-prompt.png")
    w.close()


def test_the_ordinary_palettes_are_not_taken_for_high_contrast(app: QApplication) -> None:
    assert not is_high_contrast(QPalette(QColor("#efefef")), env={})  # Fusion light
    assert not is_high_contrast(QPalette(QColor("#353535")), env={})  # a dark theme
    assert is_high_contrast(QPalette(QColor("#efefef")), env={"CLEARPANE_HIGH_CONTRAST": "1"})
