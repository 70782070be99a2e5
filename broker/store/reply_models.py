"""Canned replies: short chat texts supervisors keep for engineers ("Please restart the
computer and tell me when it is back"). Times are epoch milliseconds."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from broker.errors import NotFound
from broker.store.db import Database
from broker.store.models import Base
from broker.store.queries import new_id

__all__ = [
    "CannedReply",
    "CannedReplyModel",
    "create_reply",
    "delete_reply",
    "list_replies",
    "update_reply",
]


class CannedReplyModel(Base):
    """One canned reply."""

    __tablename__ = "canned_replies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class CannedReply:
    """A canned reply as the API shows it."""

    id: str
    title: str
    text: str
    created_by: str | None
    created_at_ms: int


def _value(m: CannedReplyModel) -> CannedReply:
    return CannedReply(m.id, m.title, m.text, m.created_by, m.created_at_ms)


async def list_replies(db: Database) -> list[CannedReply]:
    """Every canned reply, by title."""
    async with db.sessions() as s:
        rows = await s.scalars(select(CannedReplyModel).order_by(CannedReplyModel.title))
        return [_value(m) for m in rows]


async def create_reply(
    db: Database, *, title: str, text: str, created_by: str | None, at: int
) -> CannedReply:
    """Add a canned reply."""
    async with db.sessions.begin() as s:
        m = CannedReplyModel(
            id=new_id(), title=title, text=text, created_by=created_by, created_at_ms=at
        )
        s.add(m)
        await s.flush()
        return _value(m)


async def delete_reply(db: Database, reply_id: str) -> None:
    """Remove a canned reply; :class:`NotFound` if there is none."""
    async with db.sessions.begin() as s:
        m = await s.get(CannedReplyModel, reply_id)
        if m is None:
            raise NotFound("no such canned reply")
        await s.delete(m)


async def update_reply(
    db: Database, reply_id: str, *, title: str | None, text: str | None
) -> CannedReply:
    """Change a canned reply's title and/or text; :class:`NotFound` if there is none."""
    async with db.sessions.begin() as s:
        m = await s.get(CannedReplyModel, reply_id)
        if m is None:
            raise NotFound("no such canned reply")
        if title is not None:
            m.title = title
        if text is not None:
            m.text = text
        await s.flush()
        return _value(m)
