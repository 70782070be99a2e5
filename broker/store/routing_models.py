"""Tables of routing, presence and hand-overs (issue 19): an engineer's presence and
when they were last given work, and the transfers / invitations of live sessions.
Only broker/store/ touches these; callers use :mod:`broker.store.queries.routing`.

Times are epoch milliseconds."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from broker.store.models import Base

__all__ = ["HandoverModel", "PresenceModel"]


class PresenceModel(Base):
    """What an engineer said about themselves (available, busy, away); no row: away."""

    __tablename__ = "engineer_presence"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    changed_at_ms: Mapped[int] = mapped_column(BigInteger)
    # Routing's tie-break: of two equally loaded engineers, the one idle longest wins.
    last_assigned_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    # The lease: when the engineer's viewer last said it is there (0: never).
    seen_at_ms: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class HandoverModel(Base):
    """A transfer of a live session to another engineer, or an invitation of a colleague
    into it. ``state``: pending → accepted (the client consented) | refused | cancelled."""

    __tablename__ = "session_handovers"
    __table_args__ = (Index("ix_session_handovers_session", "session_id", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "transfer" | "invite"
    from_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    to_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    group: Mapped[str | None] = mapped_column(String(64), nullable=True)  # transfer to a group
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    answered_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
