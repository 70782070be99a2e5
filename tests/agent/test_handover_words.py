"""What the client reads about a transfer or an invitation (issue 19): the status
line while the prompt is open names both engineers, and the live log says who handed
over to whom — in English and in Russian."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
