"""``GET /api/v1/reports/sla``: SLA met %, time to answer and to resolve per engineer,
skill group or organisation over a date range (issue 19; rules in broker/reports.py).

Query: ``from`` and ``to`` — a date (``2026-12-01``; ``to`` includes that whole day,
UTC) or an ISO date-time with an offset (``to`` excluded); default the last 30 days.
``by`` — ``organisation`` (default), ``engineer`` or ``group``. CSV instead of JSON
with ``Accept: text/csv`` or ``?format=csv`` (one header line, one line per row, the
total last).
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from broker.api.body import Query
from broker.clock import CLOCK, iso_ms
from broker.errors import InvalidField
from broker.reports import GROUPINGS, ReportRow, TicketRow, build_report
from broker.sla import store as sla_store
from broker.sla.clock import measure
from broker.sla.contracts import Contract
from broker.store.db import DB, Database
from broker.store.queries import reports as rq

__all__ = ["CSV_COLUMNS", "csv_cell", "sla_report"]

DEFAULT_DAYS = 30
MAX_DAYS = 366
CSV_COLUMNS = (
    "key",
    "label",
    "sessions",
    "answered",
    "sla_met",
    "sla_missed",
    "sla_met_pct",
    "answer_avg_s",
    "answer_median_s",
    "resolved",
    "resolve_avg_s",
    "resolve_median_s",
    "resolution_met",
    "resolution_missed",
    "resolution_met_pct",
)


def _instant(name: str, value: str, *, end: bool) -> int:
    """Epoch ms of a ``from``/``to`` parameter (see the module docstring)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return int(((start + timedelta(days=1)) if end else start).timestamp() * 1000)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidField(name, "must be a date (YYYY-MM-DD) or an ISO date-time") from None
    if moment.tzinfo is None:
        raise InvalidField(name, "a date-time needs its offset (Z or +hh:mm)")
    return int(moment.timestamp() * 1000)


async def _resolution_clocks(db: Database, tickets: list[TicketRow], now: int) -> list[TicketRow]:
    """Each ticket with its resolution clock measured as the SLA scheduler does (its
    tier's contract and calendar, its priority, its status history; broker/sla)."""
    if not tickets:
        return tickets
    out: list[TicketRow] = []
    async with db.sessions() as s:
        contracts: dict[str, Contract] = {}
        changes = await sla_store.status_changes_in(s, [t.id for t in tickets])
        for t in tickets:
            if t.tier not in contracts:
                contracts[t.tier] = await sla_store.contract_in(s, t.tier)
            contract = contracts[t.tier]
            priority = (await sla_store.ticket_sla_in(s, t.id)).priority
            _, rule = contract.rules(priority)
            history = changes.get(t.id) or []
            state = measure(contract.calendar, rule, history, now) if history else None
            out.append(replace(t, resolution_breached=state.breached if state else None))
    return out


#: A text cell starting with one of these is a formula to a spreadsheet (OWASP "CSV
#: injection"); organisation names come from clients and names from the OIDC provider.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: object) -> object:
    """``value`` safe for a spreadsheet: a text cell that would start a formula gets a
    leading apostrophe (shown as text, OWASP's advice); numbers are kept as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(rows: list[ReportRow], total: ReportRow) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in [*rows, total]:
        data = row.as_dict()
        writer.writerow([csv_cell(data[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def _wants_csv(request: web.Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("Accept", "")
    return "text/csv" in accept and "application/json" not in accept


async def sla_report(request: web.Request) -> web.Response:
    """``GET /api/v1/reports/sla?from=&to=&by=&format=`` (module docstring)."""
    query = Query(request, {"from", "to", "by", "format"})
    by = query.opt_choice("by", GROUPINGS) or "organisation"
    fmt = query.opt_choice("format", ("json", "csv"))
    now = request.app[CLOCK].now_ms()
    raw_to, raw_from = query.opt_text("to", max_len=40), query.opt_text("from", max_len=40)
    end = _instant("to", raw_to, end=True) if raw_to else now
    start = _instant("from", raw_from, end=False) if raw_from else end - DEFAULT_DAYS * 86_400_000
    if start >= end:
        raise InvalidField("from", "must be before to")
    if end - start > MAX_DAYS * 86_400_000:
        raise InvalidField("from", f"the range may span at most {MAX_DAYS} days")
    db = request.app[DB]
    sessions, tickets = await rq.report_rows(db, start_ms=start, end_ms=end)
    labels = await rq.engineer_names(db) if by == "engineer" else None
    tickets = await _resolution_clocks(db, tickets, now)
    rows, total = build_report(sessions, tickets, by=by, now_ms=now, labels=labels)
    if _wants_csv(request, fmt):
        first, last = (iso_ms(start) or "")[:10], (iso_ms(end - 1) or "")[:10]
        name = f"sla-{by}-{first}-{last}.csv"
        return web.Response(
            text=_csv(rows, total),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    body: dict[str, Any] = {
        "from": iso_ms(start),
        "to": iso_ms(end),
        "by": by,
        "rows": [r.as_dict() for r in rows],
        "total": total.as_dict(),
    }
    return web.json_response(body)
