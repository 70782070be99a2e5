"""The client's walkthrough in the Qt window (offscreen), in English and Russian
(issue 20): start page with the name, first prompt (recorded, short ticket), a second
prompt during control (the layout keeps the log and chat), the end page with the rating.
Screenshots go to test-artifacts/; docs/guides/client.md shows some. Also the accessible
names the window gives its controls (issue 22)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QRadioButton

from agent import i18n
from agent.observer import LogLine, SessionOutcome
from agent.testing import MachineController
from agent.ui.bridge import QtObserver
from agent.ui.qt_window import AgentWindow

NOW = 1_700_000_000_000


@pytest.fixture(scope="module")
def app() -> QApplication:
    existing = QApplication.instance()
    return existing if isinstance(existing, QApplication) else QApplication([])


@pytest.fixture(params=["en", "ru"])
def lang(request: pytest.FixtureRequest) -> Iterator[str]:
    i18n.set_language(request.param)
    try:
        yield request.param
    finally:
        i18n.set_language("en")


def test_client_walkthrough(app: QApplication, lang: str, artifacts_dir: Path) -> None:
    controllers: list[MachineController] = []

    def start(describe: str | None, code: str | None, observer: QtObserver) -> Any:
        controllers.append(MachineController(observer, clock_ms=lambda: NOW))
        return controllers[-1]

    w = AgentWindow(start, clock_ms=lambda: NOW, default_name="")
    w.resize(760, 640)
    w.show()
    app.processEvents()
    ru = lang == "ru"
    assert (w.get_help.text() == "Получить помощь") is ru
    w.name_edit.setText("Анна Петрова" if ru else "Anna Petrova")
    w.describe_edit.setPlainText("Принтер не печатает" if ru else "My printer does not print")
    assert w.grab().save(str(artifacts_dir / f"{lang}-1-start.png"))
    w.get_help.click()
    app.processEvents()
    assert w.client_name in ("Анна Петрова", "Anna Petrova")
    c = controllers[0]
    c.offer("c1", "v1", "Erin Engineer", "view", "control")
    app.processEvents()
    panel = w.panels["c1"]
    text = " ".join(lbl.text() for lbl in panel.findChildren(type(w.status_strip)))
    assert ("записывается" if ru else "recorded") in text
    assert "T-42" in text
    assert w.grab().save(str(artifacts_dir / f"{lang}-2-prompt.png"))
    for perm in ("view", "control"):
        radio = panel.findChild(QRadioButton, f"allow_{perm}")
        assert radio is not None
        radio.setChecked(True)
    panel.confirm.click()
    app.processEvents()
    for i in range(8):
        w.add_log_line(LogLine(NOW + i, "client", "input.applied", f"line {i}"))
    c.offer("c2", "v2", "Sam Supervisor", "view")
    app.processEvents()
    assert ("подключиться" if ru else "asks to connect") in " ".join(
        lbl.text() for lbl in w.panels["c2"].findChildren(type(w.status_strip))
    )
    # Two things at once (control banner, a second prompt): the log keeps its room.
    assert w.log_list.height() >= 100, w.log_list.height()
    assert w.grab().save(str(artifacts_dir / f"{lang}-3-control-and-second-prompt.png"))
    w.observer.ended(SessionOutcome("ended_by_engineer", "engineer"))
    app.processEvents()
    w.star_buttons[4].click()
    w.rating_comment.setText("Спасибо!" if ru else "Thank you!")
    assert w.grab().save(str(artifacts_dir / f"{lang}-4-end-and-rating.png"))
    w.rating_send.click()
    app.processEvents()
    assert c.ratings and c.ratings[-1][1] in ("Спасибо!", "Thank you!")
    names = {x.accessibleName() for x in (w.name_edit, w.describe_edit, w.rating_comment)}
    assert "" not in names
    w.close()
