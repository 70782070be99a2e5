"""The rows service reports are built from (broker/reports.py): sessions and tickets
created in ``[start, end)``, with when each ticket was first resolved or closed."""

from __future__ import annotations

from sqlalchemy import select

from broker.reports import SessionRow, TicketRow
from broker.store.db import Database
from broker.store.models import SessionModel, TicketHistoryModel, TicketModel, UserModel

__all__ = ["engineer_names", "report_rows"]


async def report_rows(
    db: Database, *, start_ms: int, end_ms: int
) -> tuple[list[SessionRow], list[TicketRow]]:
    """Sessions and tickets created in ``[start_ms, end_ms)``."""
    async with db.sessions() as s:
        srows = (
            await s.execute(
                select(SessionModel, TicketModel.organisation, TicketModel.skills)
                .join(TicketModel, TicketModel.id == SessionModel.ticket_id)
                .where(SessionModel.created_at_ms >= start_ms, SessionModel.created_at_ms < end_ms)
            )
        ).all()
        sessions = [
            SessionRow(
                m.created_at_ms,
                m.deadline_ms,
                m.answered_at_ms,
                m.state == "ended",
                m.engineer_id,
                m.assigned_engineer_id,
                org or "",
                tuple(skills or ()),
            )
            for m, org, skills in srows
        ]
        tickets_q = select(TicketModel).where(
            TicketModel.created_at_ms >= start_ms, TicketModel.created_at_ms < end_ms
        )
        tickets = list(await s.scalars(tickets_q))
        done: dict[str, dict[str, int]] = {}
        if tickets:
            moves = await s.execute(
                select(
                    TicketHistoryModel.ticket_id,
                    TicketHistoryModel.new_value,
                    TicketHistoryModel.at_ms,
                )
                .where(
                    TicketHistoryModel.field == "status",
                    TicketHistoryModel.new_value.in_(("resolved", "closed")),
                    TicketHistoryModel.ticket_id.in_([t.id for t in tickets]),
                )
                .order_by(TicketHistoryModel.at_ms)
            )
            for tid, status, at in moves.all():
                done.setdefault(tid, {}).setdefault(str(status), int(at))
        rows = []
        for t in tickets:
            first = done.get(t.id, {})
            rows.append(
                TicketRow(
                    t.created_at_ms,
                    first.get("resolved", first.get("closed")),
                    t.assignee_id,
                    t.organisation or "",
                    tuple(t.skills or ()),
                    t.id,
                    t.tier,
                )
            )
        return sessions, rows


async def engineer_names(db: Database) -> dict[str, str]:
    """User id → display name (for the engineer rows)."""
    async with db.sessions() as s:
        return {
            uid: name for uid, name in (await s.execute(select(UserModel.id, UserModel.name))).all()
        }
