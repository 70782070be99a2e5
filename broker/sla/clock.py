"""SLA clocks (DESIGN §10), pure: given a calendar, a rule and a ticket's status
changes, how much business time has run, what is left and when it runs out.

A clock is *derived*, never kept: the scheduler recomputes it from the stored history
of status changes each time it looks, so a broker that restarts (or another node)
finds the same figures — there is no timer in memory to lose.

* **Response clock** — from the ticket's creation until somebody works on it (the
  first move to ``in_progress`` or beyond); it stops for good at that point.
* **Resolution clock** — from creation until ``resolved`` / ``closed``; a reopen starts
  it again where it stopped (time spent resolved does not count).
* Both stand still (**pause**) in the contract's pause statuses — by default waiting
  for the client and pending a vendor — and outside the calendar's working time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from broker.sla.calendar import Calendar

__all__ = [
    "RESOLUTION_STOP",
    "RESPONSE_STOP",
    "Change",
    "ClockRule",
    "ClockState",
    "measure",
    "resolution_rule",
    "response_rule",
]

# The first of these answers the client (the response clock stops for good).
RESPONSE_STOP = frozenset(
    {"in_progress", "waiting_for_client", "pending_vendor", "resolved", "closed"}
)
# The resolution clock stops in these; a reopen (→ in_progress) starts it again.
RESOLUTION_STOP = frozenset({"resolved", "closed"})

ClockName = Literal["response", "resolution"]


@dataclass(frozen=True, slots=True)
class Change:
    """The ticket entered ``status`` at ``at_ms`` (the first change is its creation)."""

    at_ms: int
    status: str


@dataclass(frozen=True, slots=True)
class ClockRule:
    """How one clock runs: ``target_ms`` of business time; it stands still in
    ``pause``; it has stopped in ``stop`` (for good after the first one if ``once``)."""

    name: ClockName
    target_ms: int
    pause: frozenset[str]
    stop: frozenset[str]
    once: bool

    def __post_init__(self) -> None:
        if self.target_ms <= 0:
            raise ValueError("an SLA target must be positive")


def response_rule(target_ms: int, pause: Iterable[str]) -> ClockRule:
    """The response clock of a contract (module docstring)."""
    return ClockRule("response", target_ms, frozenset(pause), RESPONSE_STOP, once=True)


def resolution_rule(target_ms: int, pause: Iterable[str]) -> ClockRule:
    """The resolution clock of a contract (module docstring)."""
    return ClockRule("resolution", target_ms, frozenset(pause), RESOLUTION_STOP, once=False)


@dataclass(frozen=True, slots=True)
class ClockState:
    """A clock as of ``now_ms``.

    ``state``: ``running`` (counting now, or waiting for the next working hour),
    ``paused`` (in a pause status) or ``stopped`` (met, or ended). ``due_ms``: when it
    runs out if it keeps running from now (None unless running). ``breached_at_ms``:
    when business time reached the target (None if it has not). ``segments``: the
    wall-clock spans in which the clock ran (the last may end at ``now_ms``)."""

    rule: ClockRule
    now_ms: int
    elapsed_ms: int
    state: Literal["running", "paused", "stopped"]
    due_ms: int | None
    breached_at_ms: int | None
    segments: tuple[tuple[int, int], ...]

    @property
    def target_ms(self) -> int:
        """The business time allowed."""
        return self.rule.target_ms

    @property
    def remaining_ms(self) -> int:
        """Business time left (negative once breached)."""
        return self.rule.target_ms - self.elapsed_ms

    @property
    def fraction(self) -> float:
        """Elapsed ÷ target (1.0 = breached)."""
        return self.elapsed_ms / self.rule.target_ms

    @property
    def breached(self) -> bool:
        """Whether the target was reached (a clock that stopped in time never is)."""
        return self.breached_at_ms is not None

    def reached_at(self, calendar: Calendar, fraction: float) -> int | None:
        """When the clock reached ``fraction`` of its target (None: not yet)."""
        goal = int(self.rule.target_ms * fraction)
        if goal > self.elapsed_ms:
            return None
        done = 0
        for a, b in self.segments:
            part = calendar.working_ms(a, b)
            if done + part >= goal:
                return calendar.add_working(a, goal - done)
            done += part
        return self.segments[0][0] if self.segments else None


def measure(
    calendar: Calendar, rule: ClockRule, changes: Sequence[Change], now_ms: int
) -> ClockState:
    """The clock of a ticket whose status changes are ``changes`` (in time order; the
    first is its creation), as of ``now_ms``. Changes after ``now_ms`` are ignored."""
    ordered = sorted((c for c in changes if c.at_ms <= now_ms), key=lambda c: c.at_ms)
    segments: list[tuple[int, int]] = []
    elapsed = 0
    breached_at: int | None = None
    finished = False  # a once-clock met its stop
    state: Literal["running", "paused", "stopped"] = "stopped"
    for i, change in enumerate(ordered):
        end = ordered[i + 1].at_ms if i + 1 < len(ordered) else now_ms
        if change.status in rule.stop:
            finished = finished or rule.once
            state = "stopped"
            continue
        if finished:
            state = "stopped"
            continue
        if change.status in rule.pause:
            state = "paused"
            continue
        state = "running"
        if end <= change.at_ms:
            continue
        segments.append((change.at_ms, end))
        part = calendar.working_ms(change.at_ms, end)
        if breached_at is None and elapsed + part >= rule.target_ms:
            breached_at = calendar.add_working(change.at_ms, rule.target_ms - elapsed)
        elapsed += part
    due: int | None = None
    if state == "running":
        left = rule.target_ms - elapsed
        due = (
            breached_at
            if left <= 0 and breached_at is not None
            else calendar.add_working(now_ms, left)
        )
    return ClockState(
        rule=rule,
        now_ms=now_ms,
        elapsed_ms=elapsed,
        state=state,
        due_ms=due,
        breached_at_ms=breached_at,
        segments=tuple(segments),
    )
