"""One focused test per defect that tests/broker/test_api_fuzz.py found in the broker."""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from broker.testing import RunningBroker
from tests.broker.conftest import staff

SPEC_PATH = Path(__file__).resolve().parents[2] / "broker" / "openapi.yaml"


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


async def test_repeated_query_parameter_is_refused(broker: RunningBroker) -> None:
    # ?organisation=a&organisation=b was answered 200 using the first value only.
    eng = await staff(broker, "erin", "engineer")
    for path in (
        "/api/v1/tickets?organisation=a&organisation=b",
        "/api/v1/tickets?limit=5&limit=5",
        "/api/v1/sessions?state=live&state=ended",
    ):
        status, answer, _ = await broker.request("GET", path, token=eng)
        assert status == 400, (path, answer)
        assert answer["error"]["code"] == "invalid_field"
        assert "given more than once" in answer["error"]["message"]


async def test_length_limit_counts_the_value_as_sent(broker: RunningBroker) -> None:
    # "\x1c" + 200 characters passed maxLength 200: strip() ate the \x1c before the check.
    eng = await staff(broker, "erin", "engineer")
    before = await _ticket_count(broker, eng)
    status, answer, _ = await broker.request(
        "POST",
        "/api/v1/agent/requests",
        json={"description": "Help", "client_name": "\x1c" + "a" * 200},
    )
    assert status == 400, answer
    assert answer["error"]["message"] == "client_name: must be at most 200 characters"
    status, answer, _ = await broker.request(
        "POST", "/api/v1/tickets", token=eng, json={"title": " " + "t" * 200}
    )
    assert status == 400, answer
    assert await _ticket_count(broker, eng) == before
    status, answer, _ = await broker.request(
        "POST", "/api/v1/agent/requests", json={"description": "Help", "client_name": "a" * 200}
    )
    assert status == 201, answer


async def test_rating_error_codes_are_documented(broker: RunningBroker) -> None:
    # POST /agent/rating answers 409 {"code": "not_ended"}: a code the Error schema lacked.
    spec = yaml.safe_load(SPEC_PATH.read_text())
    error_schema = {"$ref": "#/components/schemas/Error", **spec}
    status, req, _ = await broker.request(
        "POST", "/api/v1/agent/requests", json={"description": "Help", "client_name": "Bo"}
    )
    assert status == 201
    status, answer, _ = await broker.request(
        "POST", "/api/v1/agent/rating", token=req["token"], json={"score": 4}
    )
    assert status == 409 and answer["error"]["code"] == "not_ended", answer
    Draft202012Validator(error_schema).validate(answer)
    codes = spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
    assert {"not_ended", "unavailable"} <= set(codes["enum"])


async def test_explicit_null_for_an_optional_field_is_refused(broker: RunningBroker) -> None:
    # {"as": null} was taken as "absent" (200), though the spec declares no field nullable.
    eng = await staff(broker, "erin", "engineer")
    status, req, _ = await broker.request(
        "POST", "/api/v1/agent/requests", json={"description": "Help", "client_name": "Bo"}
    )
    assert status == 201
    join = f"/api/v1/sessions/{req['session_id']}/join"
    before = await _ticket_count(broker, eng)
    for path, body in (
        (join, {"as": None}),
        (join, {"permissions": None}),
        ("/api/v1/tickets", {"title": "T", "description": None}),
        (
            "/api/v1/agent/requests",
            {"description": "Help", "client_name": "Bo", "organisation": None},
        ),
    ):
        status, answer, _ = await broker.request("POST", path, token=eng, json=body)
        assert status == 400, (path, body, answer)
        assert answer["error"]["code"] == "invalid_field"
        assert "must not be null" in answer["error"]["message"]
    assert await _ticket_count(broker, eng) == before
    status, joined, _ = await broker.request("POST", join, token=eng, json={})
    assert status == 200 and joined["as"] == "engineer"
