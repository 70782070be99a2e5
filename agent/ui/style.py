"""The window's look and its small shared helpers: the stylesheet, a styled label, and
the escaping of untrusted text for rich-text labels. Every panel of the window uses
these, so they live apart from any one panel. The look follows the system's font size
and high-contrast setting (:func:`app_stylesheet`, docs/accessibility.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from agent.plaintext import html_text

__all__ = [
    "STYLE",
    "app_stylesheet",
    "esc",
    "is_high_contrast",
    "label",
    "repolish",
    "stylesheet",
]

#: The whole window's look: calm greys and blues, one red (Stop now), amber only while
#: someone controls the mouse and keyboard. The status strip's colour follows its
#: ``state`` property (idle, waiting, viewing, control, paused, ended). Font sizes are
#: ``{pt*N}`` placeholders: multiples of the system's font size (:func:`stylesheet`), so
#: a large-text setting makes every text larger, never fixed pixels.
_COLOURS = """
QMainWindow, QStackedWidget > QWidget { background: #f6f7f9; }
QWidget { color: #1f2933; }
QLabel#pageTitle { color: #102a43; }
QLabel#hint, QLabel#sectionHint { color: #52606d; }
QLabel#sectionTitle { color: #243b53; }
QLabel#statusStrip { background: #e4e7eb; color: #243b53; }
QLabel#statusStrip[state="waiting"] { background: #e4e7eb; color: #243b53; }
QLabel#statusStrip[state="viewing"] { background: #dbeafe; color: #1e3a8a; }
QLabel#statusStrip[state="control"] { background: #f59e0b; color: #1f1300; }
QLabel#statusStrip[state="paused"] { background: #e0e7ff; color: #312e81; }
QLabel#statusStrip[state="ended"] { background: #d9e2ec; color: #334e68; }
QLabel#controlBanner { background: #fff4e0; color: #7a4100; border: 1px solid #f59e0b; }
QFrame#controlBar, QFrame#codeBox, QFrame#ringBox, QFrame[card="true"], QGroupBox {
    background: white; border: 1px solid #d9e2ec;
}
QLabel#verificationCode { color: #102a43; }
QPushButton { background: white; border: 1px solid #bcccdc; color: #243b53; }
QPushButton:hover { background: #f0f4f8; }
QPushButton:disabled { color: #9aa5b1; background: #f0f4f8; }
QPushButton#getHelpButton, QPushButton#confirmConsent, QPushButton#ringAccept,
QPushButton#chatSend, QPushButton#codeButton {
    background: #2563eb; border-color: #2563eb; color: white;
}
QPushButton#getHelpButton:disabled, QPushButton#confirmConsent:disabled {
    background: #93b4f5; border-color: #93b4f5;
}
QPushButton#killButton { background: #c62828; border: 1px solid #a31f1f; color: white; }
QPushButton#killButton:hover { background: #b71c1c; }
QPushButton#killButton:disabled { background: #9aa5b1; border-color: #9aa5b1; color: white; }
QPushButton#revokeControlButton { background: #fff4e0; border-color: #f59e0b; color: #7a4100; }
QPushButton[star="true"] { color: #d69e00; }
QLineEdit, QPlainTextEdit, QListWidget { background: white; border: 1px solid #bcccdc; }
QLabel#verifyLabel[ok="true"] { color: #14532d; }
QLabel#verifyLabel[ok="false"] { color: #8a1c1c; }
QLabel#startError { color: #c62828; }
"""

#: Sizes, weights and shapes: the same in both looks.
_SHAPES = """
QWidget { font-size: {pt}pt; }
QLabel#pageTitle { font-size: {pt17}pt; font-weight: 600; }
QLabel#sectionTitle { font-size: {pt11}pt; font-weight: 600; }
QLabel#statusStrip { font-size: {pt14}pt; font-weight: 600; padding: 12px 16px; border-radius: 8px; }
QLabel#controlBanner { border-radius: 6px; padding: 6px 10px; }
QFrame#controlBar, QFrame#codeBox, QFrame#ringBox, QFrame[card="true"], QGroupBox {
    border-radius: 8px;
}
QGroupBox { margin-top: 14px; padding: 10px 8px 8px 8px; font-weight: 600; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; }
QLabel#verificationCode {
    font-size: {pt20}pt; font-weight: 700; letter-spacing: 2px;
    font-family: "DejaVu Sans Mono", monospace;
}
QPushButton { border-radius: 6px; padding: 7px 14px; }
QPushButton#getHelpButton, QPushButton#confirmConsent, QPushButton#ringAccept,
QPushButton#chatSend, QPushButton#codeButton { font-weight: 600; }
QPushButton#killButton { font-weight: 700; font-size: {pt12}pt; padding: 12px 20px; border-radius: 8px; }
QPushButton#pauseButton { font-weight: 600; padding: 10px 16px; }
QPushButton#revokeControlButton { font-weight: 600; }
QPushButton[star="true"] { font-size: {pt15}pt; padding: 6px 10px; }
QLineEdit, QPlainTextEdit, QListWidget { border-radius: 6px; padding: 4px; }
QListWidget#liveLog::item { padding: 2px 0; }
"""

#: High contrast: no colour of ours — the system palette's (black on white, white on
#: black, …) shows everywhere; outlines in the text colour keep the parts apart, and
#: the kill button stands out by a thick border and weight, not by red alone.
_HIGH_CONTRAST = """
QFrame#controlBar, QFrame#codeBox, QFrame#ringBox, QFrame[card="true"], QGroupBox,
QLabel#statusStrip, QLabel#controlBanner, QLineEdit, QPlainTextEdit, QListWidget {
    border: 1px solid palette(window-text);
}
QPushButton { border: 2px solid palette(button-text); }
QPushButton#killButton { border: 4px solid palette(button-text); }
QPushButton:focus, QLineEdit:focus, QPlainTextEdit:focus, QListWidget:focus {
    border: 3px solid palette(highlight);
}
"""

#: The default system font size the look was drawn for (13 px ≈ 9.75 pt at 96 dpi).
BASE_PT = 9.75


def stylesheet(font_pt: float = BASE_PT, *, high_contrast: bool = False) -> str:
    """The window's stylesheet for the system font size ``font_pt`` (the app font's
    point size: large-text settings raise it) and the high-contrast choice."""
    base = max(font_pt, 6.0)
    sizes = {
        "pt": base,
        "pt11": base * 14 / 13,
        "pt12": base * 15 / 13,
        "pt14": base * 18 / 13,
        "pt15": base * 20 / 13,
        "pt17": base * 22 / 13,
        "pt20": base * 26 / 13,
    }
    shapes = _SHAPES
    for key in sorted(sizes, key=len, reverse=True):
        shapes = shapes.replace("{" + key + "}", f"{sizes[key]:.2f}")
    return shapes + (_HIGH_CONTRAST if high_contrast else _COLOURS)


#: The look at the default size (kept for callers that style one widget alone).
STYLE = stylesheet()


def _luminance(colour: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF())
        + 0.7152 * channel(colour.greenF())
        + 0.0722 * channel(colour.blueF())
    )


def is_high_contrast(palette: QPalette, env: Mapping[str, str] | None = None) -> bool:
    """Whether the system asks for high contrast: ``CLEARPANE_HIGH_CONTRAST=1`` (or 0
    to refuse), else a palette whose window is pure black or pure white with its text
    the opposite extreme (the Windows, GNOME and KDE high-contrast themes; the ordinary
    light and dark palettes are greys, not extremes)."""
    env = os.environ if env is None else env
    forced = env.get("CLEARPANE_HIGH_CONTRAST", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.WindowText)
    lw, lt = _luminance(window), _luminance(text)
    extreme = min(lw, 1 - lw) < 0.005 and min(lt, 1 - lt) < 0.005
    return extreme and (max(lw, lt) + 0.05) / (min(lw, lt) + 0.05) >= 19


def app_stylesheet() -> str:
    """:func:`stylesheet` for the running application's font and palette."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return STYLE
    font = app.font()
    pt = font.pointSizeF()
    if pt <= 0:  # a pixel-sized font: 96 dpi points
        pt = font.pixelSize() * 0.75
    return stylesheet(pt, high_contrast=is_high_contrast(app.palette()))


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
