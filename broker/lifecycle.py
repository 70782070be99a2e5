"""The ticket lifecycle (DESIGN §10) as one pure table: which status may follow which.

new → assigned → in_progress → waiting_for_client / pending_vendor → resolved → closed,
and reopen (resolved or closed → in_progress). No I/O: the store and the API ask
:func:`check_transition` before they write, and a refused move answers 409.
"""

from __future__ import annotations

from broker.errors import Conflict

__all__ = [
    "PAUSED_STATUSES",
    "TICKET_STATUSES",
    "TRANSITIONS",
    "allowed",
    "check_transition",
]

TICKET_STATUSES = (
    "new",
    "assigned",
    "in_progress",
    "waiting_for_client",
    "pending_vendor",
    "resolved",
    "closed",
)

# Statuses in which the ticket waits on somebody outside the help desk (the client or a
# vendor): the resolution clock does not run in them.
PAUSED_STATUSES = frozenset({"waiting_for_client", "pending_vendor"})

TRANSITIONS: dict[str, frozenset[str]] = {
    # The first line assigns it, answers it at once, or closes a duplicate.
    "new": frozenset({"assigned", "resolved", "closed"}),
    # Back to the first line ("new") if the engineer cannot take it.
    "assigned": frozenset({"new", "in_progress", "resolved"}),
    "in_progress": frozenset({"assigned", "waiting_for_client", "pending_vendor", "resolved"}),
    "waiting_for_client": frozenset({"in_progress", "resolved"}),
    "pending_vendor": frozenset({"in_progress", "resolved"}),
    # The client confirms (closed) or it did not work after all (reopen).
    "resolved": frozenset({"closed", "in_progress"}),
    "closed": frozenset({"in_progress"}),  # reopen
}


def allowed(current: str, new: str) -> bool:
    """Whether a ticket in ``current`` may move to ``new`` (staying put is always fine:
    a help desk syncing the same status twice is not an error)."""
    return current == new or new in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, new: str) -> None:
    """:class:`Conflict` (409) naming the moves there are, if ``current → new`` is refused."""
    if not allowed(current, new):
        choices = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "none"
        raise Conflict(
            f"a ticket cannot go from {current!r} to {new!r}; from {current!r} it may go to: "
            f"{choices}"
        )
