"""The signed session summary (issue 18) for a REAL session (the real broker, the
scripted agent and viewer over WebSockets): its content (duration, time to answer,
participants, consent timeline, action counts and never content, chat only by the
organisation's policy, rating, resolution), its signature verifying with the
organisation's root (``clearpane audit verify-summary``), a tampered or foreign one
failing; and the same summary arriving as the ``session.summary`` webhook."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from audit.summary import SummaryError, verify_summary
from broker.pki import PKI
from broker.recording import RECORDER
from broker.store import queries
from broker.store.db import DB
from broker.testing import RunningBroker, running_broker
from broker.webhooks.schemas import load_schema
from broker.webhooks.testing import WebhookReceiver
from certs.bootstrap import ensure_broker_pki
from cli.audit import main as audit_main
from tests.broker.webhook_flow import run_session

CONFIG: dict[str, Any] = {"webhook_allow_http_loopback": True, "webhook_poll_interval_s": 0.05}


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = WebhookReceiver()
    await r.start()
    yield r
    await r.stop()


async def _summary(b: RunningBroker, sid: str, token: str) -> dict[str, Any]:
    status, body, _ = await b.request("GET", f"/api/v1/sessions/{sid}/summary", token=token)
    assert status == 200, body
    assert isinstance(body, dict)
    return body


async def test_summary_of_a_real_session_is_complete_and_verifies(tmp_path: Path) -> None:
    async with running_broker(tmp_path / "b") as b:
        admin = await b.login(b.admin_username, b.admin_password)
        flow = await run_session(b, organisation="acme", resolution="Toner replaced")
        document = await _summary(b, flow.session_id, admin)
        row = await queries.get_session(b.app[DB], flow.session_id)
        assert row is not None and row.answered_at_ms and row.ended_at_ms
        ca = b.app[PKI].ca_cert_path
        # With the policy on, the chat comes too.
        status, policy, _ = await b.request(
            "PUT",
            "/api/v1/organisations/acme/policy",
            token=admin,
            json={"summary_includes_chat": True},
        )
        assert status == 200 and policy == {"organisation": "acme", "summary_includes_chat": True}
        with_chat = await _summary(b, flow.session_id, admin)
        recorder = b.app.get(RECORDER)
        has_recording = recorder is not None and recorder.has_recording(flow.session_id)
    s = document["summary"]
    assert s["format"] == "clearpane.session-summary.v1"
    assert s["session_id"] == flow.session_id and s["ticket"]["id"] == flow.ticket_id
    assert s["organisation"] == "acme" and s["client_name"] == "Alice"
    assert s["duration_ms"] == row.ended_at_ms - row.answered_at_ms
    assert s["time_to_answer_ms"] == row.answered_at_ms - row.created_at_ms
    assert s["outcome"] == "ended_by_engineer" and s["resolution"] == "Toner replaced"
    assert s["rating"] == {"score": 5, "comment": "quick"}
    assert [(p["role"], p["name"]) for p in s["participants"]] == [
        ("client", "Alice"),
        ("engineer", "Eve Engineer"),
    ]
    assert [(c["event"], c["permissions"]) for c in s["consent"]] == [
        ("consent.requested", ["control", "view"]),
        ("consent.granted", ["control", "view"]),
        ("consent.revoked", ["control"]),
        ("consent.requested", ["control"]),
        ("consent.denied", ["control"]),
    ]
    assert s["consent"][1]["by"] == "client" and s["consent"][4]["timed_out"] is False
    # Counted, never content: the sums of the agent's two input.applied records.
    assert s["actions"] == {"clicks": 4, "keys": 15, "scrolls": 1, "moves": 11}
    text = json.dumps(document)
    assert "Enter" not in text and "I can see your screen" not in text
    assert s["chat"] is None  # the organisation's policy is off by default
    assert s["log"]["sealed"] is True and s["log"]["records"] > 10
    expected = {"url": f"/api/v1/recordings/{flow.session_id}"} if has_recording else None
    assert s["recording"] == expected
    assert with_chat["summary"]["chat"] == [
        {
            "at": with_chat["summary"]["chat"][0]["at"],
            "from": "Eve Engineer",
            "text": "Hello Alice, I can see your screen",
        },
        {"at": with_chat["summary"]["chat"][1]["at"], "from": "Alice", "text": "Thanks!"},
    ]
    # The signature verifies with the organisation's root …
    assert verify_summary(document).summary == s
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(document))
    assert audit_main(["verify-summary", str(path), "--ca", str(ca)]) == 0
    # … a tampered summary fails …
    tampered = json.loads(json.dumps(document))
    tampered["summary"]["actions"]["keys"] = 0
    path.write_text(json.dumps(tampered))
    assert audit_main(["verify-summary", str(path), "--ca", str(ca)]) == 1
    with pytest.raises(SummaryError, match="altered"):
        verify_summary(tampered)
    # … and so does a genuine one checked against another organisation's root.
    other = ensure_broker_pki(tmp_path / "other-ca", ["localhost"], ["127.0.0.1"], None)
    path.write_text(json.dumps(document))
    assert audit_main(["verify-summary", str(path), "--ca", str(other.ca_cert_path)]) == 1
    path.write_text("not json")
    assert audit_main(["verify-summary", str(path), "--ca", str(ca)]) == 2


async def test_the_summary_webhook_is_signed_and_matches_its_schema(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    async with running_broker(tmp_path, **CONFIG) as b:
        admin = await b.login(b.admin_username, b.admin_password)
        status, _, _ = await b.request(
            "POST",
            "/api/v1/webhooks",
            token=admin,
            json={"url": receiver.url, "events": ["session.summary"]},
        )
        assert status == 201
        flow = await run_session(b)
        hooks = await receiver.wait_for(1, timeout_s=10)
        body = json.loads(hooks[0].body)
        # A rating after the end sends the summary again, now with that rating.
        await queries.set_rating(b.app[DB], flow.session_id, 2, "slow")
        hooks = await receiver.wait_for(2, timeout_s=10)
        again = json.loads(hooks[1].body)
        status, err, _ = await b.request("GET", "/api/v1/sessions/nope/summary", token=admin)
        assert status == 404 and err["error"]["code"] == "not_found"
    jsonschema.Draft202012Validator(load_schema("session.summary", 1)).validate(body)
    assert body["type"] == "session.summary"
    assert verify_summary(body["data"]).summary["session_id"] == flow.session_id
    assert body["data"]["summary"]["rating"] == {"score": 5, "comment": "quick"}
    assert again["data"]["summary"]["rating"] == {"score": 2, "comment": "slow"}
    verify_summary(again["data"])


async def test_only_who_may_read_the_session_reads_its_summary(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        flow = await run_session(b)
        other, password = await b.create_user("olga", "engineer", name="Olga")
        token = await b.login(other, password)
        status, err, _ = await b.request(
            "GET", f"/api/v1/sessions/{flow.session_id}/summary", token=token
        )
        assert status == 403, err
        status, _, _ = await b.request("GET", f"/api/v1/sessions/{flow.session_id}/summary")
        assert status == 401
