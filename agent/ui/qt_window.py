"""The client's window: ask for help, decide who may do what, stay in control.

Pages: *start* ("Get help" with a description, or "I have a code"), *session*
(consent prompts, the always-visible control bar with KILL, the control banner,
the live log, chat, verification codes, masks) and *end* (outcome, log
verification, rating). The window holds no session logic: buttons call the
``AgentController`` (the session), which consults the pure consent and kill-switch
machines. KILL is also bound to Ctrl+Shift+K, application-wide. Each prompt is an
``agent.ui.consent_panel.ConsentPanel``; during a video call the session page shows
the ``agent.ui.call_panel.CallPanel``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from agent.consent import Decision, Prompt
from agent.observer import AgentController, LogLine, SessionOutcome, SessionStatus
from agent.ui.bridge import QtObserver
from agent.ui.call_panel import CallPanel
from agent.ui.consent_panel import ConsentPanel

KILL_SHORTCUT = "Ctrl+Shift+K"
_KILL_STYLE = (
    "QPushButton { background: #c62828; color: white; font-weight: bold; font-size: 16px;"
    " padding: 10px 18px; border-radius: 6px; } QPushButton:disabled { background: #999; }"
)
_BANNER_STYLE = "background: #ef6c00; color: white; font-weight: bold; padding: 6px;"

#: start(describe, code, observer) -> controller (the window starts the session)
StartSession = Callable[[str | None, str | None, QtObserver], AgentController]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class AgentWindow(QMainWindow):
    """The main window. ``start`` launches the session when the client asks for help."""

    def __init__(self, start: StartSession, clock_ms: Callable[[], int] = _now_ms) -> None:
        super().__init__()
        self._start = start
        self._clock = clock_ms
        self.observer = QtObserver()
        self.controller: AgentController | None = None
        self.status: SessionStatus | None = None
        self.panels: dict[str, ConsentPanel] = {}
        self.setWindowTitle("Clearpane — remote help")
        self.resize(760, 640)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.stack.addWidget(self._build_start())
        self.stack.addWidget(self._build_session())
        self.stack.addWidget(self._build_end())
        self._connect_observer()
        self.kill_shortcut = QShortcut(QKeySequence(KILL_SHORTCUT), self)
        self.kill_shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self.kill_shortcut.activated.connect(lambda: self.kill("shortcut"))
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(250)

    # -- pages -------------------------------------------------------------------

    def _build_start(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        title = QLabel("<h2>Get help from your help desk</h2>")
        layout.addWidget(title)
        layout.addWidget(QLabel("Describe the problem:"))
        self.describe_edit = QPlainTextEdit()
        self.describe_edit.setObjectName("describeEdit")
        self.describe_edit.setPlaceholderText("e.g. My printer does not print since this morning")
        layout.addWidget(self.describe_edit)
        self.get_help = QPushButton("Get help")
        self.get_help.setObjectName("getHelpButton")
        self.get_help.clicked.connect(self._on_get_help)
        layout.addWidget(self.get_help)
        layout.addWidget(QLabel("<b>or</b> — an engineer gave you a code:"))
        row = QHBoxLayout()
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("codeEdit")
        self.code_edit.setPlaceholderText("Code, e.g. 4821-7730")
        self.code_button = QPushButton("I have a code")
        self.code_button.setObjectName("codeButton")
        self.code_button.clicked.connect(self._on_code)
        row.addWidget(self.code_edit, 1)
        row.addWidget(self.code_button)
        layout.addLayout(row)
        layout.addWidget(
            QLabel(
                "Nobody sees your screen until you allow it. You can stop everything at\n"
                f"any time with the red KILL button or {KILL_SHORTCUT}."
            )
        )
        self.start_error = QLabel()
        self.start_error.setStyleSheet("color: #c62828")
        layout.addWidget(self.start_error)
        layout.addStretch(1)
        return page

    def _build_session(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        # The control bar: always visible on the session page.
        bar = QFrame()
        bar.setObjectName("controlBar")
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        bar_layout = QHBoxLayout(bar)
        self.who_label = QLabel("Waiting for an engineer…")
        self.who_label.setObjectName("whoLabel")
        self.who_label.setWordWrap(True)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.clicked.connect(self._on_pause)
        self.revoke_control = QPushButton("Take back control")
        self.revoke_control.setObjectName("revokeControlButton")
        self.revoke_control.clicked.connect(self._on_revoke_control)
        self.revoke_control.setVisible(False)
        self.kill_button = QPushButton("KILL")
        self.kill_button.setObjectName("killButton")
        self.kill_button.setToolTip(f"Stop everything now ({KILL_SHORTCUT})")
        self.kill_button.setStyleSheet(_KILL_STYLE)
        self.kill_button.clicked.connect(lambda: self.kill("button"))
        self.call_button = QPushButton("Video call")
        self.call_button.setObjectName("callButton")
        self.call_button.clicked.connect(self._on_call_button)
        bar_layout.addWidget(self.who_label, 1)
        bar_layout.addWidget(self.call_button)
        bar_layout.addWidget(self.revoke_control)
        bar_layout.addWidget(self.pause_button)
        bar_layout.addWidget(self.kill_button)
        layout.addWidget(bar)
        self.banner = QLabel()
        self.banner.setObjectName("controlBanner")
        self.banner.setStyleSheet(_BANNER_STYLE)
        self.banner.setVisible(False)
        layout.addWidget(self.banner)
        self.code_label = QLabel()
        self.code_label.setObjectName("verificationCode")
        layout.addWidget(self.code_label)
        # The engineer asks for a video call: the client decides (nothing opens before).
        self.ring_box = QFrame()
        self.ring_box.setObjectName("ringBox")
        ring_layout = QHBoxLayout(self.ring_box)
        self.ring_label = QLabel()
        self.ring_accept = QPushButton("Accept call")
        self.ring_accept.setObjectName("ringAccept")
        self.ring_decline = QPushButton("Decline")
        self.ring_decline.setObjectName("ringDecline")
        self.ring_accept.clicked.connect(lambda: self._on_ring_answer(True))
        self.ring_decline.clicked.connect(lambda: self._on_ring_answer(False))
        ring_layout.addWidget(self.ring_label, 1)
        ring_layout.addWidget(self.ring_decline)
        ring_layout.addWidget(self.ring_accept)
        self.ring_box.setVisible(False)
        layout.addWidget(self.ring_box)
        # During a call: the engineer's camera, the client's preview, mute, hang up.
        self.call_panel = CallPanel(lambda: self.controller, self._after_call)
        layout.addWidget(self.call_panel)
        self.prompts_box = QVBoxLayout()
        layout.addLayout(self.prompts_box)
        # Masks: window titles and rectangles blanked on this machine before encoding.
        mask_row = QHBoxLayout()
        self.mask_windows = QLineEdit()
        self.mask_windows.setObjectName("maskWindows")
        self.mask_windows.setPlaceholderText("Hide windows whose title contains… (comma-separated)")
        self.mask_regions = QLineEdit()
        self.mask_regions.setObjectName("maskRegions")
        self.mask_regions.setPlaceholderText("Hide areas x,y,w,h; …")
        self.mask_apply = QPushButton("Hide")
        self.mask_apply.setObjectName("maskApply")
        self.mask_apply.clicked.connect(self._on_masks)
        mask_row.addWidget(self.mask_windows, 2)
        mask_row.addWidget(self.mask_regions, 2)
        mask_row.addWidget(self.mask_apply)
        layout.addLayout(mask_row)
        layout.addWidget(QLabel("What is happening (kept on this computer):"))
        self.log_list = QListWidget()
        self.log_list.setObjectName("liveLog")
        layout.addWidget(self.log_list, 2)
        self.chat_view = QListWidget()
        self.chat_view.setObjectName("chatView")
        layout.addWidget(self.chat_view, 1)
        chat_row = QHBoxLayout()
        self.chat_edit = QLineEdit()
        self.chat_edit.setObjectName("chatEdit")
        self.chat_edit.setPlaceholderText("Write to the engineer…")
        self.chat_edit.returnPressed.connect(self._on_chat)
        send = QPushButton("Send")
        send.setObjectName("chatSend")
        send.clicked.connect(self._on_chat)
        chat_row.addWidget(self.chat_edit, 1)
        chat_row.addWidget(send)
        layout.addLayout(chat_row)
        self.notice_label = QLabel()
        self.notice_label.setObjectName("noticeLabel")
        self.notice_label.setWordWrap(True)
        layout.addWidget(self.notice_label)
        return page

    def _build_end(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.end_title = QLabel("<h2>The session is over</h2>")
        layout.addWidget(self.end_title)
        self.end_text = QLabel()
        self.end_text.setObjectName("endText")
        self.end_text.setWordWrap(True)
        layout.addWidget(self.end_text)
        self.verify_label = QLabel()
        self.verify_label.setObjectName("verifyLabel")
        self.verify_label.setWordWrap(True)
        layout.addWidget(self.verify_label)
        layout.addWidget(QLabel("How well were you helped?"))
        stars = QHBoxLayout()
        self.star_buttons: list[QPushButton] = []
        for score in range(1, 6):
            b = QPushButton("★" * score)
            b.setObjectName(f"rate{score}")
            b.clicked.connect(lambda _=False, s=score: self._on_rate(s))
            stars.addWidget(b)
            self.star_buttons.append(b)
        layout.addLayout(stars)
        self.rating_comment = QLineEdit()
        self.rating_comment.setObjectName("ratingComment")
        self.rating_comment.setPlaceholderText("A comment (optional)")
        layout.addWidget(self.rating_comment)
        self.rating_done = QLabel()
        self.rating_done.setObjectName("ratingDone")
        layout.addWidget(self.rating_done)
        layout.addStretch(1)
        return page

    def _connect_observer(self) -> None:
        o = self.observer
        o.status_changed.connect(self.show_status)
        o.prompt_shown.connect(self.show_prompt)
        o.prompt_done.connect(self.close_prompt)
        o.log_added.connect(self.add_log_line)
        o.chat_received.connect(lambda who, text, _at: self.chat_view.addItem(f"{who}: {text}"))
        o.code_ready.connect(self.show_code)
        o.call_asked.connect(self.show_ring)
        o.notice_posted.connect(self.show_notice)
        o.session_ended.connect(self.show_end)

    # -- actions (all go through the controller) -------------------------------------

    def _begin(self, describe: str | None, code: str | None) -> None:
        try:
            self.controller = self._start(describe, code, self.observer)
        except Exception as exc:
            self.start_error.setText(str(exc))
            return
        self.stack.setCurrentIndex(1)

    def _on_get_help(self) -> None:
        text = self.describe_edit.toPlainText().strip()
        if not text:
            self.start_error.setText("Please describe the problem in a few words.")
            return
        self._begin(text, None)

    def _on_code(self) -> None:
        code = self.code_edit.text().strip()
        if not code:
            self.start_error.setText("Please type the code the engineer gave you.")
            return
        self._begin(None, code)

    def kill(self, source: str = "button") -> None:
        """The kill switch: stops capture synchronously (in this thread) first."""
        if self.controller is not None:
            self.controller.kill(source)
        self.kill_button.setEnabled(False)
        self.kill_button.setText("KILLED")
        self.pause_button.setEnabled(False)
        self.banner.setVisible(False)

    def _on_pause(self) -> None:
        if self.controller is None:
            return
        if self.pause_button.text() == "Pause":
            self.controller.pause()
            self.pause_button.setText("Resume")
        else:
            self.controller.resume()
            self.pause_button.setText("Pause")

    def _on_call_button(self) -> None:
        if self.controller is None:
            return
        if self.call_button.text() == "Video call":
            self.controller.call_start()
            self.call_button.setText("Hang up")
        else:
            self.controller.call_hangup()
            self.call_button.setText("Video call")

    def _after_call(self) -> None:
        self.call_button.setText("Video call")  # the call is over, whoever ended it

    def show_ring(self, viewer_id: str, name: str) -> None:
        """The engineer asks for a video call."""
        self.ring_label.setText(f"{name} asks for a video call (camera and microphone).")
        self.ring_box.setVisible(True)

    def _on_ring_answer(self, accept: bool) -> None:
        self.ring_box.setVisible(False)
        if self.controller is None:
            return
        if accept:
            self.controller.call_accept()
            self.call_button.setText("Hang up")
        else:
            self.controller.call_decline()

    def _on_revoke_control(self) -> None:
        if self.controller is None or self.status is None:
            return
        for v in self.status.viewers:
            if "control" in v.permissions:
                self.controller.revoke(v.viewer_id, ["control"])

    def _on_masks(self) -> None:
        if self.controller is None:
            return
        windows = [t.strip() for t in self.mask_windows.text().split(",") if t.strip()]
        regions: list[tuple[int, int, int, int]] = []
        for part in self.mask_regions.text().split(";"):
            if not part.strip():
                continue
            try:
                x, y, w, h = (int(n) for n in part.split(","))
            except ValueError:
                self.show_notice(f"Not an area: {part.strip()!r} (use x,y,w,h)")
                return
            regions.append((x, y, w, h))
        self.controller.set_masks(regions, windows)

    def _on_chat(self) -> None:
        text = self.chat_edit.text().strip()
        if text and self.controller is not None:
            self.controller.send_chat(text)
            self.chat_view.addItem(f"You: {text}")
            self.chat_edit.clear()

    def _on_rate(self, score: int) -> None:
        if self.controller is not None:
            self.controller.rate(score, self.rating_comment.text().strip())
        for b in self.star_buttons:
            b.setEnabled(False)
        self.rating_done.setText(f"Thank you — you rated {score} of 5.")

    # -- session → window --------------------------------------------------------

    def show_prompt(self, prompt: Prompt) -> None:
        """Show a consent prompt and tell the session it is on screen."""
        panel = ConsentPanel(prompt, self._answer, self._clock)
        self.panels[prompt.request_id] = panel
        self.prompts_box.addWidget(panel)
        self.stack.setCurrentIndex(1)
        self.raise_()
        self.activateWindow()
        if self.controller is not None:
            self.controller.mark_shown(prompt.request_id)

    def _answer(self, request_id: str, allowed: list[str]) -> None:
        if self.controller is not None:
            self.controller.answer(request_id, allowed)

    def close_prompt(self, decision: Decision) -> None:
        """A prompt was answered or timed out."""
        panel = self.panels.pop(decision.request_id, None)
        if panel is not None:
            panel.setParent(None)
            panel.deleteLater()
        if decision.reason == "timed_out":
            self.show_notice("No answer in time: access was denied.")

    def show_status(self, status: SessionStatus) -> None:
        """Update the control bar and the control banner."""
        self.status = status
        if status.viewers:
            parts = []
            for v in status.viewers:
                perms = ", ".join(sorted(v.permissions)) or "nothing yet"
                parts.append(f"{v.name} ({v.role}) may: {perms}")
            self.who_label.setText("Connected: " + "; ".join(parts))
        elif status.phase == "reconnecting":
            self.who_label.setText("Connection lost — reconnecting…")
        else:
            self.who_label.setText("Waiting for an engineer…")
        controlled = bool(status.controlled_by)
        self.banner.setVisible(controlled and status.phase != "ended")
        self.revoke_control.setVisible(controlled)
        if controlled:
            names = ", ".join(status.controlled_by)
            self.banner.setText(
                f"{names} can use your mouse and keyboard — press KILL or {KILL_SHORTCUT} to stop"
            )
        if status.message:
            self.show_notice(status.message)

    def add_log_line(self, line: LogLine) -> None:
        """Append to the live log."""
        stamp = time.strftime("%H:%M:%S", time.localtime(line.at_ms / 1000))
        self.log_list.addItem(f"{stamp}  {line.text}")
        self.log_list.scrollToBottom()

    def show_code(self, viewer_id: str, name: str, code: str) -> None:
        """The verification code to compare with the engineer."""
        self.code_label.setText(
            f"Verification code with {name}: <b>{code}</b> — ask them to read theirs out"
        )

    def show_notice(self, text: str) -> None:
        """A one-line message for the client."""
        self.notice_label.setText(text)

    def show_end(self, outcome: SessionOutcome) -> None:
        """The end page: what happened, whether the log verified, the rating."""
        for request_id in list(self.panels):
            self.panels.pop(request_id).deleteLater()
        self.end_text.setText(outcome.final_text)
        v = outcome.verification
        if v is None:
            self.verify_label.setText("No session log was kept.")
        else:
            text = v.summary + ("\n" + "\n".join(v.problems) if v.problems else "")
            if outcome.log_dir:
                text += f"\nYour copy of the log: {outcome.log_dir}"
            self.verify_label.setText(text)
        # After a kill the socket is closed, but the rating goes over REST with the
        # session token (can_rate); without a session there is nothing to rate.
        for b in self.star_buttons:
            b.setEnabled(outcome.can_rate)
        self.rating_comment.setEnabled(outcome.can_rate)
        if not outcome.can_rate:
            self.rating_done.setText("This session cannot be rated: the connection is closed.")
        self.stack.setCurrentIndex(2)

    def _tick(self) -> None:
        for panel in self.panels.values():
            panel.tick()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window ends the session the safe way: the kill switch."""
        if self.controller is not None and self.stack.currentIndex() == 1:
            self.controller.kill("window_closed")
        super().closeEvent(event)
