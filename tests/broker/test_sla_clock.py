"""SLA calendars and clocks (broker/sla/calendar.py, broker/sla/clock.py), pure:
business hours across a weekend, a holiday and both DST changes; pauses; the response
clock stopping for good; reopen; and Hypothesis properties (additive, inverse,
monotonic, pauses never add time)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.sla.calendar import Calendar, CalendarError
from broker.sla.clock import Change, measure, resolution_rule, response_rule

H = 3_600_000
MIN = 60_000
PAUSE = frozenset({"waiting_for_client", "pending_vendor"})


def at(tz: str, year: int, month: int, day: int, hour: int, minute: int) -> int:
    """Epoch ms of a local wall-clock time in ``tz``."""
    return int(datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def office(tz: str = "Europe/Moscow", holidays: tuple[str, ...] = ()) -> Calendar:
    day = [["09:00", "18:00"]]
    return Calendar.from_json(
        {
            "timezone": tz,
            "hours": {d: day for d in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": list(holidays),
        }
    )


# --- calendars ---------------------------------------------------------------------


def test_a_friday_evening_ticket_runs_out_on_monday() -> None:
    cal = office()
    friday_17 = at("Europe/Moscow", 2027, 1, 15, 17, 0)  # a Friday
    due = cal.add_working(friday_17, 4 * H)
    assert due == at("Europe/Moscow", 2027, 1, 18, 12, 0)  # Monday 12:00
    # The weekend counted nothing: Friday 17:00 → Monday 09:00 is one working hour.
    assert cal.working_ms(friday_17, at("Europe/Moscow", 2027, 1, 18, 9, 0)) == 1 * H
    assert not cal.is_working(at("Europe/Moscow", 2027, 1, 16, 12, 0))  # Saturday noon
    assert cal.is_working(at("Europe/Moscow", 2027, 1, 18, 9, 0))


def test_a_holiday_counts_nothing() -> None:
    cal = office(holidays=("2027-01-18",))  # that Monday is a holiday
    friday_17 = at("Europe/Moscow", 2027, 1, 15, 17, 0)
    assert cal.add_working(friday_17, 4 * H) == at("Europe/Moscow", 2027, 1, 19, 12, 0)
    assert (
        cal.working_ms(
            at("Europe/Moscow", 2027, 1, 18, 0, 0), at("Europe/Moscow", 2027, 1, 19, 0, 0)
        )
        == 0
    )


def test_working_hours_follow_the_local_clock_across_dst() -> None:
    tz = "Europe/Berlin"
    cal = office(tz)
    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer (2027-03-28).
    friday_before = at(tz, 2027, 3, 26, 9, 0)
    monday_after = at(tz, 2027, 3, 29, 9, 0)
    assert datetime.fromtimestamp(friday_before / 1000, ZoneInfo("UTC")).hour == 8
    assert datetime.fromtimestamp(monday_after / 1000, ZoneInfo("UTC")).hour == 7
    # Friday 17:00 + 2 h of business time = Monday 10:00 local, whatever the offset.
    assert cal.add_working(at(tz, 2027, 3, 26, 17, 0), 2 * H) == at(tz, 2027, 3, 29, 10, 0)
    assert cal.working_ms(friday_before, monday_after + 9 * H) == 18 * H


@pytest.mark.parametrize(
    ("day", "hours"),
    [((2027, 3, 28), 23), ((2027, 10, 31), 25), ((2027, 6, 6), 24)],
    ids=["spring-forward", "fall-back", "summer"],
)
def test_a_whole_day_calendar_counts_the_day_dst_makes(
    day: tuple[int, int, int], hours: int
) -> None:
    tz = "Europe/Berlin"
    whole = [["00:00", "24:00"]]
    cal = Calendar.from_json({"timezone": tz, "hours": {"sun": whole}})
    start = at(tz, day[0], day[1], day[2], 0, 0)
    end = at(tz, day[0], day[1], day[2], 23, 59) + MIN
    assert cal.working_ms(start - 6 * H, end + 6 * H) == hours * H


def test_twenty_four_seven_counts_every_millisecond() -> None:
    cal = Calendar.twenty_four_seven()
    assert cal.working_ms(1000, 1000 + 7 * 24 * H + 5) == 7 * 24 * H + 5
    assert cal.add_working(1000, 5 * H) == 1000 + 5 * H


def test_json_round_trip() -> None:
    cal = office("Asia/Yekaterinburg", holidays=("2027-05-01", "2027-01-07"))
    assert Calendar.from_json(cal.to_json()) == cal
    assert cal.to_json()["holidays"] == ["2027-01-07", "2027-05-01"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": 3}, "timezone"),
        ({"hours": {"mon": [["9:00", "18:00"]]}}, "hours.mon"),
        ({"hours": {"mon": [["18:00", "09:00"]]}}, "hours.mon"),
        ({"hours": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}}, "hours.mon"),
        ({"hours": {"mon": [["09:00", "24:01"]]}}, "hours.mon"),
        ({"hours": {"funday": [["09:00", "18:00"]]}}, "hours"),
        ({"hours": {}}, "hours"),
        ({"hours": {"mon": [["09:00", "18:00"]]}, "holidays": ["2027-02-30"]}, "holidays"),
        ({"hours": {"mon": [["09:00", "18:00"]]}, "holidays": [20270101]}, "holidays"),
        ({"colour": "red"}, "colour"),
        ({"always": "yes"}, "always"),
    ],
)
def test_bad_calendars_are_refused_naming_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(CalendarError) as caught:
        Calendar.from_json(data)
    assert caught.value.field == field


# --- clocks --------------------------------------------------------------------------


def test_waiting_for_the_client_pauses_the_resolution_clock() -> None:
    cal = Calendar.twenty_four_seven()
    rule = resolution_rule(8 * H, PAUSE)
    changes = [
        Change(0, "new"),
        Change(1 * H, "in_progress"),
        Change(3 * H, "waiting_for_client"),
        Change(10 * H, "in_progress"),
    ]
    paused = measure(cal, rule, changes, 9 * H)
    assert (paused.state, paused.elapsed_ms, paused.due_ms) == ("paused", 3 * H, None)
    running = measure(cal, rule, changes, 11 * H)
    assert (running.state, running.elapsed_ms) == ("running", 4 * H)
    assert running.due_ms == 15 * H  # 7 h of pause moved the due time by 7 h
    # The same history on a contract that does not pause: the wait counts.
    no_pause = measure(cal, resolution_rule(8 * H, ()), changes, 11 * H)
    assert no_pause.elapsed_ms == 11 * H and no_pause.breached_at_ms == 8 * H


def test_the_response_clock_stops_for_good_at_the_first_answer() -> None:
    cal = Calendar.twenty_four_seven()
    rule = response_rule(2 * H, PAUSE)
    changes = [
        Change(0, "new"),
        Change(30 * MIN, "assigned"),
        Change(1 * H, "in_progress"),
        Change(2 * H, "assigned"),
        Change(5 * H, "in_progress"),
    ]
    state = measure(cal, rule, changes, 10 * H)
    assert (state.state, state.elapsed_ms, state.breached) == ("stopped", 1 * H, False)


def test_reopen_resumes_the_resolution_clock_and_a_breach_is_dated() -> None:
    cal = office()
    t0 = at("Europe/Moscow", 2027, 1, 15, 10, 0)  # Friday 10:00
    rule = resolution_rule(8 * H, PAUSE)
    changes = [
        Change(t0, "new"),
        Change(t0 + 2 * H, "resolved"),
        Change(at("Europe/Moscow", 2027, 1, 18, 9, 0), "in_progress"),
    ]  # reopened Monday
    now = at("Europe/Moscow", 2027, 1, 18, 17, 0)
    state = measure(cal, rule, changes, now)
    assert state.elapsed_ms == 10 * H and state.breached
    assert state.breached_at_ms == at("Europe/Moscow", 2027, 1, 18, 15, 0)
    assert state.reached_at(cal, 0.5) == at("Europe/Moscow", 2027, 1, 18, 11, 0)
    assert state.reached_at(cal, 0.1) == t0 + 48 * MIN
    assert measure(cal, rule, changes, t0 + 3 * H).state == "stopped"


def test_a_clock_outside_working_hours_is_running_but_does_not_move() -> None:
    cal = office()
    sat = at("Europe/Moscow", 2027, 1, 16, 10, 0)
    rule = resolution_rule(1 * H, PAUSE)
    state = measure(cal, rule, [Change(sat, "new")], sat + 5 * H)
    assert (state.state, state.elapsed_ms) == ("running", 0)
    assert state.due_ms == at("Europe/Moscow", 2027, 1, 18, 10, 0)


# --- properties ----------------------------------------------------------------------

ZONES = ("UTC", "Europe/Berlin", "Europe/Moscow", "America/New_York", "Australia/Lord_Howe")
# Two 40-day windows: spring 2027 (New York 14 March, Berlin 28 March, Lord Howe's
# half-hour change 4 April) and autumn 2027 (Lord Howe 3 October, Berlin 31 October,
# New York 7 November): every property is checked across DST changes.
SPRING, AUTUMN = at("UTC", 2027, 3, 1, 0, 0), at("UTC", 2027, 10, 1, 0, 0)
SPAN = 40 * 24 * H


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    if draw(st.integers(0, 9)) == 0:
        return Calendar.twenty_four_seven(draw(st.sampled_from(ZONES)))
    hours = []
    for _ in range(7):
        cuts = sorted(draw(st.sets(st.integers(0, 48), max_size=4)))
        if len(cuts) % 2:
            cuts = cuts[:-1]
        hours.append(tuple((cuts[i] * 30, cuts[i + 1] * 30) for i in range(0, len(cuts), 2)))
    if not any(hours):
        hours[0] = ((540, 1080),)
    days = st.dates(date(2027, 2, 25), date(2027, 4, 15)) | st.dates(
        date(2027, 9, 25), date(2027, 11, 15)
    )
    holidays = draw(st.sets(days, max_size=6))
    return Calendar(draw(st.sampled_from(ZONES)), tuple(hours), frozenset(holidays))


instants = st.integers(SPRING, SPRING + SPAN) | st.integers(AUTUMN, AUTUMN + SPAN)
STATUSES = ("new", "assigned", "in_progress", "waiting_for_client", "pending_vendor", "resolved")


@st.composite
def histories(draw: st.DrawFn) -> list[Change]:
    times = sorted(draw(st.lists(instants, min_size=1, max_size=8)))
    return [Change(times[0], "new")] + [
        Change(t, draw(st.sampled_from(STATUSES))) for t in times[1:]
    ]


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, instants, instants)
def test_working_time_is_additive_and_bounded(cal: Calendar, a: int, b: int, c: int) -> None:
    a, b, c = sorted((a, b, c))
    assert cal.working_ms(a, b) + cal.working_ms(b, c) == cal.working_ms(a, c)
    assert 0 <= cal.working_ms(a, b) <= b - a


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, st.integers(1, 200 * H))
def test_add_working_is_the_earliest_instant_with_that_much_work(
    cal: Calendar, start: int, work: int
) -> None:
    due = cal.add_working(start, work)
    assert cal.working_ms(start, due) == work
    assert cal.working_ms(start, due - 1) == work - 1  # not one millisecond later than needed


@settings(max_examples=150, deadline=None)
@given(calendars(), histories(), instants, instants, st.booleans())
def test_clocks_are_monotonic(
    cal: Calendar, changes: list[Change], n1: int, n2: int, response: bool
) -> None:
    n1, n2 = sorted((n1, n2))
    make = response_rule if response else resolution_rule
    rule = make(10 * H, PAUSE)
    s1, s2 = measure(cal, rule, changes, n1), measure(cal, rule, changes, n2)
    assert s1.elapsed_ms <= s2.elapsed_ms
    if s1.breached:
        assert s2.breached_at_ms == s1.breached_at_ms  # a breach never moves or heals
    assert s2.elapsed_ms <= sum(b - a for a, b in s2.segments)
    if s2.state == "running" and s2.due_ms is not None and not s2.breached:
        assert cal.working_ms(n2, s2.due_ms) == s2.remaining_ms


@settings(max_examples=150, deadline=None)
@given(calendars(), histories(), instants, instants, instants, st.sampled_from(sorted(PAUSE)))
def test_a_pause_never_adds_time_and_stands_still(
    cal: Calendar, changes: list[Change], p1: int, p2: int, now: int, pause: str
) -> None:
    p1, p2 = sorted((p1, p2))
    rule = resolution_rule(10 * H, PAUSE)

    # Insert a pause [p1, p2) into the history; after it the status before p1 resumes.
    def status_at(t: int) -> str:
        return [c.status for c in changes if c.at_ms <= t][-1] if changes[0].at_ms <= t else "new"

    kept = [c for c in changes if not p1 <= c.at_ms < p2]
    with_pause = sorted(
        [*kept, Change(p1, pause), Change(p2, status_at(p2))], key=lambda c: c.at_ms
    )
    if p1 < changes[0].at_ms:
        return  # a pause before the ticket existed is not a history
    before = measure(cal, rule, changes, now)
    after = measure(cal, rule, with_pause, now)
    assert after.elapsed_ms <= before.elapsed_ms
    # Inside the pause the clock stands still.
    if p1 < now <= p2:
        assert (
            measure(cal, rule, with_pause, now).elapsed_ms
            == measure(cal, rule, with_pause, p1).elapsed_ms
        )


@settings(max_examples=60, deadline=None)
@given(instants, st.lists(st.integers(1, 5 * H), max_size=5), st.integers(0, 20 * H))
def test_twenty_four_seven_without_pauses_is_wall_time(
    start: int, gaps: list[int], extra: int
) -> None:
    cal = Calendar.twenty_four_seven()
    changes = [Change(start, "new")]
    t = start
    for i, gap in enumerate(gaps):
        t += gap
        changes.append(Change(t, ("assigned", "in_progress")[i % 2]))
    now = t + extra
    state = measure(cal, resolution_rule(1000 * H, ()), changes, now)
    assert state.elapsed_ms == now - start
