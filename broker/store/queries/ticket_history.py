"""The history of a ticket: every change of a field (who, when, from, to), written in
the same transaction as the change itself, and the lifecycle moves the broker makes on
its own (an engineer answering a session starts the work on its ticket)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.errors import InvalidField
from broker.lifecycle import check_transition
from broker.store.db import Database
from broker.store.models import TicketHistoryModel, TicketModel, UserModel
from broker.store.queries.values import TicketChange, to_change

__all__ = [
    "ASSIGNABLE_ROLES",
    "check_user_field",
    "list_ticket_history",
    "record_change",
    "set_field",
    "start_work",
]

# Who may be a ticket's assignee (a reviewer only watches recordings).
ASSIGNABLE_ROLES = ("engineer", "supervisor", "admin")


def record_change(
    s: AsyncSession,
    ticket_id: str,
    *,
    at: int,
    actor_id: str | None,
    field: str,
    old: str | None,
    new: str | None,
) -> None:
    """Add one history entry (flushed with the caller's transaction)."""
    s.add(
        TicketHistoryModel(
            ticket_id=ticket_id,
            at_ms=at,
            actor_id=actor_id,
            field=field,
            old_value=old,
            new_value=new,
        )
    )


def set_field(
    s: AsyncSession, m: TicketModel, attr: str, value: str | None, *, at: int, actor_id: str | None
) -> bool:
    """Set one field and record it if it changed; whether it did."""
    old = getattr(m, attr)
    if old == value:
        return False
    if attr == "status":
        check_transition(old, str(value))
    setattr(m, attr, value)
    record_change(s, m.id, at=at, actor_id=actor_id, field=attr, old=old, new=value)
    return True


async def check_user_field(
    s: AsyncSession, field: str, user_id: str, roles: tuple[str, ...] | None = None
) -> None:
    """:class:`InvalidField` unless ``user_id`` is an enabled user (with one of ``roles``)."""
    user = await s.get(UserModel, user_id)
    if user is None or user.disabled:
        raise InvalidField(field, f"no enabled user with id {user_id!r}")
    if roles is not None and user.role not in roles:
        raise InvalidField(field, f"a {user.role} cannot be assigned tickets")


def start_work(s: AsyncSession, m: TicketModel, engineer_id: str, at: int) -> None:
    """An engineer answered a session of this ticket: a new or assigned ticket becomes
    theirs (if nobody had it) and in progress, through the lifecycle's own steps."""
    if m.status not in ("new", "assigned"):
        return
    if m.assignee_id is None:
        set_field(s, m, "assignee_id", engineer_id, at=at, actor_id=engineer_id)
    if m.status == "new":
        set_field(s, m, "status", "assigned", at=at, actor_id=engineer_id)
    set_field(s, m, "status", "in_progress", at=at, actor_id=engineer_id)
    m.updated_at_ms = at


async def list_ticket_history(db: Database, ticket_id: str) -> list[TicketChange]:
    """A ticket's changes, oldest first, with the name of who made each."""
    query = (
        select(TicketHistoryModel, UserModel.name)
        .outerjoin(UserModel, UserModel.id == TicketHistoryModel.actor_id)
        .where(TicketHistoryModel.ticket_id == ticket_id)
        .order_by(TicketHistoryModel.at_ms, TicketHistoryModel.id)
    )
    async with db.sessions() as s:
        return [to_change(m, name) for m, name in (await s.execute(query)).all()]
