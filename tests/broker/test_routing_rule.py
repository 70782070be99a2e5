"""The routing choice rule (broker/routing.py) and effective presence
(broker/presence.py), pure: least busy, ties, skills, presence, capacity, organisation."""

from __future__ import annotations

from broker.presence import effective
from broker.routing import Candidate, choose


def eng(
    username: str,
    *,
    load: int = 0,
    skills: tuple[str, ...] = (),
    presence: str = "available",
    last: int = 0,
    orgs: tuple[str, ...] = (),
) -> Candidate:
    return Candidate(
        f"id-{username}", username, frozenset(skills), frozenset(orgs), presence, load, last
    )


def pick(
    cands: list[Candidate],
    skills: tuple[str, ...] = (),
    org: str = "",
    *,
    capacity: int = 3,
    see_all: bool = False,
) -> str | None:
    chosen = choose(cands, skills, org, capacity=capacity, see_all=see_all)
    return chosen.username if chosen else None


def test_the_least_busy_engineer_gets_the_request() -> None:
    assert pick([eng("ann", load=2), eng("bob", load=0), eng("cat", load=1)]) == "bob"


def test_a_tie_goes_to_the_one_idle_longest_then_by_username() -> None:
    assert pick([eng("ann", load=1, last=500), eng("bob", load=1, last=100)]) == "bob"
    assert pick([eng("bob", load=1, last=100), eng("ann", load=1, last=100)]) == "ann"
    # idleness only breaks ties: a busier engineer idle for longer still loses
    assert pick([eng("ann", load=2, last=0), eng("bob", load=1, last=900)]) == "bob"


def test_only_engineers_with_every_required_skill_qualify() -> None:
    cands = [eng("ann", skills=("printers",)), eng("bob", load=2, skills=("network", "printers"))]
    assert pick(cands, ("network",)) == "bob"
    assert pick(cands, ("network", "printers")) == "bob"
    assert pick(cands, ("printers",)) == "ann"
    assert pick(cands, ("windows",)) is None


def test_only_available_engineers_below_capacity_get_work() -> None:
    assert pick([eng("ann", presence="away"), eng("bob", presence="busy")]) is None
    assert pick([eng("ann", presence="away"), eng("bob", load=2)]) == "bob"
    assert pick([eng("ann", load=3), eng("bob", load=3)], capacity=3) is None
    assert pick([eng("ann", load=3), eng("bob", load=2)], capacity=3) == "bob"


def test_the_tickets_organisation_must_be_the_engineers() -> None:
    cands = [eng("ann", orgs=("acme",)), eng("bob", orgs=("globex",))]
    assert pick(cands, org="globex") == "bob"
    assert pick(cands, org="initech") is None
    assert pick(cands, org="initech", see_all=True) == "ann"
    assert pick(cands, org="") == "ann"  # a ticket of no organisation is for everyone


def test_effective_presence_derives_busy_from_live_sessions() -> None:
    assert effective("available", 0, 2) == "available"
    assert effective("available", 1, 2) == "available"
    assert effective("available", 2, 2) == "busy"
    assert effective("away", 5, 2) == "away"  # away stays away
    assert effective("busy", 0, 2) == "busy"  # set by hand
    assert effective(None, 0, 2) == "away"  # never set: nothing is pushed to them


def test_an_available_engineer_whose_viewer_went_quiet_is_away() -> None:
    lease = {"now_ms": 200_000, "lease_ms": 120_000}
    assert effective("available", 0, 2, seen_ms=100_000, **lease) == "available"
    assert effective("available", 0, 2, seen_ms=79_999, **lease) == "away"
    # a live session shows they are there, whatever the lease says
    assert effective("available", 1, 2, seen_ms=0, **lease) == "available"
    assert effective("busy", 0, 2, seen_ms=0, **lease) == "busy"
