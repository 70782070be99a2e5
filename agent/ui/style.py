"""The window's look and its small shared helpers: the stylesheet, a styled label, and
the escaping of untrusted text for rich-text labels. Every panel of the window uses
these, so they live apart from any one panel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from agent.plaintext import html_text

__all__ = ["STYLE", "esc", "label", "repolish"]

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


def label(text: str, name: str) -> QLabel:
    """A word-wrapped label with an object name (the stylesheet styles by name)."""
    out = QLabel(text)
    out.setTextFormat(Qt.TextFormat.PlainText)  # never HTML from a name (rich: explicit)
    out.setObjectName(name)
    out.setWordWrap(True)
    return out


def esc(text: str) -> str:
    """Untrusted text for a rich-text label: inert (plain_text), then HTML-escaped."""
    return html_text(text)


def repolish(widget: QWidget) -> None:
    """Re-apply the stylesheet after a property the stylesheet selects on changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)
