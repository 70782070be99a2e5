"""Business-hours calendars (DESIGN §10): a time zone, working hours per weekday and
holidays — or 24×7. Pure: no I/O, no clock; every instant is epoch milliseconds (UTC).

Working hours are local wall-clock times, converted through :mod:`zoneinfo` day by
day, so a DST change moves the UTC instants of "09:00" and a 00:00–24:00 day that has
23 or 25 hours counts 23 or 25 hours. A local time that does not exist (the hour the
clocks skip) is read with the offset in force before the change, as :mod:`datetime`
does with ``fold=0``; an interval that ends up empty that way counts nothing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "WEEKDAYS",
    "Calendar",
    "CalendarError",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
# How far add_working looks ahead before it gives up (a calendar whose holidays cover
# years has no business time to offer: say so instead of looping).
MAX_SEARCH_DAYS = 3 * 366
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")

Span = tuple[int, int]  # minutes after local midnight, start < end <= 1440


class CalendarError(ValueError):
    """A calendar definition is invalid, or has no working time where one is needed.
    ``field`` names the part at fault (``timezone``, ``hours.mon``, ``holidays``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _minutes(text: object, where: str) -> int:
    if not isinstance(text, str) or not (m := _HHMM.match(text)):
        raise CalendarError(where, f"{text!r} is not a time HH:MM (00:00-24:00)")
    value = int(m.group(1)) * 60 + int(m.group(2))
    if value > DAY_MINUTES:
        raise CalendarError(where, f"{text!r} is after 24:00")
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _check_spans(spans: Sequence[Span], where: str) -> tuple[Span, ...]:
    ordered = tuple(sorted(spans))
    for start, end in ordered:
        if not 0 <= start < end <= DAY_MINUTES:
            raise CalendarError(where, f"{_hhmm(start)}-{_hhmm(end)} is not a span of the day")
    for (_, end), (start, _) in itertools.pairwise(ordered):
        if start < end:
            raise CalendarError(where, "working spans overlap")
    return ordered


@dataclass(frozen=True, slots=True)
class Calendar:
    """When the SLA clock may run. ``hours[i]`` are the working spans of weekday ``i``
    (Monday = 0) in local minutes; ``holidays`` are local dates with no working time;
    ``always`` (24×7) ignores both."""

    timezone: str = "UTC"
    hours: tuple[tuple[Span, ...], ...] = ((),) * 7
    holidays: frozenset[date] = field(default_factory=frozenset)
    always: bool = False

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError("timezone", f"unknown time zone {self.timezone!r}") from exc
        if len(self.hours) != 7:
            raise CalendarError("hours", "needs one entry per weekday (7)")
        for name, spans in zip(WEEKDAYS, self.hours, strict=True):
            _check_spans(spans, f"hours.{name}")
        if not self.always and not any(self.hours):
            raise CalendarError("hours", "a business-hours calendar needs some working hours")

    # --- construction ------------------------------------------------------------------

    @classmethod
    def twenty_four_seven(cls, timezone: str = "UTC") -> Calendar:
        """The 24×7 calendar: every millisecond counts."""
        return cls(timezone=timezone, always=True)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calendar:
        """Read ``{"timezone", "always"?, "hours": {"mon": [["09:00", "18:00"]], …},
        "holidays": ["2027-01-01", …]}``; :class:`CalendarError` names what is wrong."""
        unknown = set(data) - {"timezone", "always", "hours", "holidays"}
        if unknown:
            raise CalendarError(sorted(unknown)[0], "unknown field")
        timezone = data.get("timezone", "UTC")
        if not isinstance(timezone, str):
            raise CalendarError("timezone", "must be a time zone name such as Europe/Moscow")
        always = data.get("always", False)
        if not isinstance(always, bool):
            raise CalendarError("always", "must be true or false")
        raw_hours = data.get("hours", {})
        if not isinstance(raw_hours, Mapping):
            raise CalendarError("hours", 'must be an object such as {"mon": [["09:00", "18:00"]]}')
        bad_days = set(raw_hours) - set(WEEKDAYS)
        if bad_days:
            raise CalendarError("hours", f"unknown weekday {sorted(bad_days)[0]!r}")
        hours: list[tuple[Span, ...]] = []
        for name in WEEKDAYS:
            where = f"hours.{name}"
            spans = raw_hours.get(name, [])
            if not isinstance(spans, list) or len(spans) > 8:
                raise CalendarError(where, "must be a list of at most 8 [start, end] pairs")
            parsed: list[Span] = []
            for pair in spans:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise CalendarError(where, 'each span is ["HH:MM", "HH:MM"]')
                parsed.append((_minutes(pair[0], where), _minutes(pair[1], where)))
            hours.append(_check_spans(parsed, where))
        raw_holidays = data.get("holidays", [])
        if not isinstance(raw_holidays, list) or len(raw_holidays) > 1000:
            raise CalendarError("holidays", "must be a list of at most 1000 dates")
        holidays: set[date] = set()
        for item in raw_holidays:
            if not isinstance(item, str) or len(item) != 10:
                raise CalendarError("holidays", f"{item!r} is not a date YYYY-MM-DD")
            try:
                holidays.add(date.fromisoformat(item))
            except ValueError as exc:
                raise CalendarError("holidays", f"{item!r} is not a date YYYY-MM-DD") from exc
        return cls(
            timezone=timezone, hours=tuple(hours), holidays=frozenset(holidays), always=always
        )

    def to_json(self) -> dict[str, Any]:
        """The form :meth:`from_json` reads."""
        return {
            "timezone": self.timezone,
            "always": self.always,
            "hours": {
                name: [[_hhmm(a), _hhmm(b)] for a, b in spans]
                for name, spans in zip(WEEKDAYS, self.hours, strict=True)
                if spans
            },
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    # --- time ------------------------------------------------------------------------

    def _local_ms(self, day: date, minute: int) -> int:
        """The UTC instant of local ``day`` at ``minute`` (1440 = next midnight)."""
        if minute == DAY_MINUTES:
            day, minute = day + timedelta(days=1), 0
        local = datetime.combine(
            day, time(minute // 60, minute % 60), tzinfo=ZoneInfo(self.timezone)
        )
        return int(local.timestamp()) * 1000

    def _local_date(self, at_ms: int) -> date:
        return datetime.fromtimestamp(at_ms / 1000, tz=ZoneInfo(self.timezone)).date()

    def _spans_from(self, day: date) -> Iterator[Span]:
        """Working spans as UTC millisecond pairs, day by day from local ``day``."""
        done = 0  # end of the last span given: never count an instant twice
        while True:
            if day not in self.holidays:
                for start, end in self.hours[day.weekday()]:
                    # Around a DST gap two local spans can map onto overlapping UTC time.
                    a = max(self._local_ms(day, start), done)
                    b = self._local_ms(day, end)
                    if a < b:
                        yield a, b
                        done = b
            day += timedelta(days=1)

    def is_working(self, at_ms: int) -> bool:
        """Whether the clock may run at ``at_ms``."""
        return self.working_ms(at_ms, at_ms + 1) == 1

    def working_ms(self, start_ms: int, end_ms: int) -> int:
        """Business milliseconds in ``[start_ms, end_ms)`` (0 if ``end <= start``)."""
        if end_ms <= start_ms:
            return 0
        if self.always:
            return end_ms - start_ms
        total = 0
        # Start a day early: a local day's span can begin before its UTC date.
        for a, b in self._spans_from(self._local_date(start_ms) - timedelta(days=1)):
            if a >= end_ms:
                break
            total += max(0, min(b, end_ms) - max(a, start_ms))
        return total

    def add_working(self, start_ms: int, work_ms: int) -> int:
        """The earliest instant ``t >= start_ms`` with ``working_ms(start_ms, t) ==
        work_ms``: when a clock with ``work_ms`` left, running from ``start_ms``, runs
        out. :class:`CalendarError` if the calendar offers no such time within
        :data:`MAX_SEARCH_DAYS`."""
        if work_ms <= 0:
            return start_ms
        if self.always:
            return start_ms + work_ms
        left = work_ms
        first = self._local_date(start_ms) - timedelta(days=1)
        limit = self._local_ms(first + timedelta(days=MAX_SEARCH_DAYS), 0)
        for a, b in self._spans_from(first):
            if a > limit:
                break
            lo = max(a, start_ms)
            if lo >= b:
                continue
            if b - lo >= left:
                return lo + left
            left -= b - lo
        raise CalendarError("holidays", "no working time left in the next three years")

    def describe_utc(self, at_ms: int) -> str:
        """``at_ms`` as local time in the calendar's zone (for logs and e-mails)."""
        local = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(ZoneInfo(self.timezone))
        return local.strftime("%Y-%m-%d %H:%M %Z")
