"""The django-helpdesk connector end to end, against a REAL django-helpdesk (Django on
SQLite, its own process), the real broker (TLS) and the REAL agent (``clearpane agent
--headless`` on Xvfb, in its own process): a ticket opened in the help desk gets a
Clearpane invitation through the public API only; the client redeems the code in the
agent; an engineer's viewer joins, sees the screen and ends the session with a
resolution; the summary lands on the help-desk ticket as a follow-up and the ticket is
Resolved. Then: nothing is written twice (another poll, a redelivered webhook), and a
forged webhook is refused."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent.testing import ScriptedViewer
from broker.testing import RunningBroker, running_broker
from integrations.clearpane import ClearpaneClient
from integrations.django_helpdesk import Connector, ConnectorConfig
from integrations.django_helpdesk.connector import WEBHOOK_EVENTS, WEBHOOK_PATH
from integrations.django_helpdesk.texts import INVITATION_MARK, summary_mark
from tests.helpers import OutputLog, clean_env, eventually, stop_process
from tests.integrations.sites import DjangoSite, django_site

pytestmark = pytest.mark.xvfb

ROOT = Path(__file__).resolve().parents[2]
DESK_USER, DESK_PASSWORD = "desk", "desk-password-1"
RESOLVED = 3
CODE = re.compile(r"\b(\d{4}-\d{4})\b")


@dataclass
class Rig:
    """The help desk, the broker, the connector (running) and its webhook URL."""

    desk: DjangoSite
    broker: RunningBroker
    connector: Connector
    webhook_url: str
    secret: str
    queue_id: int

    def desk_http(self) -> aiohttp.ClientSession:
        """The help desk's REST API as its staff user."""
        pair = base64.b64encode(f"{DESK_USER}:{DESK_PASSWORD}".encode()).decode()
        return aiohttp.ClientSession(headers={"Authorization": f"Basic {pair}"})

    async def desk_ticket(self, ticket_id: int) -> dict[str, Any]:
        async with (
            self.desk_http() as http,
            http.get(f"{self.desk.url}/helpdesk/api/tickets/{ticket_id}/") as r,
        ):
            assert r.status == 200
            found: dict[str, Any] = await r.json()
            return found


@pytest.fixture
async def rig(tmp_path: Path, django_templates: Callable[[str], Path]) -> AsyncIterator[Rig]:
    template = django_templates("helpdesk_site")
    async with (
        django_site("helpdesk_site", tmp_path / "helpdesk", template=template) as desk,
        running_broker(tmp_path, webhook_allow_http_loopback=True) as broker,
    ):
        await desk.command("add_staff", username=DESK_USER, password=DESK_PASSWORD)
        queue = await desk.command("add_queue", title="Support", slug="support")
        # The integration account and its key, made by an admin.
        await broker.create_user("helpdesk", "integration", name="Service desk")
        admin = await broker.login(broker.admin_username, broker.admin_password)
        _, users, _ = await broker.request("GET", "/api/v1/users", token=admin)
        account = next(u for u in users["users"] if u["username"] == "helpdesk")
        status, made, _ = await broker.request(
            "POST",
            "/api/v1/api-keys",
            token=admin,
            json={
                "user_id": account["id"],
                "name": "django-helpdesk connector",
                "scopes": ["tickets", "invitations", "sessions:read", "webhooks"],
            },
        )
        assert status == 201, made
        # The connector's receiver: a port of its own, registered with the key.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}{WEBHOOK_PATH}"
        client = ClearpaneClient(broker.base_url, made["key"], ca_file=str(broker.ca_cert_path))
        try:
            secret = await client.register_webhook(url, WEBHOOK_EVENTS, "django-helpdesk")
        finally:
            await client.close()
        config = ConnectorConfig(
            clearpane_url=broker.base_url,
            api_key=made["key"],
            clearpane_ca_file=str(broker.ca_cert_path),
            helpdesk_url=desk.url + "/helpdesk",
            helpdesk_user=DESK_USER,
            helpdesk_password=DESK_PASSWORD,
            webhook_secret=secret,
            poll_interval_s=0.3,
            twin_queue=int(queue["id"]),
        )
        connector = Connector(config)
        stop = asyncio.Event()
        task = asyncio.create_task(connector.run(stop, sock=sock))
        try:
            yield Rig(desk, broker, connector, url, secret, int(queue["id"]))
        finally:
            stop.set()
            await task
            await connector.close()


@contextlib.contextmanager
def real_agent(broker: RunningBroker, display: str, log_dir: Path, *what: str) -> Any:
    """The real agent, headless (``what``: ``--code CODE`` or ``--describe TEXT``),
    consent given non-interactively as the end-to-end tests do."""
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "cli.main", "agent",
            "--enrollment", str(broker.enrollment_path),
            "--headless", "--auto-consent-for-tests", "view",
            *what, "--name", "Bob Client",
            "--source", "screen", "--log-dir", str(log_dir),
        ],
        cwd=ROOT,
        env=clean_env(DISPLAY=display, PYTHONPATH=str(ROOT)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    out, err = OutputLog(proc.stdout, "agent"), OutputLog(proc.stderr, "agent stderr")
    try:
        yield proc, out, err
    finally:
        stop_process(proc)


async def _help(b: RunningBroker, cp_ticket_id: str, agent: Any, resolution: str) -> str:
    """An engineer finds the ticket's waiting session, joins, sees the screen and ends
    it with ``resolution``; returns the session id once the agent has ended too."""
    proc, out, err = agent
    await b.create_user("erin", "engineer", name="Erin Engineer", password="erin-password-1")
    engineer = await b.login("erin", "erin-password-1")

    async def waiting_session() -> str | None:
        _, ticket, _ = await b.request("GET", f"/api/v1/tickets/{cp_ticket_id}", token=engineer)
        sessions = ticket.get("sessions") or []
        return sessions[0]["id"] if sessions else None

    try:
        sid = await eventually(waiting_session, timeout=30, what="the client's session")
    except AssertionError:
        raise AssertionError(f"{out.text}\n{err.text}") from None
    status, joined, _ = await b.request(
        "POST", f"/api/v1/sessions/{sid}/join", token=engineer,
        json={"as": "engineer", "permissions": ["view"]},
    )  # fmt: skip
    assert status == 200, joined
    viewer = ScriptedViewer(b.ws_url + "/ws/viewer", b.ssl_context(), b.base_url)
    await viewer.connect(joined["ws_token"])
    await viewer.start_keys()
    await viewer.wait_for(lambda: len(viewer.updates) >= 1, timeout=30)  # the screen
    status, ended, _ = await b.request(
        "POST", f"/api/v1/sessions/{sid}/end", token=engineer, json={"resolution": resolution}
    )
    assert status == 200, ended
    await asyncio.to_thread(proc.wait, 30)  # the agent ends with the session
    return str(sid)


async def _open_desk_ticket(rig: Rig, title: str) -> int:
    """Somebody opens a ticket in the help desk (its REST API, as staff do)."""
    body = {
        "queue": rig.queue_id,
        "title": title,
        "description": "The printer on floor 2 shows offline since this morning.",
        "submitter_email": "bob@example.com",
        "priority": 3,
    }
    async with (
        rig.desk_http() as http,
        http.post(f"{rig.desk.url}/helpdesk/api/tickets/", json=body) as r,
    ):
        assert r.status == 201, await r.text()
        return int((await r.json())["id"])


async def test_a_help_desk_ticket_is_invited_helped_and_resolved(
    rig: Rig, xvfb_display: str, tmp_path: Path
) -> None:
    desk_id = await _open_desk_ticket(rig, "Printer offline")

    async def invitation() -> str | None:
        ticket = await rig.desk_ticket(desk_id)
        for followup in ticket["followup_set"]:
            if followup["comment"].startswith(INVITATION_MARK) and followup["public"]:
                found = CODE.search(followup["comment"])
                return found.group(1) if found else None
        return None

    code = await eventually(invitation, timeout=30, what="the invitation follow-up")
    b = rig.broker
    status, cp_ticket, _ = await b.request(
        "GET", f"/api/v1/tickets/by-ref/django-helpdesk/{desk_id}", token=None,
        headers={"Authorization": f"Bearer {rig.connector.config.api_key}"},
    )  # fmt: skip
    assert status == 200, cp_ticket
    cp_ticket = cp_ticket.get("ticket", cp_ticket)
    assert cp_ticket["title"] == "Printer offline"

    log_dir = tmp_path / "agent-logs"
    with real_agent(b, xvfb_display, log_dir, "--code", code) as agent:
        sid = await _help(b, cp_ticket["id"], agent, "Reinstalled the printer driver")

    async def summary() -> dict[str, Any] | None:
        ticket = await rig.desk_ticket(desk_id)
        notes = [f for f in ticket["followup_set"] if f["comment"].startswith(summary_mark(sid))]
        return ticket if notes and ticket["status"] == RESOLVED else None

    ticket = await eventually(summary, timeout=30, what="the summary and Resolved status")
    note = next(f for f in ticket["followup_set"] if f["comment"].startswith(summary_mark(sid)))
    assert "Resolution: Reinstalled the printer driver" in note["comment"]
    assert "Engineer: Erin Engineer" in note["comment"]
    assert "Outcome: ended_by_engineer" in note["comment"]
    assert note["new_status"] == RESOLVED
    # From the broker's signed summary (GET /sessions/{id}/summary or session.summary).
    assert "clearpane audit verify-summary" in note["comment"]
    assert "Engineer's input: 0 clicks, 0 keys" in note["comment"]

    # Nothing twice: another poll invites nobody, a redelivered event writes nothing.
    assert await rig.connector.poll_once() == 0
    count = len(ticket["followup_set"])
    event = {
        "id": "redelivered", "type": "session.ended", "version": 1,
        "occurred_at": "2026-12-04T00:00:00Z",
        "data": {"session": {"id": sid, "outcome": "ended_by_engineer"},
                 "ticket": {"external_source": "django-helpdesk", "external_ref": str(desk_id)}},
    }  # fmt: skip
    assert await _deliver(rig, event, rig.secret) == 204
    assert len((await rig.desk_ticket(desk_id))["followup_set"]) == count


async def _deliver(rig: Rig, event: dict[str, Any], secret: str) -> int:
    """POST one event to the connector, signed as Clearpane signs (docs/webhooks.md)."""
    import hashlib
    import hmac

    body = json.dumps(event).encode()
    ts = str(int(time.time()))
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"X-Clearpane-Timestamp": ts, "X-Clearpane-Signature": f"v1={mac}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(rig.webhook_url, data=body, headers=headers) as r,
    ):
        return r.status


async def test_a_forged_webhook_changes_nothing(rig: Rig) -> None:
    desk_id = await _open_desk_ticket(rig, "VPN drops")
    await eventually(lambda: rig.desk_ticket(desk_id), timeout=5, what="the ticket")  # it exists
    event = {
        "id": "forged", "type": "session.ended", "version": 1,
        "occurred_at": "2026-12-04T00:00:00Z",
        "data": {"session": {"id": "s1", "outcome": "ended_by_engineer", "resolution": "x"},
                 "ticket": {"external_source": "django-helpdesk", "external_ref": str(desk_id)}},
    }  # fmt: skip
    assert await _deliver(rig, event, "whsec_not-the-secret") == 401
    ticket = await rig.desk_ticket(desk_id)
    assert ticket["status"] != RESOLVED
    assert not any(f["comment"].startswith(summary_mark("s1")) for f in ticket["followup_set"])
    # The very same event, signed with the endpoint's secret, is acted on.
    assert await _deliver(rig, event, rig.secret) == 204
    assert (await rig.desk_ticket(desk_id))["status"] == RESOLVED


async def test_a_client_request_gets_a_help_desk_twin_with_the_summary(
    rig: Rig, xvfb_display: str, tmp_path: Path
) -> None:
    b = rig.broker
    key = {"Authorization": f"Bearer {rig.connector.config.api_key}"}
    with real_agent(b, xvfb_display, tmp_path / "logs", "--describe", "Outlook crashes") as agent:

        async def linked() -> dict[str, Any] | None:
            _, found, _ = await b.request("GET", "/api/v1/tickets", token=None, headers=key)
            mine = [t for t in found["tickets"] if t.get("external_source") == "django-helpdesk"]
            return mine[0] if mine else None

        cp_ticket = await eventually(linked, timeout=30, what="the twin linked back")
        desk_id = int(cp_ticket["external_ref"])
        twin = await rig.desk_ticket(desk_id)
        assert twin["title"] == "Outlook crashes" and twin["queue"] == rig.queue_id
        sid = await _help(b, cp_ticket["id"], agent, "Repaired the Outlook profile")

    async def resolved() -> dict[str, Any] | None:
        ticket = await rig.desk_ticket(desk_id)
        return ticket if ticket["status"] == RESOLVED else None

    ticket = await eventually(resolved, timeout=30, what="the twin resolved")
    notes = [f["comment"] for f in ticket["followup_set"]]
    assert any(n.startswith(summary_mark(sid)) and "Outlook profile" in n for n in notes)
    assert not any(n.startswith(INVITATION_MARK) for n in notes)  # the client is there already
    _, tickets, _ = await b.request("GET", "/api/v1/tickets", token=None, headers=key)
    assert sum(t.get("external_source") == "django-helpdesk" for t in tickets["tickets"]) == 1
