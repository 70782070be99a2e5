"""One focused test per defect that tests/broker/test_api_fuzz.py found in the broker."""

from __future__ import annotations

from broker.testing import RunningBroker
from tests.broker.conftest import staff


async def _ticket_count(broker: RunningBroker, token: str) -> int:
    status, body, _ = await broker.request("GET", "/api/v1/tickets?limit=500", token=token)
    assert status == 200
    return len(body["tickets"])


async def test_deeply_nested_json_body_is_a_400_not_a_500(broker: RunningBroker) -> None:
    # json.loads raised RecursionError (not ValueError) on [[[[…]]]]: a logged 500.
    eng = await staff(broker, "erin", "engineer")
    before = await _ticket_count(broker, eng)
    for body in (b"[" * 20_000 + b"]" * 20_000, b'{"title":' * 4_000 + b'"x"' + b"}" * 4_000):
        status, answer, _ = await broker.request(
            "POST",
            "/api/v1/tickets",
            token=eng,
            data=body,
            headers={"Content-Type": "application/json"},
        )
        assert status == 400, answer
        assert answer["error"]["code"] == "bad_request"
        assert "nested too deeply" in answer["error"]["message"]
    assert await _ticket_count(broker, eng) == before


async def test_review_query_integers_out_of_range_are_refused(broker: RunningBroker) -> None:
    # since=-1 / until=-1 / min_rating=-1 were taken as "absent" (a -1 sentinel): 200.
    reviewer = await staff(broker, "rita", "reviewer")
    for path in (
        "/api/v1/review/sessions?since=-1",
        "/api/v1/review/sessions?until=-1",
        "/api/v1/review/sessions?min_rating=-1",
        "/api/v1/review/sessions?recorded=-1",
        "/api/v1/review/dashboard?since=-1&until=-1",
    ):
        status, answer, _ = await broker.request("GET", path, token=reviewer)
        assert status == 400, (path, answer)
        assert answer["error"]["code"] == "invalid_field", path
    # Empty still means absent, as for every query parameter (allowEmptyValue).
    status, answer, _ = await broker.request(
        "GET", "/api/v1/review/sessions?since=&min_rating=", token=reviewer
    )
    assert status == 200, answer


async def test_query_integers_are_plain_decimal(broker: RunningBroker) -> None:
    # int() took " 5", "+5", "1_0" and raised past 4300 digits; all are refused the same way.
    eng = await staff(broker, "erin", "engineer")
    for value in ("%205", "%2B5", "1_0", "5" * 5000, "-", "%EF%BC%95"):
        status, answer, _ = await broker.request("GET", f"/api/v1/tickets?limit={value}", token=eng)
        assert status == 400, (value, answer)
        assert answer["error"] == {"code": "invalid_field", "message": "limit: must be an integer"}
    status, _, _ = await broker.request("GET", "/api/v1/tickets?limit=5", token=eng)
    assert status == 200
