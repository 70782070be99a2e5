"""The client's window: ask for help, decide who may do what, stay in control.

Pages: *start* (:class:`~agent.ui.start_page.StartPage`: "Get help" with a
description, or "I have a code"), *session* (the status strip, the always-visible
control bar with KILL and the control banner, the verification code, the ring box,
the call panel, consent prompts, masks, the live log and chat) and *end*
(:class:`~agent.ui.end_page.EndPage`: outcome, log verification, rating). Each part
is its own widget module under ``agent.ui``; this module composes them and routes
the session's signals to them.

The window holds no session logic: buttons call the ``AgentController`` (the
session), which consults the pure consent and kill-switch machines. KILL is also
bound to Ctrl+Shift+K, application-wide.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QMainWindow,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from agent.consent import Decision, Prompt
from agent.i18n import _
from agent.observer import AgentController, LogLine, SessionOutcome, SessionStatus
from agent.ui.bridge import QtObserver
from agent.ui.call_panel import CallPanel
from agent.ui.code_box import CodeBox
from agent.ui.control_bar import ControlBar
from agent.ui.end_page import EndPage
from agent.ui.log_chat import LogChatPanel
from agent.ui.mask_box import MaskBox, Region
from agent.ui.prompts_area import PromptsArea
from agent.ui.ring_box import RingBox
from agent.ui.start_page import StartPage
from agent.ui.status_panel import StatusPanel
from agent.ui.style import STYLE, app_stylesheet, label
from agent.ui.words import KILL_SHORTCUT, kill_text, pause_text, resume_text

__all__ = [
    "KILL_SHORTCUT",
    "STYLE",
    "AgentWindow",
    "StartSession",
    "kill_text",
    "pause_text",
    "resume_text",
]

#: start(describe, code, observer) -> controller (the window starts the session)
StartSession = Callable[[str | None, str | None, QtObserver], AgentController]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _scrolling(page: QWidget) -> QScrollArea:
    """``page`` in a frameless scroll area that resizes it (height for width kept)."""
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # wrap, never pan
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # not a tab stop; its contents are
    return area


class AgentWindow(QMainWindow):
    """The main window. ``start`` launches the session when the client asks for help.

    The parts' widgets are also reachable as attributes of the window under their old
    names (``status_strip``, ``log_list``, ``star_buttons``, …) for tests and tools."""

    def __init__(
        self,
        start: StartSession,
        clock_ms: Callable[[], int] = _now_ms,
        default_name: str = "",
    ) -> None:
        super().__init__()
        self._default_name = default_name
        #: The name the client typed on the start page (the engineer sees it).
        self.client_name = default_name
        self._start = start
        self._clock = clock_ms
        self.observer = QtObserver()
        self.controller: AgentController | None = None
        self.status: SessionStatus | None = None
        self._paused = False
        self._killed = False
        self._status_notice = ""  # the last notice that came from a status message
        self.setWindowTitle(_("Clearpane — remote help"))
        self.setStyleSheet(app_stylesheet())  # the system's text size and contrast
        self.resize(760, 640)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.start_page = StartPage(default_name, self._begin)
        self.end_page = EndPage(self._rate, self._answer_closure)
        # Each page scrolls when it needs more room than the window has (large text):
        # its texts keep their full height instead of being squeezed and cut off.
        for page in (self.start_page, self._build_session(), self.end_page):
            self.stack.addWidget(_scrolling(page))
        self._expose_parts()
        self._connect_observer()
        self.kill_shortcut = QShortcut(QKeySequence(KILL_SHORTCUT), self)
        self.kill_shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self.kill_shortcut.activated.connect(lambda: self.kill("shortcut"))
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.prompts.tick)
        self._timer.start(250)

    # -- pages -------------------------------------------------------------------

    def _build_session(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(8)
        self.status_panel = StatusPanel()
        self.control_bar = ControlBar(
            call=self._on_call,
            revoke=self._on_revoke_control,
            pause=self._on_pause,
            kill=lambda: self.kill("button"),
        )
        self.code_box = CodeBox()
        self.ring_box = RingBox(self._on_ring_answer)
        self.call_panel = CallPanel(lambda: self.controller, self._after_call)
        self.prompts = PromptsArea(self._answer, self._clock)
        self.mask_box = MaskBox(self._on_masks, self.show_notice)
        self.log_chat = LogChatPanel(self._on_chat)
        self.notice_label = label("", "noticeLabel")
        for part in (
            self.status_panel,
            self.control_bar,
            self.code_box,
            self.ring_box,
            self.call_panel,
            self.prompts,
            self.mask_box,
        ):
            layout.addWidget(part)
        layout.addWidget(self.log_chat, 1)
        layout.addWidget(self.notice_label)
        return page

    def _expose_parts(self) -> None:
        """The parts' widgets under the window's old attribute names."""
        s, c, e = self.start_page, self.control_bar, self.end_page
        self.name_edit, self.describe_edit, self.get_help = s.name_edit, s.describe_edit, s.get_help
        self.code_edit, self.code_button, self.start_error = (
            s.code_edit,
            s.code_button,
            s.start_error,
        )
        self.status_strip = self.status_panel.status_strip
        self.who_label = self.status_panel.who_label
        self.pause_button, self.kill_button = c.pause_button, c.kill_button
        self.call_button, self.revoke_control, self.banner = (
            c.call_button,
            c.revoke_control,
            c.banner,
        )
        self.code_caption, self.code_label = self.code_box.code_caption, self.code_box.code_label
        self.ring_label = self.ring_box.ring_label
        self.ring_accept, self.ring_decline = self.ring_box.ring_accept, self.ring_box.ring_decline
        self.panels = self.prompts.panels
        self.prompts_scroll = self.prompts
        self.mask_windows = self.mask_box.mask_windows
        self.mask_regions = self.mask_box.mask_regions
        self.mask_apply = self.mask_box.mask_apply
        self.log_list, self.chat_view = self.log_chat.log_list, self.log_chat.chat_view
        self.chat_edit = self.log_chat.chat_edit
        self.end_title, self.end_text = e.end_title, e.end_text
        self.verify_label, self.verify_details = e.verify_label, e.verify_details
        self.star_buttons, self.rating_comment = e.star_buttons, e.rating_comment
        self.rating_send, self.rating_done = e.rating_send, e.rating_done

    def _connect_observer(self) -> None:
        o = self.observer
        o.status_changed.connect(self.show_status)
        o.prompt_shown.connect(self.show_prompt)
        o.prompt_done.connect(self.close_prompt)
        o.log_added.connect(self.add_log_line)
        o.chat_received.connect(lambda who, text, _at: self.log_chat.add_chat(who, text))
        o.code_ready.connect(self.show_code)
        o.call_asked.connect(self.show_ring)
        o.notice_posted.connect(self.show_notice)
        o.session_ended.connect(self.show_end)
        o.closure_question.connect(self.end_page.show_closure)
        o.closure_result.connect(self.end_page.closure_done)

    # -- actions (all go through the controller) -------------------------------------

    def _begin(self, describe: str | None, code: str | None) -> None:
        self.client_name = self.start_page.typed_name() or self._default_name
        try:
            self.controller = self._start(describe, code, self.observer)
        except Exception as exc:
            self.start_page.show_error(str(exc))
            return
        self.stack.setCurrentIndex(1)

    def kill(self, source: str = "button") -> None:
        """The kill switch: stops capture synchronously (in this thread) first."""
        if self.controller is not None:
            self.controller.kill(source)
        self._killed = True
        self.control_bar.show_killed()
        self._refresh_strip()

    def _on_pause(self) -> None:
        if self.controller is None:
            return
        pause = not self._paused
        self._paused = pause  # before the call: the session may publish its status at once
        if pause:
            self.controller.pause()
        else:
            self.controller.resume()
        self.control_bar.show_paused(self._paused)
        self._refresh_strip()

    def _on_call(self, start: bool) -> bool:
        if self.controller is None:
            return False
        if start:
            self.controller.call_start()
        else:
            self.controller.call_hangup()
        return True

    def _after_call(self) -> None:
        self.control_bar.show_in_call(False)  # the call is over, whoever ended it

    def show_ring(self, viewer_id: str, name: str) -> None:
        """The engineer asks for a video call."""
        self.ring_box.ring(name)

    def _on_ring_answer(self, accept: bool) -> None:
        if self.controller is None:
            return
        if accept:
            self.controller.call_accept()
            self.control_bar.show_in_call(True)
        else:
            self.controller.call_decline()

    def _on_revoke_control(self) -> None:
        if self.controller is None or self.status is None:
            return
        for v in self.status.viewers:
            if "control" in v.permissions:
                self.controller.revoke(v.viewer_id, ["control"])

    def _on_masks(self, regions: list[Region], windows: list[str]) -> None:
        if self.controller is not None:
            self.controller.set_masks(regions, windows)

    def _on_chat(self, text: str) -> bool:
        if self.controller is None:
            return False
        self.controller.send_chat(text)
        return True

    def _rate(self, score: int, comment: str) -> None:
        if self.controller is not None:
            self.controller.rate(score, comment)

    def _answer_closure(self, accept: bool) -> None:
        if self.controller is not None:
            self.controller.answer_closure(accept)

    def _answer(self, request_id: str, allowed: list[str]) -> None:
        if self.controller is not None:
            self.controller.answer(request_id, allowed)

    # -- session → window --------------------------------------------------------

    def show_prompt(self, prompt: Prompt) -> None:
        """Show a consent prompt and tell the session it is on screen."""
        self.prompts.add(prompt, self.height())
        self.stack.setCurrentIndex(1)
        self.raise_()
        self.activateWindow()
        if self.controller is not None:
            self.controller.mark_shown(prompt.request_id)

    def close_prompt(self, decision: Decision) -> None:
        """A prompt was answered or timed out."""
        self.prompts.remove(decision.request_id, self.height())
        if decision.reason == "timed_out":
            self.show_notice(_("No answer in time, so access was refused."))
        elif self._status_notice and self.notice_label.text() == self._status_notice:
            self.show_notice("")  # "… asks to connect" is answered: do not leave it up

    def show_status(self, status: SessionStatus) -> None:
        """Update the status strip, the control bar and the control banner."""
        self.status = status
        if status.phase == "paused":
            self._paused = True
        elif status.phase == "live":
            self._paused = False
        if not self._killed:
            self.control_bar.show_paused(self._paused)
        self.status_panel.show_who(status)
        ended = status.phase == "ended" or self._killed
        self.control_bar.show_control(() if ended else status.controlled_by)
        self._refresh_strip()
        if status.message:
            self._status_notice = status.message
            self.show_notice(status.message)

    def _refresh_strip(self) -> None:
        self.status_panel.refresh_strip(self.status, paused=self._paused, killed=self._killed)

    def add_log_line(self, line: LogLine) -> None:
        """Append to the live log (plain words; never a raw event name)."""
        self.log_chat.add_log_line(line, self.code_box.codes)

    def show_code(self, viewer_id: str, name: str, code: str) -> None:
        """The verification code to compare with the engineer."""
        self.code_box.show_code(name, code)
        self.log_chat.code_known(name, code)

    def show_notice(self, text: str) -> None:
        """A one-line message for the client."""
        self.notice_label.setText(text)

    def show_end(self, outcome: SessionOutcome) -> None:
        """The end page: what happened, whether the log verified, the rating."""
        self.prompts.clear()
        self.status_panel.show_ended()
        self.end_page.show_outcome(outcome)
        self.stack.setCurrentIndex(2)

    def changeEvent(self, event: QEvent) -> None:
        """The system's text size or palette changed (a large-text or high-contrast
        setting): restyle at once, so the new size and colours show everywhere."""
        if event.type() in (
            QEvent.Type.ApplicationFontChange,
            QEvent.Type.ApplicationPaletteChange,
        ):
            self.setStyleSheet(app_stylesheet())
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window ends the session the safe way: the kill switch."""
        if self.controller is not None and self.stack.currentIndex() == 1:
            self.controller.kill("window_closed")
        super().closeEvent(event)
