"""SLA contracts, pure: a tier's calendar, pause statuses, at-risk fraction, targets
per priority and escalation chain, read from and written to JSON with clear errors.

An escalation level says *when* (a fraction of the response or resolution target) and
*to whom*: ``assignee`` (the engineer on the ticket), ``supervisor`` (every
supervisor: hierarchical), ``owner`` (the client's incident manager; supervisors if
the ticket has none) or ``group`` with a ``skill`` (every engineer with that skill:
functional, "to a higher skill group").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from broker.lifecycle import PAUSED_STATUSES
from broker.sla.calendar import Calendar
from broker.sla.clock import ClockRule, resolution_rule, response_rule

__all__ = [
    "DEFAULT_CHAIN",
    "LEVEL_TARGETS",
    "PRIORITIES",
    "Contract",
    "ContractError",
    "Level",
    "Targets",
    "parse_chain",
    "parse_pause",
    "parse_targets",
]

PRIORITIES = ("low", "normal", "high", "urgent")
LEVEL_TARGETS = ("assignee", "supervisor", "owner", "group")
Target = Literal["assignee", "supervisor", "owner", "group"]
ClockName = Literal["response", "resolution"]
MAX_TARGET_S = 365 * 24 * 3600


class ContractError(ValueError):
    """A contract field is invalid; ``field`` names it (``chain[2].at``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Level:
    """One level of an escalation chain (module docstring)."""

    clock: ClockName
    at: float
    to: Target
    skill: str | None = None

    @property
    def key(self) -> str:
        """A stable name of the level: a level is raised once per ticket by this key."""
        return f"{self.clock}:{self.at:g}:{self.to}:{self.skill or ''}"

    def to_json(self) -> dict[str, Any]:
        """The form :func:`parse_chain` reads."""
        data: dict[str, Any] = {"clock": self.clock, "at": self.at, "to": self.to}
        if self.skill:
            data["skill"] = self.skill
        return data


DEFAULT_CHAIN = (
    Level("response", 0.8, "supervisor"),
    Level("resolution", 0.5, "assignee"),
    Level("resolution", 0.8, "supervisor"),
    Level("resolution", 1.0, "owner"),
)


@dataclass(frozen=True, slots=True)
class Targets:
    """Business seconds to respond and to resolve."""

    response_s: int
    resolution_s: int


@dataclass(frozen=True, slots=True)
class Contract:
    """Everything the scheduler needs to run a tier's clocks."""

    tier: str
    calendar: Calendar
    calendar_name: str | None
    pause: frozenset[str]
    at_risk: float
    chain: tuple[Level, ...]
    targets: Mapping[str, Targets]
    remind_after_s: int = 3600  # an unacknowledged level is sent again (0: never)

    def target(self, priority: str) -> Targets:
        """The targets of ``priority`` (``normal``'s if that priority has none)."""
        return self.targets.get(priority) or self.targets["normal"]

    def rules(self, priority: str) -> tuple[ClockRule, ClockRule]:
        """The response and resolution clock rules of ``priority``."""
        t = self.target(priority)
        return (
            response_rule(t.response_s * 1000, self.pause),
            resolution_rule(t.resolution_s * 1000, self.pause),
        )


def parse_pause(value: object) -> frozenset[str]:
    """The statuses in which clocks stand still: a subset of waiting for the client
    and pending a vendor (pausing in other statuses would hide work not done)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContractError("pause_statuses", "must be a list of statuses")
    bad = [v for v in value if v not in PAUSED_STATUSES]
    if bad:
        choices = ", ".join(sorted(PAUSED_STATUSES))
        raise ContractError("pause_statuses", f"{bad[0]!r} cannot pause a clock (only {choices})")
    return frozenset(cast(list[str], value))


def parse_chain(value: object) -> tuple[Level, ...]:
    """An escalation chain: a list of at most 12 ``{"clock", "at", "to", "skill"?}``."""
    if not isinstance(value, list) or len(value) > 12:
        raise ContractError("chain", "must be a list of at most 12 levels")
    levels: list[Level] = []
    for i, item in enumerate(value):
        where = f"chain[{i}]"
        if not isinstance(item, dict) or set(item) - {"clock", "at", "to", "skill"}:
            raise ContractError(where, 'each level is {"clock", "at", "to", "skill"?}')
        clock = item.get("clock")
        if clock not in ("response", "resolution"):
            raise ContractError(f"{where}.clock", "must be response or resolution")
        at = item.get("at")
        if isinstance(at, bool) or not isinstance(at, int | float) or not 0 < at <= 2:
            raise ContractError(f"{where}.at", "must be a fraction of the target in (0, 2]")
        to = item.get("to")
        if to not in LEVEL_TARGETS:
            raise ContractError(f"{where}.to", f"must be one of {', '.join(LEVEL_TARGETS)}")
        skill = item.get("skill")
        if to == "group":
            if not isinstance(skill, str) or not 1 <= len(skill) <= 64:
                raise ContractError(
                    f"{where}.skill", "a group level names a skill (1-64 characters)"
                )
        elif skill is not None:
            raise ContractError(f"{where}.skill", "only a group level has a skill")
        level = Level(cast(ClockName, clock), float(at), cast(Target, to), skill)
        if any(existing.key == level.key for existing in levels):
            raise ContractError(where, "the same level twice")
        levels.append(level)
    return tuple(sorted(levels, key=lambda lv: (lv.clock, lv.at)))


def parse_targets(value: object) -> dict[str, Targets]:
    """``{"normal": {"response_s", "resolution_s"}, …}``; ``normal`` is required (it is
    every other priority's fallback)."""
    if not isinstance(value, dict) or "normal" not in value:
        raise ContractError("targets", 'must be an object with at least "normal"')
    out: dict[str, Targets] = {}
    for priority, item in value.items():
        where = f"targets.{priority}"
        if priority not in PRIORITIES:
            raise ContractError(
                "targets", f"unknown priority {priority!r} ({', '.join(PRIORITIES)})"
            )
        if not isinstance(item, dict) or set(item) != {"response_s", "resolution_s"}:
            raise ContractError(where, 'must be {"response_s", "resolution_s"}')
        values = []
        for name in ("response_s", "resolution_s"):
            v = item[name]
            if isinstance(v, bool) or not isinstance(v, int) or not 60 <= v <= MAX_TARGET_S:
                raise ContractError(f"{where}.{name}", "must be whole seconds, 60 to one year")
            values.append(v)
        out[priority] = Targets(values[0], values[1])
    return out
