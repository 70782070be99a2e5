"""SPEC §11 answers the relay and the REST API give an independent viewer: what
triggers the consent prompt, what a viewer receives before consent, that key
agreement runs before consent while only the content key waits, the order of
permission lists the broker sends, the viewer token's lifetime, the queue item."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from broker.relay.testing import Harness
from broker.testing import FakeClock, running_broker
from protocol import messages as m
from tests.broker.conftest import agent_request, join, staff, update, ws_connect

SPEC = (Path(__file__).resolve().parents[2] / "protocol" / "SPEC.md").read_text("utf-8")


def _joined(permissions: tuple[str, ...] = ("view", "control")) -> tuple[Harness, str]:
    h = Harness()
    h.connect_agent()
    h.agent.clear()
    return h, h.join(permissions=permissions)


def test_consent_is_asked_for_the_join_permissions_without_a_permission_request() -> None:
    """§11.1: the viewer's hello (its token carries the join body's permissions) makes
    the broker send ``consent.request``; the viewer sends no ``permission.request``."""
    h, vid = _joined(("view", "control"))
    (request,) = h.agent.of("consent.request")
    assert request.viewer_id == vid and set(request.permissions) == {"view", "control"}


def test_what_a_viewer_receives_before_consent() -> None:
    """§11.5: welcome, session.state, log.event (the consent.requested record) and,
    after its key.commit, key.agent — no screen byte, not even when the agent sends one."""
    h, vid = _joined()
    viewer = h.box(vid)
    assert viewer.types() == ["welcome", "log.event", "session.state"]
    assert viewer.of("welcome")[0].state == "waiting"  # the state before its own prompt
    assert viewer.of("session.state")[0].state == "consent_pending"
    assert [e.record["event"] for e in viewer.of("log.event")] == ["consent.requested"]
    h.agent_sends(update(1))
    assert viewer.binary == []


def test_key_agreement_runs_before_consent_and_only_the_content_key_waits() -> None:
    """§11.2: key.commit / key.agent / key.reveal pass while consent is pending (the
    verification code can be compared at the prompt); key.wrap for a viewer without
    ``view`` is refused (``not_granted``) and reaches it only after the grant."""
    h, vid = _joined()
    public = bytes(range(32))
    h.viewer_says(vid, m.KeyCommit(commitment=hashlib.sha256(public).digest()))
    h.agent_says(m.KeyAgent(viewer_id=vid, agent_public=bytes(32)))
    h.viewer_says(vid, m.KeyReveal(viewer_public=public))
    assert h.agent.types()[-2:] == ["key.commit", "key.reveal"]
    assert "key.agent" in h.box(vid).types()
    request = h.last_consent_request()
    h.agent_says(m.KeyWrap(viewer_id=vid, epoch=1, wrapped_key=bytes(48)))
    assert h.agent.of("error")[-1].code == "not_granted"
    assert "key.wrap" not in h.box(vid).types()
    h.agent_says(
        m.ConsentGrant(request_id=request.request_id, viewer_id=vid, permissions=("view",))
    )
    h.agent_says(m.KeyWrap(viewer_id=vid, epoch=1, wrapped_key=bytes(48)))
    assert h.box(vid).types()[-1] == "key.wrap"


def test_the_broker_sends_permission_lists_sorted() -> None:
    """§11.6: whatever order the viewer asked and the agent answered in, every list the
    broker sends is sorted: consent.request, consent.grant, consent.deny (the part not
    granted), consent.revoke and session.state.viewers[].permissions."""
    h, vid = _joined(("view", "video", "control"))
    request = h.last_consent_request()
    assert request.permissions == ("control", "video", "view")
    h.agent_says(
        m.ConsentGrant(
            request_id=request.request_id, viewer_id=vid, permissions=("view", "control")
        )
    )
    viewer = h.box(vid)
    assert viewer.of("consent.grant")[-1].permissions == ("control", "view")
    assert viewer.of("consent.deny")[-1].permissions == ("video",)
    (me,) = [v for v in viewer.of("session.state")[-1].viewers if v.viewer_id == vid]
    assert me.permissions == ("control", "view")
    h.agent_says(m.ConsentRevoke(viewer_id=vid, permissions=("view", "control")))
    assert viewer.of("consent.revoke")[-1].permissions == ("control", "view")


async def test_viewer_token_lives_viewer_token_ttl_s_and_expires(tmp_path: Path) -> None:
    """§11.7: the join answer's token is valid ``CLEARPANE_VIEWER_TOKEN_TTL_S`` (60 s)
    for one hello (single use: tests/broker/test_security_tokens.py); later it is
    refused with 4401."""
    clock = FakeClock(1_800_000_000_000)
    async with running_broker(tmp_path, clock=clock) as b:
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            eng = await staff(b, "eve", "engineer")
            fresh = await join(b, eng, sid, ["view"])
            async with ws_connect(b, "/ws/viewer", origin=b.base_url) as viewer:
                await viewer.say(m.Hello(token=fresh, client="v"))
                assert (await viewer.expect("welcome")).viewer_id
            status, body, _ = await b.request(
                "POST", f"/api/v1/sessions/{sid}/join", token=eng, json={"permissions": ["view"]}
            )
            assert status == 200 and body["expires_at"] == "2027-01-15T08:01:00.000Z"  # +60 s
            clock.advance(61_000)
            async with ws_connect(b, "/ws/viewer", origin=b.base_url) as late:
                await late.say(m.Hello(token=body["ws_token"], client="v"))
                assert (await late.closed())[0] == 4401


async def test_queue_item_has_exactly_the_fields_spec_lists(tmp_path: Path) -> None:
    """§11.8: the fields of a ``GET /api/v1/queue`` item are the ones SPEC names."""
    section = SPEC[SPEC.index("### 11.8") :].split("\n## ")[0]
    documented = set(re.findall(r"^- `(\w+)`", section, re.M))
    async with running_broker(tmp_path) as b:
        status, _, _ = await b.request(
            "POST", "/api/v1/agent/requests", json={"description": "printer", "client_name": "C"}
        )
        assert status == 201
        sup = await staff(b, "sue", "supervisor")
        status, body, _ = await b.request("GET", "/api/v1/queue", token=sup)
        assert status == 200
        (item,) = body["queue"]
        assert set(item) == documented
