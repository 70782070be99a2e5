"""Service reports (issue 19), pure: SLA met %, time to answer and time to resolve,
per engineer, skill group or organisation, over a date range.

The inputs are rows the store gives (:class:`SessionRow`, :class:`TicketRow`); the
rules, in one place:

* a **session counts** in the range when it was *created* in it (``[start, end)``);
* it **met** the answer SLA when an engineer answered it by its deadline; it
  **missed** when it was answered late, or never answered and its deadline has passed
  (ended unanswered, or still waiting); one still waiting before its deadline is
  neither (open). ``sla_met_pct`` = met ÷ (met + missed), or ``None`` with neither;
* **time to answer** is answered − created, over the answered sessions;
* **time to resolve** is the ticket's first move to ``resolved`` (else ``closed``) −
  its creation, over the tickets *created* in the range that got there;
* the **resolution SLA** is the ticket's resolution clock (broker/sla: its contract,
  calendar and pauses): *met* when resolved within its target, *missed* when the target
  was reached (resolved late or still open past it), otherwise open;
* **grouping**: ``engineer`` — who answered the session (else who it was assigned to;
  else "unassigned"), and the ticket's assignee for resolution; ``group`` — each skill
  the ticket requires (a ticket requiring two counts in both; none: the general
  group ``""``); ``organisation`` — the ticket's organisation. A ``total`` row covers
  everything once.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "GROUPINGS",
    "ReportRow",
    "SessionRow",
    "TicketRow",
    "build_report",
]

GROUPINGS: Final = ("organisation", "engineer", "group")


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One session as the report needs it."""

    created_ms: int
    deadline_ms: int
    answered_ms: int | None
    ended: bool
    engineer_id: str | None  # who answered
    assigned_id: str | None
    organisation: str
    skills: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TicketRow:
    """One ticket created in the range: when it was first resolved (or closed)."""

    created_ms: int
    resolved_ms: int | None
    assignee_id: str | None
    organisation: str
    skills: tuple[str, ...]
    id: str = ""
    tier: str = ""
    # The resolution clock (broker/sla, the ticket's contract): True once its target was
    # reached, False while within it; None when not measured.
    resolution_breached: bool | None = None


@dataclass(slots=True)
class ReportRow:
    """The figures of one engineer, group or organisation (``key``; ``None``: total)."""

    key: str | None
    label: str
    sessions: int = 0
    answered: int = 0
    met: int = 0
    missed: int = 0
    answer_s: list[float] = field(default_factory=list)
    resolved: int = 0
    resolve_s: list[float] = field(default_factory=list)
    resolution_met: int = 0
    resolution_missed: int = 0

    @property
    def sla_met_pct(self) -> float | None:
        """Met ÷ (met + missed) in per cent, one decimal; None if nothing was due."""
        return _pct(self.met, self.missed)

    @property
    def resolution_met_pct(self) -> float | None:
        """The resolution clock's met ÷ (met + missed), as :attr:`sla_met_pct`."""
        return _pct(self.resolution_met, self.resolution_missed)

    def as_dict(self) -> dict[str, object]:
        """The row as the API (and the CSV) shows it."""
        return {
            "key": self.key,
            "label": self.label,
            "sessions": self.sessions,
            "answered": self.answered,
            "sla_met": self.met,
            "sla_missed": self.missed,
            "sla_met_pct": self.sla_met_pct,
            "answer_avg_s": _avg(self.answer_s),
            "answer_median_s": _median(self.answer_s),
            "resolved": self.resolved,
            "resolve_avg_s": _avg(self.resolve_s),
            "resolve_median_s": _median(self.resolve_s),
            "resolution_met": self.resolution_met,
            "resolution_missed": self.resolution_missed,
            "resolution_met_pct": self.resolution_met_pct,
        }


def _pct(met: int, missed: int) -> float | None:
    due = met + missed
    return None if due == 0 else round(100.0 * met / due, 1)


def _avg(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _session_keys(s: SessionRow, by: str) -> list[str]:
    if by == "engineer":
        return [s.engineer_id or s.assigned_id or ""]
    if by == "group":
        return list(s.skills) or [""]
    return [s.organisation]


def _ticket_keys(t: TicketRow, by: str) -> list[str]:
    if by == "engineer":
        return [t.assignee_id or ""]
    if by == "group":
        return list(t.skills) or [""]
    return [t.organisation]


def _add_session(row: ReportRow, s: SessionRow, now_ms: int) -> None:
    row.sessions += 1
    if s.answered_ms is not None:
        row.answered += 1
        row.answer_s.append((s.answered_ms - s.created_ms) / 1000)
        if s.answered_ms <= s.deadline_ms:
            row.met += 1
        else:
            row.missed += 1
    elif s.ended or now_ms > s.deadline_ms:
        row.missed += 1


def _add_ticket(row: ReportRow, t: TicketRow) -> None:
    if t.resolved_ms is not None:
        row.resolved += 1
        row.resolve_s.append((t.resolved_ms - t.created_ms) / 1000)
    if t.resolution_breached:
        row.resolution_missed += 1  # resolved late, or still open past its target
    elif t.resolution_breached is False and t.resolved_ms is not None:
        row.resolution_met += 1


def build_report(
    sessions: Iterable[SessionRow],
    tickets: Iterable[TicketRow],
    *,
    by: str,
    now_ms: int,
    labels: dict[str, str] | None = None,
) -> tuple[list[ReportRow], ReportRow]:
    """The rows (sorted by label) and the total (module docstring for the rules).
    ``labels`` names keys (engineer ids → names); an empty key is labelled by kind."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {GROUPINGS}")
    names = labels or {}
    empty = {"engineer": "unassigned", "group": "general", "organisation": "none"}[by]
    rows: dict[str, ReportRow] = {}
    total = ReportRow(None, "total")

    def row(key: str) -> ReportRow:
        if key not in rows:
            rows[key] = ReportRow(key, names.get(key, key) if key else empty)
        return rows[key]

    for s in sessions:
        _add_session(total, s, now_ms)
        for key in _session_keys(s, by):
            _add_session(row(key), s, now_ms)
    for t in tickets:
        targets = [total, *(row(key) for key in _ticket_keys(t, by))]
        for r in targets:
            _add_ticket(r, t)
    return sorted(rows.values(), key=lambda r: (r.label.casefold(), r.key or "")), total
