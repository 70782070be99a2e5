"""Text from the broker or an engineer reaches the client inert (issue 14, item 1):
the sanitiser itself, then every place the headless terminal and the Qt window show
a name, role, ticket title, chat line, notice or log line, over one hostile corpus."""

from __future__ import annotations

import io
import unicodedata

import pytest

from agent.consent import Prompt
from agent.headless import TerminalUI
from agent.observer import LogLine, SessionStatus, ViewerStatus
from agent.plaintext import BIDI_CONTROLS, html_text, is_plain, plain_text
from protocol.hostile import BENIGN_STRINGS, HOSTILE_STRINGS

NOW = 1_700_000_000_000


def _inert(text: str) -> bool:
    """No control character (C0, C1, DEL), no line break, no bidi formatting."""
    return not any(
        unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS or ch in "\u2028\u2029"
        for ch in text
    )


@pytest.mark.parametrize("text", HOSTILE_STRINGS)
def test_plain_text_neutralises_every_hostile_string(text: str) -> None:
    clean = plain_text(text)
    assert _inert(clean)
    assert plain_text(clean) == clean and is_plain(clean)  # idempotent
    assert "<" not in html_text(text) and ">" not in html_text(text)


@pytest.mark.parametrize("text", BENIGN_STRINGS)
def test_plain_text_keeps_every_script_and_emoji(text: str) -> None:
    assert plain_text(text) == text


def test_escape_sequence_shows_as_printed_text_and_long_text_is_cut() -> None:
    assert plain_text("\x1b[2Jhi") == "␛[2Jhi"
    assert plain_text("a\r\nb\nc") == "a b c"
    assert plain_text("\u202egnp.exe") == "gnp.exe"
    assert len(plain_text("x" * 10_000)) == 2000


def _prompt(text: str) -> Prompt:
    return Prompt(
        request_id="r1", viewer_id="v1", user_id="u1", user_name=text, role=text,
        ticket_id="T-1", ticket_title=text, permissions=("view", "control"),
        deadline_ms=NOW + 60_000,
    )  # fmt: skip


def _status(text: str) -> SessionStatus:
    viewer = ViewerStatus("v1", text, text, frozenset({"view", "control"}))
    return SessionStatus("live", "s1", "T-1", text, (viewer,), True, (text,), text)


@pytest.mark.parametrize("text", HOSTILE_STRINGS)
def test_headless_terminal_prints_hostile_text_inert(text: str) -> None:
    out = io.StringIO()
    ui = TerminalUI(out)
    calls = [
        lambda: ui.prompt(_prompt(text)),  # 5 lines: blank, who, recorded, deadline, question
        lambda: ui.chat(text, text, NOW),
        lambda: ui.log_line(LogLine(NOW, "broker", "chat", text)),
        lambda: ui.verification_code("v1", text, "12 34"),
        lambda: ui.call_requested("v1", text),
        lambda: ui.notice(text),
        lambda: ui.status(_status(text)),
    ]
    for call in calls:
        call()
    lines = out.getvalue().split("\n")
    assert lines[-1] == ""  # every line ends with our own newline, none comes from text
    lines = lines[:-1]
    assert len(lines) == 5 + len(calls) - 1, lines  # the text added no line of its own
    clean = plain_text(text)
    for index, line in enumerate(lines):
        assert _inert(line)
        assert index in (0, 2, 3) or clean in line, line  # blank, "recorded", "Answer within"
    assert lines[4].startswith(f"    Allow {clean} to ")  # the real question, once


# -- the Qt window ------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> object:
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    return existing if isinstance(existing, QApplication) else QApplication([])


def _shown(label: object) -> str:
    """What a QLabel puts on screen, as text (rich text rendered the way Qt does)."""
    from PySide6 import QtGui
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextDocument
    from PySide6.QtWidgets import QLabel

    assert isinstance(label, QLabel)
    fmt = label.textFormat()
    if fmt == Qt.TextFormat.PlainText:
        return label.text()
    if fmt == Qt.TextFormat.AutoText:  # only our own constant words may guess
        assert not QtGui.Qt.mightBeRichText(label.text()), label.text()
        return label.text()
    assert fmt == Qt.TextFormat.RichText
    doc = QTextDocument()
    doc.setHtml(label.text())
    return doc.toPlainText().replace("\u2028", " ").replace("\n", " ")


@pytest.mark.parametrize("text", HOSTILE_STRINGS)
def test_qt_window_shows_hostile_text_as_typed(app: object, text: str) -> None:
    from PySide6 import QtGui
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QLabel

    from agent.testing import MachineController
    from agent.ui.qt_window import AgentWindow

    assert isinstance(app, QApplication)
    controllers: list[MachineController] = []

    def start(_describe: object, _code: object, observer: object) -> MachineController:
        controllers.append(MachineController(observer, clock_ms=lambda: NOW))  # type: ignore[arg-type]
        return controllers[0]

    w = AgentWindow(start, clock_ms=lambda: NOW)  # type: ignore[arg-type]
    w.show()
    w.describe_edit.setPlainText("help")
    w.get_help.click()
    o = w.observer
    p = _prompt(text)
    controllers[0].consent.request(
        request_id=p.request_id, viewer_id=p.viewer_id, user_id=p.user_id,
        user_name=text, role=text, ticket_id=p.ticket_id, ticket_title=text,
        permissions=p.permissions, now_ms=NOW,
    )  # fmt: skip
    o.prompt(p)
    o.status(_status(text))
    o.chat(text, text, NOW)
    o.log_line(LogLine(NOW, "broker", "chat", text))
    o.verification_code("v1", text, "12 34")
    o.call_requested("v1", text)
    o.notice(text)
    app.processEvents()
    clean = plain_text(text)
    panel = w.panels["r1"]
    places = {
        "consent prompt": " ".join(_shown(lb) for lb in panel.findChildren(QLabel)),
        "who is connected": _shown(w.who_label),
        "control banner": _shown(w.banner),
        "status strip": _shown(w.status_strip),
        "video call ring": _shown(w.ring_label),
        "verification code caption": _shown(w.code_caption),
        "notice": _shown(w.notice_label),
        "chat": w.chat_view.item(w.chat_view.count() - 1).text(),
        "live log": w.log_list.item(w.log_list.count() - 1).text(),
    }
    for place, shown in places.items():
        assert clean in shown, f"{place}: {shown!r}"  # markup shows as typed, not rendered
        assert _inert(shown), f"{place}: {shown!r}"
    for label in w.findChildren(QLabel):  # nowhere may a label render HTML by guess
        if label.textFormat() == Qt.TextFormat.AutoText:
            assert not QtGui.Qt.mightBeRichText(label.text()), label.objectName()
    w.close()
    w.deleteLater()
