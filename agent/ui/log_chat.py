"""The live log and the chat, side by side. The log shows plain words, never a raw
event name (G7: the client sees everything the engineer does); the "secure
connection" line carries the verification code once it is known."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agent.i18n import _
from agent.observer import LogLine
from agent.plaintext import plain_text
from agent.ui.style import label
from agent.ui.words import secure_prefix

__all__ = ["LogChatPanel"]


class LogChatPanel(QWidget):
    """``send(text)`` sends a chat line and returns whether there was a session."""

    def __init__(self, send: Callable[[str], bool]) -> None:
        super().__init__()
        self._send = send
        self._key_items: dict[str, QListWidgetItem] = {}  # "secure connection" lines by name
        lower = QHBoxLayout(self)
        lower.setContentsMargins(0, 0, 0, 0)
        lower.setSpacing(10)
        log_col = QVBoxLayout()
        log_col.addWidget(label(_("What is happening (kept on this computer)"), "sectionTitle"))
        self.log_list = QListWidget()
        self.log_list.setObjectName("liveLog")
        self.log_list.setAccessibleDescription(
            _("Everything the engineer does, as it happens; a copy stays on this computer.")
        )
        self.log_list.setAccessibleName(_("What is happening"))
        self.log_list.setMinimumHeight(110)
        self.log_list.setWordWrap(True)
        log_col.addWidget(self.log_list, 1)
        chat_col = QVBoxLayout()
        chat_col.addWidget(label(_("Chat with the engineer"), "sectionTitle"))
        self.chat_view = QListWidget()
        self.chat_view.setObjectName("chatView")
        self.chat_view.setAccessibleDescription(_("Messages between you and the engineer."))
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
        self.chat_send = QPushButton(_("Send"))
        self.chat_send.setObjectName("chatSend")
        self.chat_send.setAccessibleDescription(_("Sends your message to the engineer."))
        self.chat_send.clicked.connect(self._on_chat)
        chat_row.addWidget(self.chat_edit, 1)
        chat_row.addWidget(self.chat_send)
        chat_col.addLayout(chat_row)
        lower.addLayout(log_col, 3)
        lower.addLayout(chat_col, 2)

    def add_log_line(self, line: LogLine, codes: Mapping[str, str]) -> None:
        """Append to the live log; ``codes`` are the verification codes known so far."""
        text = plain_text(line.text or "")
        if not text:
            return
        stamp = time.strftime("%H:%M", time.localtime(line.at_ms / 1000))
        item = QListWidgetItem(f"{stamp}   {text}")
        prefix = secure_prefix()
        if line.event == "key.exchanged" and text.startswith(prefix):
            name = text[len(prefix) :]
            if name in codes:
                item.setText(_("{line} (code {code})", line=item.text(), code=codes[name]))
            else:
                self._key_items[name] = item  # the code follows: code_known completes it
        self.log_list.addItem(item)
        self.log_list.scrollToBottom()

    def code_known(self, name: str, code: str) -> None:
        """Complete the "secure connection" line of ``name`` with its code."""
        item = self._key_items.pop(name, None)
        if item is not None:
            item.setText(_("{line} (code {code})", line=item.text(), code=code))

    def add_chat(self, who: str, text: str) -> None:
        """A chat line from the engineer (shown as plain text)."""
        self.chat_view.addItem(plain_text(f"{who}: {text}"))

    def _on_chat(self) -> None:
        text = self.chat_edit.text().strip()
        if text and self._send(text):
            self.chat_view.addItem(_("You: {text}", text=text))
            self.chat_edit.clear()
