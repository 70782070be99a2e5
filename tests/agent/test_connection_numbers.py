"""Issue 14, item 4 (agent side): one engineer opening two viewer connections is shown
as two distinct connections in the prompt (terminal and window), never as the same
name asked twice."""

from __future__ import annotations

import io

from agent.consent import ConsentMachine
from agent.headless import TerminalUI

NOW = 1_700_000_000_000


def _ask(machine: ConsentMachine, request_id: str, viewer_id: str) -> object:
    return machine.request(
        request_id=request_id, viewer_id=viewer_id, user_id="u1", user_name="Eve Engineer",
        role="engineer", ticket_id="T-1", ticket_title="Printer", permissions=["view"],
        now_ms=NOW,
    )  # fmt: skip


def test_each_viewer_connection_has_its_own_number() -> None:
    machine = ConsentMachine()
    first = _ask(machine, "r1", "v1")
    again = _ask(machine, "r2", "v1")  # the same connection asks again: same number
    second = _ask(machine, "r3", "v2")
    assert [p.connection for p in (first, again, second)] == [1, 1, 2]  # type: ignore[attr-defined]
    assert second.display_name == "Eve Engineer · #2"  # type: ignore[attr-defined]


def test_terminal_prompts_tell_two_connections_apart() -> None:
    machine = ConsentMachine()
    out = io.StringIO()
    ui = TerminalUI(out)
    ui.prompt(_ask(machine, "r1", "v1"))  # type: ignore[arg-type]
    ui.prompt(_ask(machine, "r2", "v2"))  # type: ignore[arg-type]
    ui.handle_line("n")  # no session attached: answering only moves to the next prompt
    text = out.getvalue()
    assert "=== Eve Engineer · #1 (engineer" in text
    assert "Allow Eve Engineer · #1 to see your screen? [y/N]" in text


def test_window_prompt_shows_the_connection_number() -> None:
    from PySide6.QtWidgets import QApplication, QLabel

    from agent.ui.consent_panel import ConsentPanel

    app = QApplication.instance() or QApplication([])
    machine = ConsentMachine()
    _ask(machine, "r1", "v1")
    panel = ConsentPanel(_ask(machine, "r2", "v2"), lambda _r, _a: None, lambda: NOW)  # type: ignore[arg-type]
    app.processEvents()
    text = " ".join(label.text() for label in panel.findChildren(QLabel))
    assert "Eve Engineer · #2" in text
    panel.deleteLater()
