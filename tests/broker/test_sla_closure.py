"""Closure confirmed by the client and e-mail (issue 19), on the real broker with a
controlled clock and a REAL SMTP server (aiosmtpd on 127.0.0.1): the client confirms
or reopens a resolved ticket through the agent's API; without an answer the scheduler
closes it after the organisation's time (72 h by default); the client is e-mailed
where the organisation enables it; escalations reach staff by e-mail; a mail server
that is down is retried from the durable outbox."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from broker.escalation import SLA_SCHEDULER
from broker.mail import MAILER
from broker.store import queries
from broker.store.db import DB
from broker.store.sla_models import MailOutboxModel
from broker.testing import FakeClock, RunningBroker, running_broker
from tests.broker.conftest import agent_request, put_contract, staff
from tests.helpers import eventually


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Inbox:
    """What the SMTP server received."""

    messages: list[tuple[list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        return [msg for rcpts, msg in self.messages if address in rcpts]


class SmtpServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that can be stopped and started
    again on the same port (a new controller: aiosmtpd's does not restart)."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = _free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A running :class:`SmtpServer`, stopped afterwards."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _admin(b: RunningBroker) -> str:
    return await b.login(b.admin_username, b.admin_password)


async def _patch(b: RunningBroker, token: str, tid: str, **fields: Any) -> dict[str, Any]:
    status, body, _ = await b.request("PATCH", f"/api/v1/tickets/{tid}", token=token, json=fields)
    assert status == 200, body
    result: dict[str, Any] = body
    return result


async def test_the_client_confirms_or_reopens_in_the_agent(
    broker: RunningBroker, clock: FakeClock
) -> None:
    erin = await staff(broker, "erin", "engineer")
    _, agent_token = await agent_request(broker)
    auth = {"Authorization": f"Bearer {agent_token}"}
    status, view, _ = await broker.request("GET", "/api/v1/agent/ticket", headers=auth)
    assert status == 200 and view["status"] == "new" and view["auto_close_at"] is None
    tid = view["ticket_id"]
    status, _, _ = await broker.request(
        "POST", "/api/v1/agent/closure", headers=auth, json={"accept": True}
    )
    assert status == 409  # nothing to confirm before the engineer resolves it
    await _patch(broker, erin, tid, status="resolved", resolution="Toner replaced")
    status, view, _ = await broker.request("GET", "/api/v1/agent/ticket", headers=auth)
    assert view["status"] == "resolved" and view["resolution"] == "Toner replaced"
    assert view["auto_close_at"] == "2027-01-18T08:00:00.000Z"  # 72 h of calendar time
    status, view, _ = await broker.request(
        "POST",
        "/api/v1/agent/closure",
        headers=auth,
        json={"accept": False, "comment": "Still streaky"},
    )
    assert status == 200 and view["status"] == "in_progress"
    await _patch(broker, erin, tid, status="resolved")
    status, view, _ = await broker.request(
        "POST", "/api/v1/agent/closure", headers=auth, json={"accept": True}
    )
    assert status == 200 and view["status"] == "closed"
    _, history, _ = await broker.request("GET", f"/api/v1/tickets/{tid}/history", token=erin)
    moves = [(h["field"], h["to"], h["actor_id"]) for h in history["history"]]
    assert ("client_comment", "Still streaky", None) in moves
    statuses = [to for f, to, _ in moves if f == "status"]
    assert statuses == ["new", "resolved", "in_progress", "resolved", "closed"]
    bad = {"Authorization": "Bearer not-a-token"}
    status, _, _ = await broker.request("GET", "/api/v1/agent/ticket", headers=bad)
    assert status == 401


async def test_only_the_tickets_latest_session_answers_the_closure(
    broker: RunningBroker, clock: FakeClock
) -> None:
    """Review of 2026-12-04: the agent's token is accepted expired (the ticket is
    resolved long after the session), so an earlier session's client (another person
    invited to the same ticket) could close or reopen it. Only the latest answers."""
    erin = await staff(broker, "erin", "engineer")
    _, first_token = await agent_request(broker)
    first = {"Authorization": f"Bearer {first_token}"}
    _, view, _ = await broker.request("GET", "/api/v1/agent/ticket", headers=first)
    tid = view["ticket_id"]
    status, invite, _ = await broker.request(
        "POST", f"/api/v1/tickets/{tid}/invitations", token=erin, json={"ttl_s": 600}
    )
    assert status == 201, invite
    clock.advance(1)
    status, second_made, _ = await broker.request(
        "POST", "/api/v1/agent/redeem", json={"code": invite["code"], "client_name": "Dave"}
    )
    assert status == 201, second_made
    second = {"Authorization": f"Bearer {second_made['token']}"}
    await _patch(broker, erin, tid, status="resolved", resolution="Toner replaced")
    for method, path, body in (
        ("GET", "/api/v1/agent/ticket", None),
        ("POST", "/api/v1/agent/closure", {"accept": False, "comment": "not me"}),
    ):
        status, err, _ = await broker.request(method, path, headers=first, json=body)
        assert status == 403 and err["error"]["code"] == "forbidden", err
    status, view, _ = await broker.request(
        "POST", "/api/v1/agent/closure", headers=second, json={"accept": True}
    )
    assert status == 200 and view["status"] == "closed"


async def test_a_resolved_ticket_closes_by_itself_after_the_organisations_time(
    broker: RunningBroker, clock: FakeClock
) -> None:
    admin = await _admin(broker)
    erin_login = await broker.create_user("erin", "engineer")
    erin = await broker.login(*erin_login)
    status, _, _ = await broker.request(
        "PUT",
        "/api/v1/sla/closure/acme",
        token=admin,
        json={"auto_close_after_s": 7200, "email_client": False},
    )
    assert status == 200
    made = {}
    for org in ("acme", "other"):
        _, t, _ = await broker.request(
            "POST", "/api/v1/tickets", token=erin, json={"title": org, "organisation": org}
        )
        made[org] = t["id"]
        await _patch(broker, erin, t["id"], status="resolved")
    scheduler = broker.app[SLA_SCHEDULER]
    clock.advance(7199)
    assert (await scheduler.run_once()).closed == []
    clock.advance(1)
    assert (await scheduler.run_once()).closed == [made["acme"]]
    clock.advance(72 * 3600 - 7200 - 1)
    assert (await scheduler.run_once()).closed == []  # the default: 72 h
    clock.advance(1)
    assert (await scheduler.run_once()).closed == [made["other"]]
    erin = await broker.login(*erin_login)
    _, history, _ = await broker.request(
        "GET", f"/api/v1/tickets/{made['acme']}/history", token=erin
    )
    last = history["history"][-1]
    assert (last["field"], last["from"], last["to"], last["actor_id"]) == (
        "status",
        "resolved",
        "closed",
        None,
    )


async def test_escalations_and_the_clients_progress_go_by_real_smtp(
    tmp_path: Path, clock: FakeClock, smtp: SmtpServer
) -> None:
    inbox = smtp.inbox
    async with running_broker(
        tmp_path,
        clock=clock,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_from="desk@clearpane.test",
    ) as b:
        admin = await _admin(b)
        await put_contract(b, admin, "standard", response_s=600, resolution_s=3600)
        erin = await staff(b, "erin", "engineer")
        erin_user = await queries.get_user_by_username(b.app[DB], "erin")
        assert erin_user is not None
        for path, body in (
            (f"/api/v1/sla/addresses/{erin_user.id}", {"email": "erin@desk.test"}),
            ("/api/v1/sla/closure/acme", {"auto_close_after_s": 3600, "email_client": True}),
        ):
            status, answer, _ = await b.request("PUT", path, token=admin, json=body)
            assert status == 200, answer
        _, t, _ = await b.request(
            "POST",
            "/api/v1/tickets",
            token=erin,
            json={"title": "Scanner", "organisation": "acme", "tier": "standard"},
        )
        tid = t["id"]
        status, _, _ = await b.request(
            "PUT", f"/api/v1/tickets/{tid}/sla", token=erin, json={"client_email": "ann@acme.test"}
        )
        assert status == 200
        await _patch(b, erin, tid, assignee=erin_user.id)
        await _patch(b, erin, tid, status="in_progress")
        clock.advance(1800)  # half the resolution time: the assignee's level
        await b.app[SLA_SCHEDULER].run_once()
        [alert] = await eventually(lambda: inbox.to("erin@desk.test") or None, timeout=10)
        assert alert["From"] == "desk@clearpane.test"
        assert "Scanner" in alert["Subject"] and "50 %" in alert["Subject"]
        assert "Scanner" in alert.get_payload(decode=True).decode()  # type: ignore[union-attr]

        # The client hears where the request stands (once per status change).
        [progress] = await eventually(lambda: inbox.to("ann@acme.test") or None, timeout=10)
        assert "An engineer is working on it." in progress["Subject"]
        await b.app[SLA_SCHEDULER].run_once()
        await _patch(b, erin, tid, status="waiting_for_client")
        await b.app[SLA_SCHEDULER].run_once()
        await eventually(lambda: len(inbox.to("ann@acme.test")) == 2 or None, timeout=10)
        assert "waiting for your answer" in inbox.to("ann@acme.test")[1]["Subject"]
        await _patch(b, erin, tid, status="resolved", resolution="Driver updated")
        await b.app[SLA_SCHEDULER].run_once()
        await eventually(lambda: len(inbox.to("ann@acme.test")) == 3 or None, timeout=10)
        asked = inbox.to("ann@acme.test")[2]
        assert "Resolved" in asked["Subject"]
        text = asked.get_payload(decode=True).decode()  # type: ignore[union-attr]
        assert "Driver updated" in text and "1 h" in text and "Решение" in text

        # The mail server goes down: the next message waits in the outbox and is retried.
        smtp.stop()
        clock.advance(3600)
        result = await b.app[SLA_SCHEDULER].run_once()
        assert result.closed == [tid]
        mailer = b.app[MAILER]
        await mailer.run_once()

        async def pending() -> MailOutboxModel | None:
            async with b.app[DB].sessions() as s:
                row = await s.scalar(
                    select(MailOutboxModel).where(
                        MailOutboxModel.state == "pending", MailOutboxModel.attempts > 0
                    )
                )
                return row

        waiting: MailOutboxModel = await eventually(
            pending, timeout=10, what="a failed attempt recorded"
        )
        assert waiting.to_addr == "ann@acme.test" and waiting.last_error
        smtp.start()
        clock.advance(10)  # the first back-off
        assert await mailer.run_once() == 1
        closed = inbox.to("ann@acme.test")
        assert len(closed) == 4 and "Closed" in closed[-1]["Subject"]
