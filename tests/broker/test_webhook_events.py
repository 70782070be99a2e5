"""The issue 18 event set: every event type has a versioned JSON Schema (shipped,
served, the same as tools/gen_webhook_schemas.py writes), and every event a REAL
session emits — store-captured and read off the relay's log — validates against it.
Events other parts emit (SLA, escalation, transfer, recording) go through the
public ``emit_event`` and are validated the same way."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from broker.relay import SessionInfo
from broker.store import queries
from broker.store.db import DB
from broker.testing import FakeClock, RunningBroker, running_broker
from broker.webhooks import emit_event, verify_signature
from broker.webhooks.events import EVENT_TYPES, EVENT_VERSIONS
from broker.webhooks.relay_events import event_for_record
from broker.webhooks.schemas import SCHEMA_DIR, available, load_schema
from broker.webhooks.testing import ReceivedWebhook, WebhookReceiver
from protocol import messages as m
from tests.broker.conftest import agent_request, join, wait_for_row, ws_connect
from tests.broker.webhook_flow import run_session
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
CONFIG: dict[str, Any] = {
    "webhook_allow_http_loopback": True,
    "webhook_poll_interval_s": 0.05,
}


def validate(body: dict[str, Any]) -> None:
    """Validate one event body against the schema of its (type, version)."""
    schema = load_schema(body["type"], body["version"])
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(body)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = WebhookReceiver()
    await r.start()
    yield r
    await r.stop()


async def _subscribe_all(b: RunningBroker, url: str) -> str:
    token = await b.login(b.admin_username, b.admin_password)
    status, body, _ = await b.request(
        "POST", "/api/v1/webhooks", token=token, json={"url": url, "events": list(EVENT_TYPES)}
    )
    assert status == 201, body
    return str(body["secret"])


def _bodies(hooks: list[ReceivedWebhook], secret: str) -> list[dict[str, Any]]:
    out = []
    for hook in hooks:
        verify_signature(
            secret,
            hook.headers["X-Clearpane-Timestamp"],
            hook.body,
            hook.headers["X-Clearpane-Signature"],
            now=int(hook.headers["X-Clearpane-Timestamp"]),
            tolerance_s=5,
        )
        data = json.loads(hook.body)
        assert hook.headers["X-Clearpane-Event"] == data["type"]
        out.append(data)
    return out


def test_every_type_has_a_valid_schema_matching_the_generator() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools/gen_webhook_schemas.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    files = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    assert files == gen.rendered(), "run tools/gen_webhook_schemas.py"
    assert available() == sorted((t, EVENT_VERSIONS[t]) for t in EVENT_TYPES)
    for event_type, version in available():
        schema = load_schema(event_type, version)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["type"] == {"const": event_type}
    # An event of the wrong type or version, or with a stray envelope field, is refused.
    with pytest.raises(jsonschema.ValidationError):
        validate({"id": "x", "type": "queue.entered", "version": 1, "occurred_at": "x"})


async def test_a_real_session_emits_events_that_match_their_schemas(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    async with running_broker(tmp_path, **CONFIG) as b:
        secret = await _subscribe_all(b, receiver.url)
        flow = await run_session(b)

        def types() -> list[str]:
            return [json.loads(h.body)["type"] for h in receiver.received]

        await eventually(
            lambda: {"session.ended", "consent.denied", "recording.available"} <= set(types()),
            what="events",
        )
        bodies = _bodies(list(receiver.received), secret)
    for body in bodies:
        validate(body)
    seen = [b["type"] for b in bodies]
    for expected in (
        "ticket.created",
        "ticket.client_opened",
        "session.requested",
        "queue.entered",
        "queue.answered",
        "consent.granted",
        "session.started",
        "consent.revoked",
        "consent.denied",
        "session.rated",
        "session.ended",
        "recording.available",
    ):
        assert expected in seen, (expected, seen)
    by_type = {b["type"]: b["data"] for b in bodies}
    opened = by_type["ticket.client_opened"]
    assert opened["ticket"]["id"] == flow.ticket_id
    assert opened["session"]["id"] == flow.session_id and opened["session"]["origin"] == "request"
    granted = by_type["consent.granted"]
    assert granted == {
        "session_id": flow.session_id,
        "ticket_id": flow.ticket_id,
        "viewer_id": flow.viewer_id,
        "permissions": ["control", "view"],
        "request_id": granted["request_id"],
        "user_id": granted["user_id"],
    }
    assert by_type["consent.revoked"]["permissions"] == ["control"]
    assert by_type["consent.revoked"]["by"] == "client"
    assert by_type["consent.denied"]["timed_out"] is False
    answered = by_type["queue.answered"]["session"]
    assert answered["engineer"]["name"] == "Eve Engineer" and answered["answered_at"]
    # Ordered as they happened: the queue before the answer, consent before the end.
    assert seen.index("queue.entered") < seen.index("queue.answered")
    assert (
        seen.index("consent.granted") < seen.index("consent.revoked") < seen.index("session.ended")
    )
    assert all(b["version"] == 1 for b in bodies)
    recording = by_type["recording.available"]
    assert recording["session_id"] == flow.session_id and recording["ticket_id"] == flow.ticket_id
    assert recording["recording"]["url"] == f"/api/v1/recordings/{flow.session_id}"
    assert recording["recording"]["bytes"] > 0


SAMPLES: dict[str, dict[str, Any]] = {
    "sla.at_risk": {
        "ticket": {
            "id": "t1",
            "title": "Printer",
            "organisation": "acme",
            "tier": "standard",
            "external_ref": "HD-7",
            "status": "assigned",
        },
        "session_id": None,
        "clock": "response",
        "due_at": "2027-01-15T08:00:00.000Z",
        "remaining_s": 300,
    },
    "escalation.raised": {
        "escalation": {"id": "e1", "level": 1, "notify": ["supervisor"], "reason": "sla"},
        "ticket": {
            "id": "t1",
            "title": "Printer",
            "organisation": "acme",
            "tier": "standard",
            "external_ref": None,
            "status": "assigned",
        },
        "session_id": "s1",
    },
    "session.transferred": {
        "session_id": "s1",
        "ticket_id": "t1",
        "from": {"id": "u1", "name": "Eve"},
        "to": {"id": "u2", "name": "Frank"},
        "by": None,
        "reason": "skills",
    },
    "recording.available": {
        "session_id": "s1",
        "ticket_id": "t1",
        "recording": {"url": "/api/v1/review/sessions/s1", "bytes": 1024},
    },
}


async def test_emit_event_for_other_parts(
    tmp_path: Path, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    """``emit_event`` with the app, the database or an open transaction; the body is the
    versioned envelope; an unknown type is refused."""
    async with running_broker(tmp_path, clock=clock, **CONFIG) as b:
        secret = await _subscribe_all(b, receiver.url)
        ids = await emit_event(b.app, "sla.at_risk", SAMPLES["sla.at_risk"], subject_id="t1")
        assert len(ids) == 1
        await emit_event(
            b.app[DB], "escalation.raised", SAMPLES["escalation.raised"], subject_id="t1"
        )
        async with b.app[DB].sessions.begin() as s:
            await emit_event(
                s, "session.transferred", SAMPLES["session.transferred"], subject_id="s1"
            )
            await emit_event(
                s, "recording.available", SAMPLES["recording.available"], subject_id="s1"
            )
        with pytest.raises(ValueError, match="unknown webhook event"):
            await emit_event(b.app, "sla.missed", {}, subject_id="t1")
        hooks = await receiver.wait_for(4)
        bodies = _bodies(hooks, secret)
    assert [x["type"] for x in bodies] == list(SAMPLES)
    first = bodies[0]
    assert set(first) == {"id", "type", "version", "occurred_at", "data"}
    assert first["occurred_at"] == json.loads(json.dumps(first["occurred_at"]))
    for body in bodies:
        validate(body)
        assert body["data"] == SAMPLES[body["type"]]
    bad = {**bodies[0], "data": {**SAMPLES["sla.at_risk"], "clock": "lunch"}}
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


async def test_schemas_are_served(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        token = await b.login(b.admin_username, b.admin_password)
        status, body, _ = await b.request("GET", "/api/v1/webhook-schemas", token=token)
        assert status == 200
        assert [e["type"] for e in body["events"]] == list(EVENT_TYPES)
        path = body["events"][0]["schema"]
        status, schema, _ = await b.request("GET", path, token=token)
        assert status == 200
        assert schema == load_schema(EVENT_TYPES[0], 1)
        for missing in ("queue.entered.v9", "nothing.v1", "queue.entered"):
            status, err, _ = await b.request(
                "GET", f"/api/v1/webhook-schemas/{missing}", token=token
            )
            assert status == 404 and err["error"]["code"] == "not_found", err
        status, _, _ = await b.request("GET", "/api/v1/webhook-schemas")
        assert status == 401


async def test_a_real_transfer_is_announced_as_its_schema_says(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """routing emits session.transferred through emit_event (broker/wsio/persist.py):
    a real hand-over's webhook validates against the v1 schema."""
    async with running_broker(tmp_path, **CONFIG) as b:
        secret = await _subscribe_all(b, receiver.url)
        people = {}
        for username, name in (("ann", "Ann Old"), ("bob", "Bob New")):
            user, password = await b.create_user(username, "engineer", name=name)
            found = await queries.get_user_by_username(b.app[DB], user)
            assert found is not None
            people[username] = (await b.login(user, password), found.id)
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            async with ws_connect(b, "/ws/viewer", origin=b.base_url) as old:
                await old.say(
                    m.Hello(token=await join(b, people["ann"][0], sid, ["view"]), client="v")
                )
                await old.expect("welcome")
                req = await agent.expect("consent.request")
                await agent.say(
                    m.ConsentGrant(
                        request_id=req.request_id, viewer_id=req.viewer_id, permissions=("view",)
                    )
                )
                await wait_for_row(b, sid, "live")
                status, made, _ = await b.request(
                    "POST",
                    f"/api/v1/sessions/{sid}/transfer",
                    token=people["ann"][0],
                    json={"engineer_id": people["bob"][1]},
                )
                assert status == 201, made
                async with ws_connect(b, "/ws/viewer", origin=b.base_url) as new:
                    token = await join(b, people["bob"][0], sid, ["view"])
                    await new.say(m.Hello(token=token, client="v"))
                    await new.expect("welcome")
                    req = await agent.expect("consent.request")
                    await agent.say(
                        m.ConsentGrant(
                            request_id=req.request_id,
                            viewer_id=req.viewer_id,
                            permissions=("view",),
                        )
                    )
                    await new.expect("consent.grant")

                    def transferred() -> list[dict[str, Any]]:
                        bodies = [json.loads(h.body) for h in receiver.received]
                        return [x for x in bodies if x["type"] == "session.transferred"]

                    [body] = await eventually(transferred, what="session.transferred")
        _bodies(list(receiver.received), secret)
    validate(body)
    assert body["data"]["session_id"] == sid
    assert body["data"]["from"] == {"id": people["ann"][1], "name": "Ann Old"}
    assert body["data"]["to"] == {"id": people["bob"][1], "name": "Bob New"}


def test_log_records_map_to_consent_events() -> None:
    """The mapping the relay's log observer uses, for the cases a scripted session does
    not reach (a viewer releasing, a prompt timing out) and the records it ignores."""
    info = SessionInfo(session_id="s1", ticket_id="t1", ticket_title="x")
    released = event_for_record(
        info, "permission.released", "engineer:u1", {"viewer_id": "v2", "permissions": ["control"]}
    )
    assert released == (
        "consent.revoked",
        {
            "session_id": "s1",
            "ticket_id": "t1",
            "viewer_id": "v2",
            "permissions": ["control"],
            "by": "viewer",
        },
    )
    timed_out = event_for_record(
        info,
        "consent.denied",
        "broker",
        {"request_id": "r1", "viewer_id": "v1", "permissions": ["view"], "timed_out": True},
    )
    assert timed_out is not None and timed_out[1]["timed_out"] is True
    for kind, data in (released, timed_out):
        validate(
            {
                "id": "e",
                "type": kind,
                "version": 1,
                "occurred_at": "2026-12-04T10:00:00.000Z",
                "data": data,
            }
        )
    assert event_for_record(info, "chat.sent", "client", {"text": "secret"}) is None
    assert event_for_record(info, "consent.requested", "engineer:u1", {"viewer_id": "v1"}) is None
