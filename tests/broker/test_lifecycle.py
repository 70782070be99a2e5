"""The ticket lifecycle table (broker/lifecycle.py): every allowed and every refused move."""

from __future__ import annotations

import itertools

import pytest

from broker.errors import Conflict
from broker.lifecycle import TICKET_STATUSES, TRANSITIONS, allowed, check_transition

# The lifecycle of DESIGN §10, written out once more by hand: a change to the table
# must be a deliberate change to this list too.
EXPECTED = {
    ("new", "assigned"),
    ("new", "resolved"),
    ("new", "closed"),
    ("assigned", "new"),
    ("assigned", "in_progress"),
    ("assigned", "resolved"),
    ("in_progress", "assigned"),
    ("in_progress", "waiting_for_client"),
    ("in_progress", "pending_vendor"),
    ("in_progress", "resolved"),
    ("waiting_for_client", "in_progress"),
    ("waiting_for_client", "resolved"),
    ("pending_vendor", "in_progress"),
    ("pending_vendor", "resolved"),
    ("resolved", "closed"),
    ("resolved", "in_progress"),  # reopen
    ("closed", "in_progress"),  # reopen
}


def test_table_covers_every_status_and_nothing_else() -> None:
    assert set(TRANSITIONS) == set(TICKET_STATUSES)
    assert all(targets <= set(TICKET_STATUSES) for targets in TRANSITIONS.values())


@pytest.mark.parametrize("move", sorted(itertools.product(TICKET_STATUSES, repeat=2)))
def test_every_move(move: tuple[str, str]) -> None:
    current, new = move
    if current == new or move in EXPECTED:
        assert allowed(current, new)
        check_transition(current, new)
    else:
        assert not allowed(current, new)
        with pytest.raises(Conflict) as refused:
            check_transition(current, new)
        assert refused.value.status == 409
        assert f"from {current!r} to {new!r}" in str(refused.value)


def test_unknown_current_status_moves_nowhere() -> None:
    assert not allowed("open", "in_progress")
    with pytest.raises(Conflict, match="none"):
        check_transition("open", "in_progress")
