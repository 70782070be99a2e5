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
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from agent.consent import Decision, Prompt
from agent.i18n import _, ngettext
from agent.observer import AgentController, LogLine, SessionOutcome, SessionStatus
from agent.plaintext import html_text, plain_text
from agent.ui.bridge import QtObserver
from agent.ui.call_panel import CallPanel
from agent.ui.consent_panel import ConsentPanel

KILL_SHORTCUT = "Ctrl+Shift+K"


def kill_text() -> str:
    """The kill button's words (the language may change at start-up)."""
    return _("Stop now ({shortcut})", shortcut=KILL_SHORTCUT)


def pause_text() -> str:
    """The pause button, while sharing."""
    return _("Pause sharing")


def resume_text() -> str:
    """The pause button, while paused."""
    return _("Resume sharing")


#: The whole window's look: calm greys and blues, one red (Stop now), amber only while
#: someone controls the mouse and keyboard. The status strip's colour follows its
#: ``state`` property (idle, waiting, viewing, control, paused, ended).
STYLE = """
QMainWindow, QStackedWidget > QWidget { background: #f6f7f9; }
QWidget { font-size: 13px; color: #1f2933; }
QLabel#pageTitle { font-size: 22px; font-weight: 600; color: #102a43; }
QLabel#hint, QLabel#sectionHint { color: #52606d; }
QLabel#sectionTitle { font-size: 14px; font-weight: 600; color: #243b53; }
QLabel#statusStrip {
    font-size: 18px; font-weight: 600; padding: 12px 16px; border-radius: 8px;
    background: #e4e7eb; color: #243b53;
}
QLabel#statusStrip[state="waiting"] { background: #e4e7eb; color: #243b53; }
QLabel#statusStrip[state="viewing"] { background: #dbeafe; color: #1e3a8a; }
QLabel#statusStrip[state="control"] { background: #f59e0b; color: #1f1300; }
QLabel#statusStrip[state="paused"] { background: #e0e7ff; color: #312e81; }
QLabel#statusStrip[state="ended"] { background: #d9e2ec; color: #334e68; }
QLabel#controlBanner {
    background: #fff4e0; color: #7a4100; border: 1px solid #f59e0b;
    border-radius: 6px; padding: 6px 10px;
}
QFrame#controlBar, QFrame#codeBox, QFrame#ringBox, QFrame[card="true"], QGroupBox {
    background: white; border: 1px solid #d9e2ec; border-radius: 8px;
}
QGroupBox { margin-top: 14px; padding: 10px 8px 8px 8px; font-weight: 600; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; }
QLabel#verificationCode {
    font-size: 26px; font-weight: 700; color: #102a43; letter-spacing: 2px;
    font-family: "DejaVu Sans Mono", monospace;
}
QPushButton {
    background: white; border: 1px solid #bcccdc; border-radius: 6px;
    padding: 7px 14px; color: #243b53;
}
QPushButton:hover { background: #f0f4f8; }
QPushButton:disabled { color: #9aa5b1; background: #f0f4f8; }
QPushButton#getHelpButton, QPushButton#confirmConsent, QPushButton#ringAccept,
QPushButton#chatSend, QPushButton#codeButton {
    background: #2563eb; border-color: #2563eb; color: white; font-weight: 600;
}
QPushButton#getHelpButton:disabled, QPushButton#confirmConsent:disabled {
    background: #93b4f5; border-color: #93b4f5;
}
QPushButton#killButton {
    background: #c62828; border: 1px solid #a31f1f; color: white; font-weight: 700;
    font-size: 15px; padding: 12px 20px; border-radius: 8px;
}
QPushButton#killButton:hover { background: #b71c1c; }
QPushButton#killButton:disabled { background: #9aa5b1; border-color: #9aa5b1; color: white; }
QPushButton#pauseButton { font-weight: 600; padding: 10px 16px; }
QPushButton#revokeControlButton {
    background: #fff4e0; border-color: #f59e0b; color: #7a4100; font-weight: 600;
}
QPushButton[star="true"] { font-size: 20px; color: #d69e00; padding: 6px 10px; }
QLineEdit, QPlainTextEdit, QListWidget {
    background: white; border: 1px solid #bcccdc; border-radius: 6px; padding: 4px;
}
QListWidget#liveLog::item { padding: 2px 0; }
QLabel#verifyLabel[ok="true"] { color: #14532d; }
QLabel#verifyLabel[ok="false"] { color: #8a1c1c; }
QLabel#startError { color: #c62828; }
"""

#: start(describe, code, observer) -> controller (the window starts the session)
StartSession = Callable[[str | None, str | None, QtObserver], AgentController]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class AgentWindow(QMainWindow):
    """The main window. ``start`` launches the session when the client asks for help."""

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
        self.panels: dict[str, ConsentPanel] = {}
        self._paused = False
        self._killed = False
        self._status_notice = ""  # the last notice that came from a status message
        self._codes: dict[str, str] = {}  # viewer name -> verification code
        self._key_items: dict[str, QListWidgetItem] = {}  # "secure connection" lines by name
        self.setWindowTitle(_("Clearpane — remote help"))
        self.setStyleSheet(STYLE)
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
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(10)
        layout.addWidget(_label(_("Get help from your help desk"), "pageTitle"))
        name_label = _label(_("Your name, as the engineer will see it:"), "sectionTitle")
        layout.addWidget(name_label)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.setMaxLength(100)
        self.name_edit.setPlaceholderText(_("e.g. Anna Petrova"))
        self.name_edit.setAccessibleName(_("Your name"))
        if self._default_name and self._default_name != "client":
            self.name_edit.setText(self._default_name)
        name_label.setBuddy(self.name_edit)
        layout.addWidget(self.name_edit)
        describe_label = _label(_("Tell us what is wrong, in your own words:"), "sectionTitle")
        layout.addWidget(describe_label)
        self.describe_edit = QPlainTextEdit()
        self.describe_edit.setObjectName("describeEdit")
        self.describe_edit.setPlaceholderText(
            _("e.g. My printer does not print since this morning")
        )
        self.describe_edit.setAccessibleName(_("What is wrong"))
        self.describe_edit.setTabChangesFocus(True)
        self.describe_edit.setMaximumHeight(120)
        layout.addWidget(self.describe_edit)
        self.get_help = QPushButton(_("Get help"))
        self.get_help.setObjectName("getHelpButton")
        self.get_help.clicked.connect(self._on_get_help)
        layout.addWidget(self.get_help)
        layout.addSpacing(12)
        layout.addWidget(_label(_("Or: an engineer gave you a code"), "sectionTitle"))
        row = QHBoxLayout()
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("codeEdit")
        self.code_edit.setPlaceholderText(_("Type the code here, e.g. 4821-7730"))
        self.code_edit.setAccessibleName(_("Invitation code"))
        self.code_button = QPushButton(_("Connect with my code"))
        self.code_button.setObjectName("codeButton")
        self.code_button.clicked.connect(self._on_code)
        row.addWidget(self.code_edit, 1)
        row.addWidget(self.code_button)
        layout.addLayout(row)
        layout.addSpacing(12)
        hint = _label(
            _(
                "Nobody sees your screen until you allow it. Sessions are recorded for "
                "quality review. You can stop everything at any time with the red “Stop "
                "now” button or by pressing {shortcut}.",
                shortcut=KILL_SHORTCUT,
            ),
            "hint",
        )
        layout.addWidget(hint)
        self.start_error = _label("", "startError")
        layout.addWidget(self.start_error)
        layout.addStretch(1)
        return page

    def _build_session(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(8)
        # What is happening right now, in one sentence; its colour says how much.
        self.status_strip = _label(
            _("Nobody is connected — waiting for an engineer"), "statusStrip"
        )
        self.status_strip.setAccessibleName(_("Status"))
        self.status_strip.setProperty("state", "waiting")
        layout.addWidget(self.status_strip)
        # Who is connected and what each may do (the detail under the strip).
        self.who_label = _label(_("Waiting for an engineer…"), "whoLabel")
        self.who_label.setTextFormat(Qt.TextFormat.RichText)  # names go through _esc
        self.who_label.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.who_label)
        # The control bar: always visible on the session page.
        bar = QFrame()
        bar.setObjectName("controlBar")
        bar_layout = QHBoxLayout(bar)
        bar_layout.setContentsMargins(10, 8, 10, 8)
        self.pause_button = QPushButton(pause_text())
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setToolTip(_("Stop sending your screen for a moment; resume when ready"))
        self.pause_button.clicked.connect(self._on_pause)
        self.revoke_control = QPushButton(_("Take back control"))
        self.revoke_control.setObjectName("revokeControlButton")
        self.revoke_control.setToolTip(
            _("The engineer can still see, but no longer use, your mouse and keyboard")
        )
        self.revoke_control.clicked.connect(self._on_revoke_control)
        self.revoke_control.setVisible(False)
        self.kill_button = QPushButton(kill_text())
        self.kill_button.setObjectName("killButton")
        self.kill_button.setToolTip(
            _(
                "End the session at once: nothing more is sent ({shortcut} works anywhere)",
                shortcut=KILL_SHORTCUT,
            )
        )
        self.kill_button.setAccessibleDescription(self.kill_button.toolTip())
        self.kill_button.clicked.connect(lambda: self.kill("button"))
        self.call_button = QPushButton(_("Video call"))
        self.call_button.setObjectName("callButton")
        self.call_button.setToolTip(_("Talk face to face: your camera and microphone open"))
        self.call_button.clicked.connect(self._on_call_button)
        bar_layout.addWidget(self.call_button)
        bar_layout.addWidget(self.revoke_control)
        bar_layout.addStretch(1)
        bar_layout.addWidget(self.pause_button)
        bar_layout.addWidget(self.kill_button)
        layout.addWidget(bar)
        self.banner = _label("", "controlBanner")
        self.banner.setVisible(False)
        layout.addWidget(self.banner)
        # The verification code: large, so it is easy to read out and compare.
        self.code_box = QFrame()
        self.code_box.setObjectName("codeBox")
        code_layout = QHBoxLayout(self.code_box)
        code_layout.setContentsMargins(12, 6, 12, 6)
        self.code_caption = _label("", "sectionHint")
        self.code_caption.setTextFormat(Qt.TextFormat.RichText)  # names go through _esc
        self.code_label = QLabel()
        self.code_label.setTextFormat(Qt.TextFormat.RichText)
        self.code_label.setObjectName("verificationCode")
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        code_layout.addWidget(self.code_caption, 1)
        code_layout.addWidget(self.code_label)
        self.code_box.setVisible(False)
        layout.addWidget(self.code_box)
        # The engineer asks for a video call: the client decides (nothing opens before).
        self.ring_box = QFrame()
        self.ring_box.setObjectName("ringBox")
        ring_layout = QHBoxLayout(self.ring_box)
        self.ring_label = QLabel()
        self.ring_label.setTextFormat(Qt.TextFormat.RichText)  # the name goes through _esc
        self.ring_label.setWordWrap(True)
        self.ring_accept = QPushButton(_("Accept call"))
        self.ring_accept.setObjectName("ringAccept")
        self.ring_decline = QPushButton(_("Decline"))
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
        # Prompts stack in a scroll area with a bounded height, so a second prompt during
        # control never squeezes the log and chat to a few lines (issue 20 item 7).
        self.prompts_holder = QWidget()
        self.prompts_box = QVBoxLayout(self.prompts_holder)
        self.prompts_box.setContentsMargins(0, 0, 0, 0)
        self.prompts_scroll = QScrollArea()
        self.prompts_scroll.setObjectName("promptsScroll")
        self.prompts_scroll.setWidgetResizable(True)
        self.prompts_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.prompts_scroll.setWidget(self.prompts_holder)
        self.prompts_scroll.setVisible(False)
        layout.addWidget(self.prompts_scroll)
        # Masks: window titles and rectangles blanked on this machine before encoding.
        masks = QGroupBox(_("Hide parts of your screen"))
        masks.setObjectName("maskBox")
        mask_row = QHBoxLayout(masks)
        self.mask_windows = QLineEdit()
        self.mask_windows.setObjectName("maskWindows")
        self.mask_windows.setPlaceholderText(_("Windows to hide, e.g. Bank, Mail"))
        self.mask_windows.setAccessibleName(_("Windows to hide"))
        self.mask_windows.setToolTip(
            _(
                "Any window whose title contains one of these words is blacked out before "
                "your screen leaves this computer. Separate several with commas."
            )
        )
        self.mask_regions = QLineEdit()
        self.mask_regions.setObjectName("maskRegions")
        self.mask_regions.setPlaceholderText(_("Areas to hide (optional): x,y,width,height"))
        self.mask_regions.setAccessibleName(_("Areas to hide"))
        self.mask_regions.setToolTip(
            _(
                "A rectangle in screen pixels from the top-left corner, e.g. 0,0,400,300. "
                "Separate several areas with ';'."
            )
        )
        self.mask_apply = QPushButton(_("Hide"))
        self.mask_apply.setObjectName("maskApply")
        self.mask_apply.setToolTip(_("Apply now: hidden parts are never sent"))
        self.mask_apply.clicked.connect(self._on_masks)
        mask_row.addWidget(self.mask_windows, 2)
        mask_row.addWidget(self.mask_regions, 2)
        mask_row.addWidget(self.mask_apply)
        layout.addWidget(masks)
        # The live log and the chat, side by side.
        lower = QHBoxLayout()
        lower.setSpacing(10)
        log_col = QVBoxLayout()
        log_col.addWidget(_label(_("What is happening (kept on this computer)"), "sectionTitle"))
        self.log_list = QListWidget()
        self.log_list.setObjectName("liveLog")
        self.log_list.setAccessibleName(_("What is happening"))
        self.log_list.setMinimumHeight(110)
        self.log_list.setWordWrap(True)
        log_col.addWidget(self.log_list, 1)
        chat_col = QVBoxLayout()
        chat_col.addWidget(_label(_("Chat with the engineer"), "sectionTitle"))
        self.chat_view = QListWidget()
        self.chat_view.setObjectName("chatView")
        self.chat_view.setAccessibleName(_("Chat"))
        self.chat_view.setMinimumHeight(110)
        self.chat_view.setWordWrap(True)
        chat_col.addWidget(self.chat_view, 1)
        chat_row = QHBoxLayout()
        self.chat_edit = QLineEdit()
        self.chat_edit.setObjectName("chatEdit")
        self.chat_edit.setPlaceholderText(_("Write to the engineer…"))
        self.chat_edit.setAccessibleName(_("Message to the engineer"))
        self.chat_edit.returnPressed.connect(self._on_chat)
        send = QPushButton(_("Send"))
        send.setObjectName("chatSend")
        send.clicked.connect(self._on_chat)
        chat_row.addWidget(self.chat_edit, 1)
        chat_row.addWidget(send)
        chat_col.addLayout(chat_row)
        lower.addLayout(log_col, 3)
        lower.addLayout(chat_col, 2)
        layout.addLayout(lower, 1)
        self.notice_label = _label("", "noticeLabel")
        layout.addWidget(self.notice_label)
        return page

    def _build_end(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(10)
        self.end_title = _label(_("The session is over"), "pageTitle")
        layout.addWidget(self.end_title)
        self.end_text = _label("", "endText")
        layout.addWidget(self.end_text)
        layout.addWidget(_label(_("Was the record of this session checked?"), "sectionTitle"))
        self.verify_label = _label("", "verifyLabel")
        layout.addWidget(self.verify_label)
        self.verify_details = _label("", "hint")
        self.verify_details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.verify_details)
        layout.addSpacing(10)
        layout.addWidget(_label(_("How well were you helped?"), "sectionTitle"))
        stars = QHBoxLayout()
        self.star_buttons: list[QPushButton] = []
        for score in range(1, 6):
            b = QPushButton("★" * score)
            b.setObjectName(f"rate{score}")
            b.setProperty("star", True)
            b.setToolTip(_("{score} of 5 — {word}", score=score, word=_star_word(score)))
            b.setAccessibleName(_("{score} of 5 — {word}", score=score, word=_star_word(score)))
            b.setCheckable(True)
            b.clicked.connect(lambda _checked=False, s=score: self._on_star(s))
            stars.addWidget(b)
            self.star_buttons.append(b)
        stars.addStretch(1)
        layout.addLayout(stars)
        layout.addWidget(_label(_("1 star = poor, 5 stars = excellent"), "hint"))
        self.rating_comment = QLineEdit()
        self.rating_comment.setObjectName("ratingComment")
        self.rating_comment.setMaxLength(1000)
        self.rating_comment.setPlaceholderText(_("Anything you want to tell us? (optional)"))
        self.rating_comment.setAccessibleName(_("Comment on the help (optional)"))
        layout.addWidget(self.rating_comment)
        # Stars choose, this button sends the score together with the comment.
        self.rating_send = QPushButton(_("Send rating"))
        self.rating_send.setObjectName("ratingSend")
        self.rating_send.setEnabled(False)
        self.rating_send.clicked.connect(self._on_rating_send)
        layout.addWidget(self.rating_send, 0, Qt.AlignmentFlag.AlignLeft)
        self._score = 0
        self.rating_done = _label("", "ratingDone")
        layout.addWidget(self.rating_done)
        layout.addStretch(1)
        return page

    def _connect_observer(self) -> None:
        o = self.observer
        o.status_changed.connect(self.show_status)
        o.prompt_shown.connect(self.show_prompt)
        o.prompt_done.connect(self.close_prompt)
        o.log_added.connect(self.add_log_line)
        o.chat_received.connect(
            lambda who, text, _at: self.chat_view.addItem(plain_text(f"{who}: {text}"))
        )
        o.code_ready.connect(self.show_code)
        o.call_asked.connect(self.show_ring)
        o.notice_posted.connect(self.show_notice)
        o.session_ended.connect(self.show_end)

    # -- actions (all go through the controller) -------------------------------------

    def _begin(self, describe: str | None, code: str | None) -> None:
        self.client_name = self.name_edit.text().strip() or self._default_name
        try:
            self.controller = self._start(describe, code, self.observer)
        except Exception as exc:
            self.start_error.setText(str(exc))
            return
        self.stack.setCurrentIndex(1)

    def _on_get_help(self) -> None:
        text = self.describe_edit.toPlainText().strip()
        if not text:
            self.start_error.setText(_("Please describe the problem in a few words."))
            return
        self._begin(text, None)

    def _on_code(self) -> None:
        code = self.code_edit.text().strip()
        if not code:
            self.start_error.setText(_("Please type the code the engineer gave you."))
            return
        self._begin(None, code)

    def kill(self, source: str = "button") -> None:
        """The kill switch: stops capture synchronously (in this thread) first."""
        if self.controller is not None:
            self.controller.kill(source)
        self._killed = True
        self.kill_button.setEnabled(False)
        self.kill_button.setText(_("Stopped"))
        self.pause_button.setEnabled(False)
        self.revoke_control.setVisible(False)
        self.banner.setVisible(False)
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
        self.pause_button.setText(resume_text() if self._paused else pause_text())
        self._refresh_strip()

    def _on_call_button(self) -> None:
        if self.controller is None:
            return
        if self.call_button.text() == _("Video call"):
            self.controller.call_start()
            self.call_button.setText(_("Hang up"))
        else:
            self.controller.call_hangup()
            self.call_button.setText(_("Video call"))

    def _after_call(self) -> None:
        self.call_button.setText(_("Video call"))  # the call is over, whoever ended it

    def show_ring(self, viewer_id: str, name: str) -> None:
        """The engineer asks for a video call."""
        self.ring_label.setText(
            _(
                "<b>{name}</b> asks for a video call. Your camera and microphone open "
                "only if you accept.",
                name=_esc(name),
            )
        )
        self.ring_box.setVisible(True)

    def _on_ring_answer(self, accept: bool) -> None:
        self.ring_box.setVisible(False)
        if self.controller is None:
            return
        if accept:
            self.controller.call_accept()
            self.call_button.setText(_("Hang up"))
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
                self.show_notice(
                    _(
                        "“{area}” is not an area: use four numbers, x,y,width,height",
                        area=part.strip(),
                    )
                )
                return
            regions.append((x, y, w, h))
        self.controller.set_masks(regions, windows)

    def _on_chat(self) -> None:
        text = self.chat_edit.text().strip()
        if text and self.controller is not None:
            self.controller.send_chat(text)
            self.chat_view.addItem(_("You: {text}", text=text))
            self.chat_edit.clear()

    def _on_star(self, score: int) -> None:
        """A star chooses the score; "Send rating" sends it with the comment."""
        self._score = score
        for i, b in enumerate(self.star_buttons, 1):
            b.setChecked(i == score)
        self.rating_send.setEnabled(True)
        self.rating_done.setText(
            _("You chose {score} of 5. Add a comment if you like, then send.", score=score)
        )

    def _on_rating_send(self) -> None:
        score = self._score
        if not 1 <= score <= 5:
            return
        if self.controller is not None:
            self.controller.rate(score, self.rating_comment.text().strip())
        for b in self.star_buttons:
            b.setEnabled(False)
        self.rating_comment.setEnabled(False)
        self.rating_send.setEnabled(False)
        self.rating_done.setText(_("Thank you — you rated {score} of 5.", score=score))

    # -- session → window --------------------------------------------------------

    def show_prompt(self, prompt: Prompt) -> None:
        """Show a consent prompt and tell the session it is on screen."""
        panel = ConsentPanel(prompt, self._answer, self._clock)
        self.panels[prompt.request_id] = panel
        self.prompts_box.addWidget(panel)
        self._fit_prompts()
        self.stack.setCurrentIndex(1)
        self.raise_()
        self.activateWindow()
        if self.controller is not None:
            self.controller.mark_shown(prompt.request_id)

    def _fit_prompts(self) -> None:
        """Show the prompts' area only with prompts, and at most about half the window:
        the log and chat keep their room; more prompts scroll."""
        count = len(self.panels)
        self.prompts_scroll.setVisible(count > 0)
        if count:
            wanted = sum(p.sizeHint().height() for p in self.panels.values()) + 8 * count
            self.prompts_scroll.setFixedHeight(min(wanted, max(200, self.height() * 2 // 5)))

    def _answer(self, request_id: str, allowed: list[str]) -> None:
        if self.controller is not None:
            self.controller.answer(request_id, allowed)

    def close_prompt(self, decision: Decision) -> None:
        """A prompt was answered or timed out."""
        panel = self.panels.pop(decision.request_id, None)
        if panel is not None:
            panel.setParent(None)
            panel.deleteLater()
        self._fit_prompts()
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
            self.pause_button.setText(resume_text() if self._paused else pause_text())
        if status.viewers:
            parts = []
            for v in status.viewers:
                perms = _may_text(v.permissions)
                parts.append(
                    _(
                        "<b>{name}</b> ({role}) may {what}.",
                        name=_esc(v.name),
                        role=_esc(_role_word(v.role)),
                        what=perms,
                    )
                )
            self.who_label.setText(_("Connected:") + " " + " ".join(parts))
        elif status.phase == "reconnecting":
            self.who_label.setText(_("Connection lost — reconnecting…"))
        else:
            self.who_label.setText(_("Waiting for an engineer…"))
        controlled = bool(status.controlled_by) and status.phase != "ended" and not self._killed
        self.banner.setVisible(controlled)
        self.revoke_control.setVisible(controlled)
        if controlled:
            self.banner.setText(
                _(
                    "{names} can use your mouse and keyboard. Click “Take back control” to "
                    "stop that, or “Stop now” ({shortcut}) to end everything.",
                    names=_names(status.controlled_by),
                    shortcut=KILL_SHORTCUT,
                )
            )
        self._refresh_strip()
        if status.message:
            self._status_notice = status.message
            self.show_notice(status.message)

    def _refresh_strip(self) -> None:
        """One sentence at the top: who can see or control what, right now."""
        state, text = _strip(self.status, paused=self._paused, killed=self._killed)
        self.status_strip.setText(text)
        if self.status_strip.property("state") != state:
            self.status_strip.setProperty("state", state)
            self.status_strip.style().unpolish(self.status_strip)
            self.status_strip.style().polish(self.status_strip)

    def add_log_line(self, line: LogLine) -> None:
        """Append to the live log (plain words; never a raw event name)."""
        text = plain_text(line.text or "")
        if not text:
            return
        stamp = time.strftime("%H:%M", time.localtime(line.at_ms / 1000))
        item = QListWidgetItem(f"{stamp}   {text}")
        prefix = _secure_prefix()
        if line.event == "key.exchanged" and text.startswith(prefix):
            name = text[len(prefix) :]
            if name in self._codes:
                item.setText(_("{line} (code {code})", line=item.text(), code=self._codes[name]))
            else:
                self._key_items[name] = item  # the code follows: show_code completes it
        self.log_list.addItem(item)
        self.log_list.scrollToBottom()

    def show_code(self, viewer_id: str, name: str, code: str) -> None:
        """The verification code to compare with the engineer."""
        self._codes[name] = code
        item = self._key_items.pop(name, None)
        if item is not None:
            item.setText(_("{line} (code {code})", line=item.text(), code=code))
        if len(self._codes) == 1:
            self.code_caption.setText(
                _(
                    "Your secure-connection code with <b>{name}</b>. Ask them to read "
                    "theirs out: the numbers must be the same.",
                    name=_esc(name),
                )
            )
            self.code_label.setText(code)
            self.code_label.setAccessibleName(
                _("Code {digits}", digits=" ".join(code.replace(" ", "")))
            )
        else:
            self.code_caption.setText(
                _(
                    "Your secure-connection codes. Ask each person to read theirs out: the "
                    "numbers must be the same."
                )
            )
            self.code_label.setText(
                "<br>".join(
                    f"<span style='font-size:13px'>{_esc(n)}</span> {c}"
                    for n, c in self._codes.items()
                )
            )
        self.code_box.setVisible(True)

    def show_notice(self, text: str) -> None:
        """A one-line message for the client."""
        self.notice_label.setText(text)

    def show_end(self, outcome: SessionOutcome) -> None:
        """The end page: what happened, whether the log verified, the rating."""
        for request_id in list(self.panels):
            self.panels.pop(request_id).deleteLater()
        self._refresh_strip_ended()
        self.end_text.setText(outcome.final_text)
        v = outcome.verification
        details: list[str] = []
        if v is None:
            self.verify_label.setText(_("No record of this session was kept on this computer."))
            self.verify_label.setProperty("ok", None)
        elif v.ok:
            if "signature not checked" in v.summary:
                headline = _(
                    "✓ Your copy of what happened matches your company's record, but its "
                    "signature could not be checked on this computer."
                )
            else:
                headline = _(
                    "✓ Verified: your copy of what happened matches the record your "
                    "company signed. Nothing was added, removed or changed."
                )
            self.verify_label.setText(headline)
            self.verify_label.setProperty("ok", "true")
            details.append(_("Details: {summary}", summary=v.summary))
        else:
            self.verify_label.setText(
                _(
                    "⚠ Not verified: your copy of what happened does NOT match your company's "
                    "signed record. Keep the folder below and tell your IT or security contact."
                )
            )
            self.verify_label.setProperty("ok", "false")
            details.extend("• " + p for p in v.problems)
        if v is not None and outcome.log_dir:
            details.append(_("Your copy of the record: {path}", path=outcome.log_dir))
        self.verify_details.setText("\n".join(details))
        self.verify_label.style().unpolish(self.verify_label)
        self.verify_label.style().polish(self.verify_label)
        # After a kill the socket is closed, but the rating goes over REST with the
        # session token (can_rate); without a session there is nothing to rate.
        for b in self.star_buttons:
            b.setEnabled(outcome.can_rate)
        self.rating_comment.setEnabled(outcome.can_rate)
        if not outcome.can_rate:
            self.rating_done.setText(_("This session cannot be rated: the connection is closed."))
        self.stack.setCurrentIndex(2)

    def _refresh_strip_ended(self) -> None:
        self.status_strip.setText(_("Ended — nothing is being sent"))
        self.status_strip.setProperty("state", "ended")
        self.status_strip.style().unpolish(self.status_strip)
        self.status_strip.style().polish(self.status_strip)

    def _tick(self) -> None:
        for panel in self.panels.values():
            panel.tick()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window ends the session the safe way: the kill switch."""
        if self.controller is not None and self.stack.currentIndex() == 1:
            self.controller.kill("window_closed")
        super().closeEvent(event)


def _secure_prefix() -> str:
    """How the session words the key-exchange log line (agent/session), before the name."""
    return _("Secure connection set up with ")


def _star_word(score: int) -> str:
    words = (_("poor"), _("not great"), _("OK"), _("good"), _("excellent"))
    return words[score - 1]


def _role_word(role: str) -> str:
    words = {"engineer": _("engineer"), "observer": _("supervisor, watching only")}
    return words.get(role, role)


def _may_word(permission: str) -> str:
    words = {
        "view": _("see your screen"),
        "control": _("use your mouse and keyboard"),
        "video": _("video call"),
    }
    return words.get(permission, permission)


def _label(text: str, name: str) -> QLabel:
    """A word-wrapped label with an object name (the stylesheet styles by name)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # never HTML from a name (rich: explicit)
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


def _esc(text: str) -> str:
    """Untrusted text for a rich-text label: inert (plain_text), then HTML-escaped."""
    return html_text(text)


def _names(names: tuple[str, ...] | list[str]) -> str:
    """ "Erin", "Erin and Bob", "Erin, Bob and Ann"."""
    items = list(names)
    if len(items) <= 1:
        return "".join(items)
    return _("{first} and {last}", first=", ".join(items[:-1]), last=items[-1])


def _may_text(permissions: frozenset[str]) -> str:
    words = [_may_word(p) for p in sorted(permissions)]
    return _names(words) if words else _("do nothing yet (waiting for your answer)")


def _strip(status: SessionStatus | None, *, paused: bool, killed: bool) -> tuple[str, str]:
    """The status strip's (state, sentence) for the current situation."""
    if killed:
        return "ended", _("Stopped — nothing is being sent")
    if status is None:
        return "waiting", _("Nobody is connected — waiting for an engineer")
    if status.phase == "ended":
        return "ended", _("Ended — nothing is being sent")
    if paused or status.phase == "paused":
        return "paused", _("Paused — nothing is being sent")
    if status.phase == "reconnecting":
        return "waiting", _("Connection lost — reconnecting…")
    if status.controlled_by:
        return "control", ngettext(
            "{names} is controlling your mouse and keyboard",
            "{names} are controlling your mouse and keyboard",
            len(status.controlled_by),
            names=_names(status.controlled_by),
        )
    viewing = [v.name for v in status.viewers if "view" in v.permissions]
    if viewing:
        return "viewing", _("{names} can see your screen", names=_names(viewing))
    if status.viewers:
        names = _names([v.name for v in status.viewers])
        return "waiting", _("{names} is connected — sees nothing until you allow it", names=names)
    return "waiting", _("Nobody is connected — waiting for an engineer")
