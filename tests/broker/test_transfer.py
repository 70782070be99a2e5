"""Transfer and collaboration against the REAL broker (TLS, store) with scripted
agent and viewers (issue 19): the client consents to the new engineer by name; on a
grant the old engineer's permissions end and the log shows the hand-over; a refused
transfer changes nothing; an invited colleague sees nothing before consent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

from audit.jsonl import load_records
from broker.relay.control import RELAY
from broker.store import queries
from broker.store.db import DB
from broker.store.queries import handovers
from broker.testing import RunningBroker, running_broker
from protocol import messages as m
from protocol.media import InputFrame, ScreenUpdateFrame, parse_binary
from tests.broker.conftest import (
    Peer,
    agent_request,
    outbox,
    subscribe,
    update,
    wait_for_row,
    ws_connect,
)
from tests.helpers import eventually

SCHEMAS = Path(__file__).resolve().parents[2] / "broker" / "webhooks" / "schemas"


async def _engineer(b: RunningBroker, username: str, name: str) -> tuple[str, str]:
    user, password = await b.create_user(username, "engineer", name=name)
    found = await queries.get_user_by_username(b.app[DB], user)
    assert found is not None
    return await b.login(user, password), found.id


async def _join(b: RunningBroker, token: str, sid: str, perms: list[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    status, body, _ = await b.request(
        "POST", f"/api/v1/sessions/{sid}/join", token=token, json={"permissions": perms}
    )
    return status, body


@asynccontextmanager
async def _viewer(b: RunningBroker, ws_token: str) -> AsyncIterator[tuple[Peer, str]]:
    async with ws_connect(b, "/ws/viewer", origin=b.base_url) as viewer:
        await viewer.say(m.Hello(token=ws_token, client="test-viewer"))
        yield viewer, (await viewer.expect("welcome")).viewer_id


async def _grant(agent: Peer, req: m.ConsentRequest, *perms: str) -> None:
    await agent.say(
        m.ConsentGrant(request_id=req.request_id, viewer_id=req.viewer_id, permissions=perms)
    )


def _events(b: RunningBroker, sid: str) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    records = load_records(b.data_dir / "sessions" / sid / "log.jsonl")
    return [(r.event, dict(r.detail)) for r in records]


async def test_transfer_needs_the_clients_consent_and_ends_the_old_engineers_part(
    tmp_path: Path,
) -> None:
    async with running_broker(tmp_path) as b:
        ann, ann_id = await _engineer(b, "ann", "Ann Old")
        bob, bob_id = await _engineer(b, "bob", "Bob New")
        cat, _ = await _engineer(b, "cat", "Cat Other")
        admin = await b.login(b.admin_username, b.admin_password)
        await subscribe(b, admin, ["session.transferred"])
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            status, body = await _join(b, ann, sid, ["view", "control"])
            assert status == 200, body
            # hostile: Ann keeps a second join token from before the transfer
            _, spare = await _join(b, ann, sid, ["view", "control"])
            async with _viewer(b, body["ws_token"]) as (old, old_vid):
                await _grant(agent, await agent.expect("consent.request"), "view", "control")
                await old.expect("consent.grant")
                await wait_for_row(b, sid, "live")

                # nobody else joins a live session without a hand-over
                assert (await _join(b, bob, sid, ["view"]))[0] == 403
                path = f"/api/v1/sessions/{sid}/transfer"
                status, err, _ = await b.request(
                    "POST", path, token=cat, json={"engineer_id": bob_id}
                )
                assert status == 403, err  # only the session's engineer hands it over
                status, err, _ = await b.request("POST", path, token=ann, json={})
                assert status == 400, err
                status, made, _ = await b.request(
                    "POST", path, token=ann, json={"engineer_id": bob_id}
                )
                assert status == 201 and made["state"] == "pending", made
                assert made["to"] == {"id": bob_id, "name": "Bob New"}
                _, mine, _ = await b.request("GET", "/api/v1/me/handovers", token=bob)
                assert [h["session_id"] for h in mine["handovers"]] == [sid]
                assert (await _join(b, cat, sid, ["view"]))[0] == 403  # not cat's

                status, body = await _join(b, bob, sid, ["view", "control"])
                assert status == 200, body
                async with _viewer(b, body["ws_token"]) as (new, new_vid):
                    req = await agent.expect("consent.request")
                    # the prompt names the new engineer and who hands over
                    assert req.viewer_id == new_vid and req.user.name == "Bob New"
                    assert req.handover is not None and req.handover.kind == "transfer"
                    assert req.handover.by.name == "Ann Old"
                    # before the client answers, the new engineer gets no screen
                    await agent.ws.send(update(5))
                    got = parse_binary(await old.expect_binary())
                    assert isinstance(got, ScreenUpdateFrame) and got.seq == 5
                    await _grant(agent, req, "view", "control")
                    await new.expect("consent.grant")
                    assert new.binary == []

                    # the old engineer is out: told, closed, and its input goes nowhere
                    left = await agent.expect("viewer.left")
                    assert left.viewer_id == old_vid and left.reason == "transferred"
                    code, _ = await old.closed()
                    assert code == 4000
                    service = b.app[RELAY]
                    core = service.backend.session(sid)  # type: ignore[attr-defined]
                    assert core is not None and old_vid not in core.viewer_ids
                    assert not core.consent.holds(old_vid, "control")
                    number = int(old_vid[1:])
                    await core_input(b, sid, old_vid, number)
                    assert not [f for f in agent.binary if parse_binary(f).kind == 0x02]
                    # the new engineer's input is forwarded
                    await new.ws.send(bytes(InputFrame(int(new_vid[1:]), 1, b"\x00" * 32)))
                    forwarded = parse_binary(await agent.expect_binary())
                    assert isinstance(forwarded, InputFrame)
                    assert forwarded.sender == int(new_vid[1:])

                    # the store: the session and ticket are Bob's, the hand-over accepted
                    async def moved() -> bool:
                        s = await queries.get_session(b.app[DB], sid)
                        return s is not None and s.engineer_id == bob_id

                    moved_ok: bool = await eventually(moved, timeout=5, what="engineer is bob")
                    assert moved_ok
                    row = await queries.get_session(b.app[DB], sid)
                    assert row is not None
                    assert row.assigned_engineer_id == bob_id
                    ticket = await queries.get_ticket(b.app[DB], row.ticket_id)
                    assert ticket is not None and ticket.assignee_id == bob_id
                    [h] = await handovers.list_handovers(b.app[DB], sid)
                    assert h.state == "accepted" and h.answered_at_ms is not None
                    # the old engineer can neither rejoin as engineer nor end it, nor
                    # connect with a join token she obtained before the transfer
                    assert (await _join(b, ann, sid, ["view"]))[0] == 403
                    async with ws_connect(b, "/ws/viewer", origin=b.base_url) as stale:
                        await stale.say(m.Hello(token=spare["ws_token"], client="v"))
                        err = await stale.expect("error")
                        assert err.code == "forbidden", err
                        assert (await stale.closed())[0] == 4403  # SPEC §7: forbidden
                    status, _, _ = await b.request(
                        "POST",
                        f"/api/v1/sessions/{sid}/end",
                        token=ann,
                        json={"resolution": "x"},
                    )
                    assert status == 403
                    status, _, _ = await b.request(
                        "POST",
                        f"/api/v1/sessions/{sid}/end",
                        token=bob,
                        json={"resolution": "fixed by Bob"},
                    )
                    assert status == 200

        # the help desk hears of it: session.transferred, valid by its schema
        [hook] = await outbox(b, "session.transferred")
        schema = json.loads((SCHEMAS / "session.transferred.v1.json").read_text())
        Draft202012Validator(schema, format_checker=FormatChecker()).validate(hook)
        assert hook["data"]["from"] == {"id": ann_id, "name": "Ann Old"}
        assert hook["data"]["to"] == {"id": bob_id, "name": "Bob New"}
        assert hook["data"]["session_id"] == sid

        # the evidence: who, to whom, when, the consent result — in this order
        events = _events(b, sid)
        names = [e for e, _ in events]
        granted = max(i for i, (e, d) in enumerate(events) if e == "consent.granted")
        moved_at = names.index("session.transferred")
        assert granted < moved_at
        detail = events[moved_at][1]
        assert detail["from_user_id"] == ann_id and detail["from_name"] == "Ann Old"
        assert detail["to_user_id"] == bob_id and detail["to_name"] == "Bob New"
        assert detail["consent"] == "granted" and detail["request_id"] == req.request_id
        assert ("viewer.left", {"viewer_id": old_vid, "reason": "transferred"}) in [
            (e, {k: d[k] for k in ("viewer_id", "reason") if k in d}) for e, d in events
        ]
        joined = [d for e, d in events if e == "viewer.joined" and d["user_id"] == bob_id]
        assert joined[0]["handover"] == "transfer" and joined[0]["by_user_id"] == ann_id


async def core_input(b: RunningBroker, sid: str, viewer_id: str, number: int) -> None:
    """Input claimed by a viewer that is gone (as if its frame were still in flight)."""
    backend = b.app[RELAY].backend  # type: ignore[attr-defined]
    frame = InputFrame(number, 99, b"\x00" * 32)
    await backend.viewer_binary(sid, viewer_id, frame, bytes(frame))


async def test_a_refused_transfer_changes_nothing(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        ann, ann_id = await _engineer(b, "ann", "Ann Old")
        bob, bob_id = await _engineer(b, "bob", "Bob New")
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            _, body = await _join(b, ann, sid, ["view"])
            async with _viewer(b, body["ws_token"]) as (old, _old_vid):
                await _grant(agent, await agent.expect("consent.request"), "view")
                await old.expect("consent.grant")
                status, _, _ = await b.request(
                    "POST",
                    f"/api/v1/sessions/{sid}/transfer",
                    token=ann,
                    json={"engineer_id": bob_id},
                )
                assert status == 201
                _, body = await _join(b, bob, sid, ["view"])
                async with _viewer(b, body["ws_token"]) as (new, new_vid):
                    req = await agent.expect("consent.request")
                    await agent.say(
                        m.ConsentDeny(
                            request_id=req.request_id, viewer_id=new_vid, permissions=("view",)
                        )
                    )
                    await new.expect("consent.deny")
                    # Ann still sees the screen
                    await agent.ws.send(update(9))
                    got = parse_binary(await old.expect_binary())
                    assert isinstance(got, ScreenUpdateFrame) and got.seq == 9
                    assert new.binary == []

                    async def refused() -> bool:
                        [h] = await handovers.list_handovers(b.app[DB], sid)
                        return h.state == "refused"

                    refused_ok: bool = await eventually(refused, timeout=5, what="refused")
                    assert refused_ok
                    row = await queries.get_session(b.app[DB], sid)
                    assert row is not None and row.engineer_id == ann_id
        events = _events(b, sid)
        [refusal] = [d for e, d in events if e == "session.transfer_refused"]
        assert refusal["consent"] == "denied" and refusal["to_user_id"] == bob_id
        assert "session.transferred" not in [e for e, _ in events]


async def test_an_invited_colleague_sees_nothing_before_the_client_consents(
    tmp_path: Path,
) -> None:
    async with running_broker(tmp_path) as b:
        ann, _ = await _engineer(b, "ann", "Ann Main")
        cat, cat_id = await _engineer(b, "cat", "Cat Colleague")
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            _, body = await _join(b, ann, sid, ["view", "control"])
            async with _viewer(b, body["ws_token"]) as (main, main_vid):
                await _grant(agent, await agent.expect("consent.request"), "view", "control")
                await main.expect("consent.grant")
                status, made, _ = await b.request(
                    "POST",
                    f"/api/v1/sessions/{sid}/invite",
                    token=ann,
                    json={"engineer_id": cat_id},
                )
                assert status == 201 and made["kind"] == "invite", made
                _, body = await _join(b, cat, sid, ["view", "control"])
                async with _viewer(b, body["ws_token"]) as (colleague, col_vid):
                    req = await agent.expect("consent.request")
                    assert req.handover is not None and req.handover.kind == "invite"
                    assert req.user.name == "Cat Colleague"
                    assert req.handover.by.name == "Ann Main"
                    # screen and chat flow to Ann only while the client has not answered
                    await agent.ws.send(update(3))
                    await agent.say(m.Chat(text="my password is on the sticky note"))
                    assert (await main.expect("chat")).text.startswith("my password")
                    # the client grants view only: the colleague holds view, not control
                    await _grant(agent, req, "view")
                    await colleague.expect("consent.grant")
                    assert colleague.binary == []
                    assert not [s for s in colleague.seen if isinstance(s, m.Chat)]
                    logged = [s for s in colleague.seen if isinstance(s, m.LogEvent)]
                    assert all(r.record["event"] != "chat.sent" for r in logged)
                    await colleague.ws.send(bytes(InputFrame(int(col_vid[1:]), 1, b"\x00" * 32)))
                    assert (await colleague.expect("error")).code == "not_granted"
                    # both are in, each with their own permissions; Ann stays
                    await agent.ws.send(update(4))
                    got = parse_binary(await colleague.expect_binary())
                    assert isinstance(got, ScreenUpdateFrame) and got.seq == 4
                    core = b.app[RELAY].backend.session(sid)  # type: ignore[attr-defined]
                    assert core is not None and set(core.viewer_ids) == {main_vid, col_vid}
                    assert core.consent.permissions(main_vid) == {"view", "control"}
                    assert core.consent.permissions(col_vid) == {"view"}


async def test_a_transfer_to_a_group_picks_its_least_busy_available_engineer(
    tmp_path: Path,
) -> None:
    async with running_broker(tmp_path) as b:
        ann, _ = await _engineer(b, "ann", "Ann Old")
        sid, agent_token = await agent_request(b)
        for username, name, skills in (
            ("dan", "Dan Net", ["network"]),
            ("eve", "Eve Net", ["network"]),
            ("fay", "Fay Print", ["printers"]),
        ):
            await b.create_user(username, "engineer", skills, name=name)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            _, body = await _join(b, ann, sid, ["view"])
            async with _viewer(b, body["ws_token"]) as (old, _vid):
                await _grant(agent, await agent.expect("consent.request"), "view")
                await old.expect("consent.grant")
                path = f"/api/v1/sessions/{sid}/transfer"
                status, err, _ = await b.request("POST", path, token=ann, json={"group": "network"})
                assert status == 409, err  # nobody of the group said they are available
                for user in ("dan", "eve", "fay"):
                    found = await queries.get_user_by_username(b.app[DB], user)
                    assert found is not None
                    await routing_presence(b, found.id, "available")
                status, made, _ = await b.request(
                    "POST", path, token=ann, json={"group": "network"}
                )
                assert status == 201, made
                assert made["to"]["name"] == "Dan Net" and made["group"] == "network"  # tie: name
                status, err, _ = await b.request(
                    "POST", path, token=ann, json={"group": "network", "engineer_id": "x"}
                )
                assert status == 400, err


async def routing_presence(b: RunningBroker, user_id: str, status: str) -> None:
    """Set an engineer's presence in the store (what PUT /me/presence does)."""
    from broker.clock import CLOCK
    from broker.store.queries import routing as rq

    await rq.set_presence(b.app[DB], user_id, status, at=b.app[CLOCK].now_ms())


async def test_a_transfer_or_invite_needs_an_engineer_fit_for_the_ticket(tmp_path: Path) -> None:
    """Review of 2026-12-04: a named target must hold the ticket's skills and work on
    its organisation (as routing and the queue require), must be an enabled engineer,
    and cannot be the session's own engineer; only the holder hands a session over."""
    async with running_broker(tmp_path) as b:
        user, password = await b.create_user("ann", "engineer", ["network"], organisations=["acme"])
        ann = await b.login(user, password)
        found_ann = await queries.get_user_by_username(b.app[DB], user)
        assert found_ann is not None
        ann_id = found_ann.id
        mallory, _ = await _engineer(b, "mal", "Mal Other")
        status, made, _ = await b.request(
            "POST",
            "/api/v1/agent/requests",
            json={"description": "VPN", "client_name": "C", "organisation": "acme"},
        )
        assert status == 201, made
        sid, agent_token = made["session_id"], made["token"]
        await queries.update_ticket(b.app[DB], made["ticket_id"], at=0, skills=["network"])
        ids = {}
        for username, skills, orgs in (
            ("nos", [], ["acme"]),  # no skill
            ("out", ["network"], ["globex"]),  # another organisation
            ("fit", ["network"], ["acme"]),
            ("off", ["network"], ["acme"]),  # disabled below
        ):
            await b.create_user(username, "engineer", skills, organisations=orgs)
            found = await queries.get_user_by_username(b.app[DB], username)
            assert found is not None
            ids[username] = found.id
        await queries.update_user(b.app[DB], ids["off"], disabled=True)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            _, body = await _join(b, ann, sid, ["view"])
            async with _viewer(b, body["ws_token"]) as (old, _vid):
                await _grant(agent, await agent.expect("consent.request"), "view")
                await old.expect("consent.grant")
                for kind in ("transfer", "invite"):
                    path = f"/api/v1/sessions/{sid}/{kind}"
                    for target in ("nos", "out", "off"):
                        status, err, _ = await b.request(
                            "POST", path, token=ann, json={"engineer_id": ids[target]}
                        )
                        assert status == 400, (kind, target, err)
                        assert err["error"]["code"] == "invalid_field", err
                    status, err, _ = await b.request(
                        "POST", path, token=ann, json={"engineer_id": ann_id}
                    )
                    assert status == 400, err  # to oneself
                    status, err, _ = await b.request(
                        "POST", path, token=mallory, json={"engineer_id": ids["fit"]}
                    )
                    assert status == 403, err  # not the holder
                assert await handovers.list_handovers(b.app[DB], sid) == []
                status, made, _ = await b.request(
                    "POST",
                    f"/api/v1/sessions/{sid}/transfer",
                    token=ann,
                    json={"engineer_id": ids["fit"]},
                )
                assert status == 201, made


async def test_an_accepted_transfer_cancels_the_old_engineers_other_offers(
    tmp_path: Path,
) -> None:
    """Review of 2026-12-04: Ann invited Bob, then handed the session to Carl; after the
    client accepted Carl, Bob's invitation (Ann's offer) stayed pending and let him join
    Carl's session "invited by Ann". It is cancelled with the accepted transfer."""
    async with running_broker(tmp_path) as b:
        _, ann_id = await _engineer(b, "ann", "Ann Old")
        _, bob_id = await _engineer(b, "bob", "Bob Colleague")
        _, carl_id = await _engineer(b, "carl", "Carl New")
        sid, _ = await agent_request(b)
        db = b.app[DB]
        invite = await handovers.create_handover(
            db, sid, kind="invite", from_user_id=ann_id, to_user_id=bob_id, group=None, at=1
        )
        move = await handovers.create_handover(
            db, sid, kind="transfer", from_user_id=ann_id, to_user_id=carl_id, group=None, at=2
        )
        assert (await handovers.pending_handover(db, sid, bob_id)) is not None
        await handovers.answer_handover(db, move.id, "accepted", at=3)
        assert await handovers.pending_handover(db, sid, bob_id) is None
        states = {h.id: h.state for h in await handovers.list_handovers(db, sid)}
        assert states == {invite.id: "cancelled", move.id: "accepted"}
        row = await queries.get_session(db, sid)
        assert row is not None and row.engineer_id == carl_id
