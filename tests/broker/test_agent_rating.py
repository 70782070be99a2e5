"""``POST /api/v1/agent/rating``: the client rates the help after the end (also after a
kill, when the socket is gone), with its session token; once; into the store, the
signed review log (the session log is sealed) and the ``session.rated`` webhook."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from audit.bundle import REVIEW
from audit.jsonl import read_jsonl
from broker.api.agent import RATING_WINDOW_S
from broker.auth.setup import TOKENS
from broker.auth.tokens import TokenService
from broker.store import queries
from broker.store.db import DB
from broker.store.webhook_models import WebhookOutboxModel
from broker.testing import FakeClock, RunningBroker
from tests.broker.conftest import staff

RATING = "/api/v1/agent/rating"


async def _ended_session(broker: RunningBroker, clock: FakeClock) -> dict[str, Any]:
    """A client request that was then killed by the client: its REST answer."""
    status, req, _ = await broker.request(
        "POST", "/api/v1/agent/requests", json={"description": "VPN", "client_name": "Ann"}
    )
    assert status == 201
    await queries.mark_ended(broker.app[DB], req["session_id"], "killed_by_client", clock.now_ms())
    assert isinstance(req, dict)
    return req


async def _error(broker: RunningBroker, token: str | None, body: Any, status: int) -> str:
    got, answer, _ = await broker.request("POST", RATING, token=token, json=body)
    assert got == status, answer
    assert isinstance(answer, dict) and isinstance(answer["error"]["code"], str)
    return str(answer["error"]["code"])


async def test_rating_after_a_kill_reaches_store_review_log_and_webhook(
    broker: RunningBroker, clock: FakeClock
) -> None:
    admin = await broker.login(broker.admin_username, broker.admin_password)
    status, _, _ = await broker.request(
        "POST",
        "/api/v1/webhooks",
        token=admin,
        json={"url": "https://helpdesk.example.com/hook", "events": ["session.rated"]},
    )
    assert status == 201
    req = await _ended_session(broker, clock)
    sid = req["session_id"]
    # The agent token (600 s) has expired by now; the window counts from the end.
    clock.advance(RATING_WINDOW_S - 60)
    status, rated, _ = await broker.request(
        "POST", RATING, token=req["token"], json={"score": 2, "comment": "Too slow"}
    )
    assert status == 201, rated
    assert rated == {"session_id": sid, "rating": {"score": 2, "comment": "Too slow"}}
    row = await queries.get_session(broker.app[DB], sid)
    assert row is not None and (row.rating_score, row.rating_comment) == (2, "Too slow")
    review = read_jsonl(broker.data_dir / "sessions" / sid / REVIEW).records
    assert [(r.event, r.actor, dict(r.detail)) for r in review] == [
        ("rating.given", "client", {"score": 2})
    ]
    async with broker.app[DB].sessions() as s:
        outbox = (
            await s.execute(select(WebhookOutboxModel).where(WebhookOutboxModel.subject_id == sid))
        ).scalars()
        assert [o.event_type for o in outbox] == ["session.rated"]
    # Only once: a second rating is refused and changes nothing.
    assert await _error(broker, req["token"], {"score": 5}, 409) == "conflict"
    row = await queries.get_session(broker.app[DB], sid)
    assert row is not None and row.rating_score == 2
    assert len(read_jsonl(broker.data_dir / "sessions" / sid / REVIEW).records) == 1


async def test_not_ended_too_late_and_rated_over_the_socket(
    broker: RunningBroker, clock: FakeClock
) -> None:
    db = broker.app[DB]
    status, live, _ = await broker.request(
        "POST", "/api/v1/agent/requests", json={"description": "Mail", "client_name": "Bo"}
    )
    assert status == 201
    assert await _error(broker, live["token"], {"score": 4}, 409) == "not_ended"
    late = await _ended_session(broker, clock)
    socket = await _ended_session(broker, clock)
    await queries.set_rating(db, socket["session_id"], 3, None)  # what the relay does
    assert await _error(broker, socket["token"], {"score": 4}, 409) == "conflict"
    clock.advance(RATING_WINDOW_S + 1)
    assert await _error(broker, late["token"], {"score": 4}, 410) == "gone"
    for sid in (live["session_id"], late["session_id"]):
        row = await queries.get_session(db, sid)
        assert row is not None and row.rating_score is None


async def test_bad_bodies_are_refused_before_anything_is_written(
    broker: RunningBroker, clock: FakeClock
) -> None:
    req = await _ended_session(broker, clock)
    token = req["token"]
    for body in (
        {"score": 0},
        {"score": 6},
        {"score": "5"},
        {"score": True},
        {"score": None},
        {},
        {"score": 5, "comment": "x" * 1001},
        {"score": 5, "comment": 7},
        {"score": 5, "stars": 5},
        [5],
    ):
        assert await _error(broker, token, body, 400) in ("invalid_field", "bad_request")
    row = await queries.get_session(broker.app[DB], req["session_id"])
    assert row is not None and row.rating_score is None
    assert not (broker.data_dir / "sessions" / req["session_id"] / REVIEW).exists()
    status, ok, _ = await broker.request(
        "POST", RATING, token=token, json={"score": 5, "comment": "y" * 1000}
    )
    assert status == 201 and ok["rating"]["comment"] == "y" * 1000


async def test_only_the_sessions_agent_token_is_accepted(
    broker: RunningBroker, clock: FakeClock
) -> None:
    req = await _ended_session(broker, clock)
    sid = req["session_id"]
    tokens = broker.app[TOKENS]
    engineer = await staff(broker, "erin", "engineer")
    viewer = tokens.issue("u", "engineer", "viewer", session_id=sid, extra={"as": "engineer"})
    forged = TokenService.ephemeral(clock).issue(f"agent:{sid}", "agent", "agent", session_id=sid)
    other = tokens.issue("agent:nope", "agent", "agent", session_id="no-such-session")
    for token in (None, engineer, viewer, forged, other, "not-a-jwt"):
        assert await _error(broker, token, {"score": 1}, 401) == "unauthorized"
    got, answer, _ = await broker.request(
        "POST", RATING, json={"score": 1}, headers={"Authorization": f"Basic {req['token']}"}
    )
    assert got == 401 and answer["error"]["code"] == "unauthorized"
    row = await queries.get_session(broker.app[DB], sid)
    assert row is not None and row.rating_score is None
