"""What the client reads about a transfer or an invitation (issue 19): the status
line while the prompt is open names both engineers, and the live log says who handed
over to whom — in English and in Russian."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from agent.consent import ConsentMachine, Prompt
from agent.headless import TerminalUI
from agent.i18n import set_language
from agent.locallog import describe
from agent.session.consent_flow import _asking
from protocol import messages as m


@pytest.fixture
def lang() -> Iterator[None]:
    yield
    set_language("en")


def _request(kind: str | None) -> m.ConsentRequest:
    return m.ConsentRequest(
        request_id="c2",
        viewer_id="v2",
        user=m.User(id="u-bob", name="Bob New", role="engineer"),
        ticket=m.Ticket(id="t1", title="VPN"),
        permissions=("view",),
        expires_ms=1,
        handover=None
        if kind is None
        else m.Handover(kind=kind, by=m.User(id="u-ann", name="Ann Old", role="engineer")),
    )


@pytest.mark.usefixtures("lang")
def test_the_prompt_status_names_both_engineers() -> None:
    set_language("en")
    assert _asking(_request(None)) == "Bob New asks to connect"
    transfer = _asking(_request("transfer"))
    assert "Ann Old" in transfer and "Bob New" in transfer and "over" in transfer
    invite = _asking(_request("invite"))
    assert "Ann Old" in invite and "Bob New" in invite and "colleague" in invite
    set_language("ru")
    ru = _asking(_request("transfer"))
    assert "Ann Old" in ru and "Bob New" in ru and "передаёт" in ru


@pytest.mark.usefixtures("lang")
def test_the_live_log_shows_the_hand_over() -> None:
    set_language("en")
    detail = {"from_name": "Ann Old", "to_name": "Bob New", "consent": "granted"}
    text = describe("session.transferred", "client", detail)
    assert text == "Ann Old handed the session over to Bob New"
    refused = describe("session.transfer_refused", "client", detail)
    assert "Ann Old" in refused and "Bob New" in refused
    left = describe("viewer.left", "engineer:u-ann", {"name": "Ann Old", "reason": "transferred"})
    assert left == "Ann Old handed the session over and left"
    set_language("ru")
    assert describe("session.transferred", "client", detail) == (
        "Ann Old передал(а) сеанс сотруднику Bob New"
    )


def _prompt(kind: str) -> Prompt:
    machine = ConsentMachine()
    return machine.request(
        request_id="r1",
        viewer_id="v2",
        user_id="u-bob",
        user_name="Bob New",
        role="engineer",
        ticket_id="T-1",
        ticket_title="VPN",
        permissions=["view", "control"],
        now_ms=1_700_000_000_000,
        handover=kind,
        handover_by="Ann Old",
    )


@pytest.mark.usefixtures("lang")
def test_the_terminal_prompt_says_who_hands_over() -> None:
    set_language("en")
    out = io.StringIO()
    TerminalUI(out).prompt(_prompt("transfer"))
    text = out.getvalue()
    assert "Ann Old hands your session over to Bob New" in text
    assert "Ann Old leaves the session" in text


@pytest.mark.usefixtures("lang")
def test_the_window_prompt_says_who_invites() -> None:
    from PySide6.QtWidgets import QApplication, QLabel

    from agent.ui.consent_panel import ConsentPanel

    set_language("en")
    app = QApplication.instance() or QApplication([])
    panel = ConsentPanel(_prompt("invite"), lambda _r, _a: None, lambda: 1_700_000_000_000)
    app.processEvents()
    [note] = [w for w in panel.findChildren(QLabel) if w.objectName() == "promptHandover"]
    assert "Ann Old invites a colleague, Bob New" in note.text()
    plain = ConsentPanel(
        ConsentMachine().request(
            request_id="r2", viewer_id="v1", user_id="u", user_name="Eve", role="engineer",
            ticket_id="T", ticket_title="x", permissions=["view"], now_ms=0,
        ),
        lambda _r, _a: None,
        lambda: 0,
    )  # fmt: skip
    assert not [w for w in plain.findChildren(QLabel) if w.objectName() == "promptHandover"]
    panel.deleteLater()
    plain.deleteLater()
