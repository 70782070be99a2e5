"""``AgentSession``'s parts, each built alone over a bare ``SessionCore`` (no socket,
no loop): the consent part answering a prompt, the keys part refusing to wrap for a
viewer without ``view``."""

from __future__ import annotations

from typing import Any

from agent.config import AgentConfig
from agent.session.calls import CallGlue
from agent.session.consent_flow import ConsentFlow
from agent.session.core import SessionCore
from agent.session.keys import KeyExchange
from agent.testing import RecordingObserver
from protocol.messages import ConsentGrant, ConsentRequest, Ticket, User

NOW = 1_700_000_000_000
PEM = "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"


def core() -> tuple[SessionCore, RecordingObserver, list[Any]]:
    observer = RecordingObserver()
    config = AgentConfig(broker_url="https://broker.example", ca_pem=PEM, describe="help")
    c = SessionCore(config, observer, clock_ms=lambda: NOW)
    sent: list[Any] = []
    c.send = sent.append  # type: ignore[method-assign]  # what would go to the broker
    return c, observer, sent


def request(*permissions: str) -> ConsentRequest:
    return ConsentRequest(
        request_id="c1",
        viewer_id="v1",
        user=User(id="u1", name="Eve", role="engineer"),
        ticket=Ticket(id="t1", title="Printer"),
        permissions=permissions,
        expires_ms=NOW + 60_000,
    )


def test_consent_part_prompts_and_sends_the_clients_answer() -> None:
    c, observer, sent = core()
    flow = ConsentFlow(c, KeyExchange(c), CallGlue(c))
    flow.on_request(request("view", "control"), NOW)
    (prompt,) = observer.prompts
    flow.mark_shown(prompt.request_id)
    flow.answer(prompt.request_id, ("view",))
    grants = [m for m in sent if isinstance(m, ConsentGrant)]
    assert grants == [ConsentGrant(request_id="c1", viewer_id="v1", permissions=("view",))]
    assert c.consent.may("v1", "view") and not c.consent.may("v1", "control")


def test_keys_part_never_wraps_for_a_viewer_without_view() -> None:
    c, _, sent = core()
    KeyExchange(c).maybe_wrap("v1")  # no keys, no grant: nothing at all is sent
    assert sent == []
