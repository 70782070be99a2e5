"""The client's window, offscreen: its buttons drive the real consent and kill machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QRadioButton

from agent.observer import LogLine, LogVerification, SessionOutcome, TicketStatus
from agent.testing import MachineController
from agent.ui.bridge import QtObserver
from agent.ui.qt_window import AgentWindow

NOW = 1_700_000_000_000


@pytest.fixture(scope="module")
def app() -> QApplication:
    existing = QApplication.instance()
    return existing if isinstance(existing, QApplication) else QApplication([])


class Harness:
    def __init__(self) -> None:
        self.controller: MachineController | None = None
        self.started: list[tuple[str | None, str | None]] = []
        self.now = NOW

    def start(self, describe: str | None, code: str | None, observer: QtObserver) -> Any:
        self.started.append((describe, code))
        self.controller = MachineController(observer, clock_ms=lambda: self.now)
        return self.controller


def make_window(app: QApplication) -> tuple[AgentWindow, Harness]:
    h = Harness()
    w = AgentWindow(h.start, clock_ms=lambda: h.now)
    w.show()
    app.processEvents()
    return w, h


def click(app: QApplication, button: QPushButton | QRadioButton) -> None:
    # A real mouse click; on a radio button, on its indicator (the hit area).
    pos = (
        QPoint(6, button.height() // 2)
        if isinstance(button, QRadioButton)
        else button.rect().center()
    )
    QTest.mouseClick(button, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    app.processEvents()


def snap(w: AgentWindow, path: Path) -> None:
    assert w.grab().save(str(path))
    assert path.stat().st_size > 1000


def test_get_help_then_consent_per_permission(app: QApplication, artifacts_dir: Path) -> None:
    w, h = make_window(app)
    snap(w, artifacts_dir / "1-start.png")
    click(app, w.get_help)  # empty description: refused, nothing starts
    assert h.started == [] and "describe" in w.start_error.text()
    w.describe_edit.setPlainText("My printer is offline")
    click(app, w.get_help)
    assert h.started == [("My printer is offline", None)]
    c = h.controller
    assert c is not None
    c.offer("c1", "v1", "Alice Engineer", "view", "control")
    app.processEvents()
    panel = w.panels["c1"]
    assert c.shown == ["c1"]  # the window told the machine the prompt is on screen
    text = " ".join(lbl.text() for lbl in panel.findChildren(QLabel))
    assert "Alice Engineer" in text and "T-42" in text and "Printer offline" in text
    assert "60 s" in panel.countdown.text()
    snap(w, artifacts_dir / "2-consent.png")
    # allow view, leave control on deny, confirm
    click(app, panel.findChild(QRadioButton, "allow_view"))
    click(app, panel.confirm)
    assert c.consent.may("v1", "view") and not c.consent.may("v1", "control")
    assert "c1" not in w.panels
    assert "Alice Engineer" in w.who_label.text()
    assert "may see your screen" in w.who_label.text()
    assert w.status_strip.text() == "Alice Engineer can see your screen"
    assert not w.banner.isVisible()
    snap(w, artifacts_dir / "3-live.png")


def test_control_banner_revoke_pause_and_kill_button(
    app: QApplication, artifacts_dir: Path
) -> None:
    w, h = make_window(app)
    w.code_edit.setText("4821-7730")
    click(app, w.code_button)
    assert h.started == [(None, "4821-7730")]
    c = h.controller
    assert c is not None
    c.offer("c1", "v1", "Alice Engineer", "view", "control")
    app.processEvents()
    panel = w.panels["c1"]
    click(app, panel.findChild(QRadioButton, "allow_view"))
    click(app, panel.findChild(QRadioButton, "allow_control"))
    click(app, panel.confirm)
    assert c.consent.may("v1", "control")
    assert w.banner.isVisible() and "Alice Engineer" in w.banner.text()
    assert w.status_strip.text() == "Alice Engineer is controlling your mouse and keyboard"
    assert w.status_strip.property("state") == "control"
    snap(w, artifacts_dir / "1-in-control.png")
    click(app, w.revoke_control)
    assert not c.consent.may("v1", "control") and c.consent.may("v1", "view")
    assert not w.banner.isVisible()
    assert w.status_strip.text() == "Alice Engineer can see your screen"
    click(app, w.pause_button)
    assert c.killswitch.paused and w.pause_button.text() == "Resume sharing"
    assert w.status_strip.text() == "Paused — nothing is being sent"
    click(app, w.pause_button)
    assert not c.killswitch.paused and w.pause_button.text() == "Pause sharing"
    c.offer("c2", "v2", "Bob Observer", "view")
    app.processEvents()
    click(app, w.kill_button)
    assert c.killswitch.killed and not c.killswitch.capture_allowed()
    assert not c.consent.may("v1", "view")  # everything revoked
    assert "c2" not in w.panels  # the pending prompt was closed as a deny
    assert not w.kill_button.isEnabled()
    assert w.status_strip.text() == "Stopped — nothing is being sent"
    snap(w, artifacts_dir / "2-killed.png")


def test_kill_shortcut_and_deny_all(app: QApplication) -> None:
    w, h = make_window(app)
    w.describe_edit.setPlainText("help")
    click(app, w.get_help)
    c = h.controller
    assert c is not None
    c.offer("c1", "v1", "Alice", "view")
    app.processEvents()
    click(app, w.panels["c1"].deny_all)
    assert not c.consent.may("v1", "view") and c.consent.pending == ()
    w.activateWindow()
    QTest.keyClick(
        w, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    app.processEvents()
    if not c.killswitch.killed:  # offscreen focus can be absent: fire the shortcut itself
        w.kill_shortcut.activated.emit()
        app.processEvents()
    assert c.killswitch.killed and c.killswitch.record is not None
    assert c.killswitch.record.source == "shortcut"


def test_countdown_timeout_disables_confirm(app: QApplication) -> None:
    w, h = make_window(app)
    w.describe_edit.setPlainText("help")
    click(app, w.get_help)
    c = h.controller
    assert c is not None
    c.offer("c1", "v1", "Alice", "view")
    app.processEvents()
    h.now += 61_000
    w.panels["c1"].tick()
    assert not w.panels["c1"].confirm.isEnabled()
    (d,) = c.consent.expire(h.now)
    assert d.reason == "timed_out" and not c.consent.may("v1", "view")


def test_live_log_chat_masks_end_and_rating(app: QApplication, artifacts_dir: Path) -> None:
    w, h = make_window(app)
    w.describe_edit.setPlainText("help")
    click(app, w.get_help)
    c = h.controller
    assert c is not None
    assert w.status_strip.text() == "Nobody is connected — waiting for an engineer"
    w.observer.log_line(LogLine(NOW, "broker", "viewer.joined", "Alice joined"))
    w.observer.log_line(
        LogLine(NOW, "client", "key.exchanged", "Secure connection set up with Alice")
    )
    w.observer.chat("Alice", "Hello!", NOW)
    w.observer.verification_code("v1", "Alice", "123 456")
    app.processEvents()
    assert w.log_list.count() == 2 and "Alice joined" in w.log_list.item(0).text()
    # the code arrives after the log line: the line is completed with it
    assert w.log_list.item(1).text().endswith("Secure connection set up with Alice (code 123 456)")
    assert w.code_label.text() == "123 456" and w.code_box.isVisible()
    w.chat_edit.setText("Hi, thanks")
    click(app, w.findChild(QPushButton, "chatSend"))
    assert c.chats == ["Hi, thanks"] and w.chat_view.count() == 2
    w.mask_windows.setText("Bank, Mail")
    w.mask_regions.setText("0,0,100,50; 10,10,5,5")
    click(app, w.mask_apply)
    assert c.masks == [([(0, 0, 100, 50), (10, 10, 5, 5)], ["Bank", "Mail"])]
    snap(w, artifacts_dir / "1-log-chat.png")
    w.observer.ended(
        SessionOutcome("ended_by_engineer", "Alice", "s-1",
                       LogVerification(True, "log verified: 12 records match"), "/tmp/x")
    )  # fmt: skip
    app.processEvents()
    assert w.stack.currentIndex() == 2
    assert w.verify_label.text().startswith("✓ Verified: your copy of what happened matches")
    assert "12 records match" in w.verify_details.text() and "/tmp/x" in w.verify_details.text()
    click(app, w.findChild(QPushButton, "rate5"))  # a star chooses; the comment may follow
    assert w.rating_comment.isEnabled() and w.rating_send.isEnabled()
    w.rating_comment.setText("quick and kind")
    click(app, w.rating_send)
    assert not w.rating_comment.isEnabled()  # sent: nothing more to edit
    assert c.ratings == [(5, "quick and kind")]
    snap(w, artifacts_dir / "2-end.png")


def test_video_call_only_on_the_clients_click(app: QApplication) -> None:
    w, h = make_window(app)
    w.describe_edit.setPlainText("help")
    click(app, w.get_help)
    c = h.controller
    assert c is not None
    assert not w.ring_box.isVisible()
    w.observer.call_requested("v1", "Alice Engineer")
    app.processEvents()
    assert w.ring_box.isVisible() and "Alice Engineer" in w.ring_label.text()
    assert c.calls == []  # asking opens nothing
    click(app, w.ring_decline)
    assert c.calls == ["decline"] and not w.ring_box.isVisible()
    w.observer.call_requested("v1", "Alice Engineer")
    app.processEvents()
    click(app, w.ring_accept)
    assert c.calls == ["decline", "accept"] and w.call_button.text() == "Hang up"
    click(app, w.call_button)
    assert c.calls[-1] == "hangup"


def test_rating_after_kill_goes_through_when_a_session_token_is_held(app: QApplication) -> None:
    w, h = make_window(app)
    w.describe_edit.setPlainText("help")
    click(app, w.get_help)
    c = h.controller
    assert c is not None
    w.observer.ended(SessionOutcome("killed_by_client", "client", "s-1", rest_rating=True))
    app.processEvents()
    assert w.stack.currentIndex() == 2
    assert all(b.isEnabled() for b in w.star_buttons) and w.rating_comment.isEnabled()
    w.rating_comment.setText("had to stop it")
    click(app, w.star_buttons[1])
    click(app, w.rating_send)
    assert c.ratings == [(2, "had to stop it")]
    assert not any(b.isEnabled() for b in w.star_buttons)  # one rating


def test_no_rating_after_kill_without_a_session(app: QApplication) -> None:
    w, h = make_window(app)
    w.describe_edit.setPlainText("help")
    click(app, w.get_help)
    c = h.controller
    assert c is not None
    w.observer.ended(SessionOutcome("killed_by_client", "client"))  # killed before a session
    app.processEvents()
    assert w.stack.currentIndex() == 2
    assert not any(b.isEnabled() for b in w.star_buttons)
    assert "cannot be rated" in w.rating_done.text()
    assert "No record of this session" in w.verify_label.text()
    click(app, w.star_buttons[4])
    assert c.ratings == []


def test_end_page_says_plainly_when_the_log_does_not_match(
    app: QApplication, artifacts_dir: Path
) -> None:
    w, _h = make_window(app)
    w.describe_edit.setPlainText("help")
    click(app, w.get_help)
    problems = ("the company's log does not match: record 4 changed",)
    w.observer.ended(
        SessionOutcome("ended_by_engineer", "Alice", "s-1",
                       LogVerification(False, "log NOT verified", problems), "/tmp/y")
    )  # fmt: skip
    app.processEvents()
    assert w.verify_label.text().startswith("⚠ Not verified")
    assert w.verify_label.property("ok") == "false"
    assert "record 4 changed" in w.verify_details.text()
    snap(w, artifacts_dir / "3-end-not-verified.png")


def test_the_end_page_asks_to_confirm_a_resolved_request(app: QApplication) -> None:
    # Issue 19: once the engineer resolves the ticket the client confirms or reopens it.
    w, h = make_window(app)
    w.describe_edit.setPlainText("help")
    click(app, w.get_help)
    c = h.controller
    assert c is not None
    w.observer.ended(SessionOutcome("ended_by_engineer", "engineer", "s-1", rest_rating=True))
    app.processEvents()
    page = w.end_page
    assert page.closure_box.isHidden()  # nothing to confirm yet
    ticket = TicketStatus("t-1", "Printer", "resolved", "Driver reinstalled", None)
    w.observer.closure_asked(ticket)
    app.processEvents()
    assert page.closure_box.isVisible()
    assert "Driver reinstalled" in page.closure_text.text()
    click(app, page.closure_no)
    assert c.closures == [(False, "")]
    assert not page.closure_yes.isEnabled() and not page.closure_no.isEnabled()
    w.observer.closure_answered(TicketStatus("t-1", "Printer", "in_progress"))
    app.processEvents()
    assert "reopened" in page.closure_done_label.text()
    w.observer.closure_asked(ticket)  # resolved again later: asked again
    app.processEvents()
    click(app, page.closure_yes)
    assert c.closures == [(False, ""), (True, "")]
    w.observer.closure_answered(TicketStatus("t-1", "Printer", "closed"))
    app.processEvents()
    assert page.closure_done_label.text() == "Thank you. Your request is closed."
