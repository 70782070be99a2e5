"""Cluster state shared by every broker node on one store (DESIGN §8, issue 15).

* ``relay_homes`` — which node runs each live session's core (its **home**), claimed
  atomically: two nodes that both see an agent's first connection cannot both take the
  session (:func:`claim_home` is one ``INSERT … ON CONFLICT DO UPDATE … WHERE``, a
  compare-and-set the database serialises). The row also carries the node's own URL
  through the load balancer, which a viewer's join answers so that its WebSocket lands
  on the home and the frames stay in one process.
* ``rate_buckets`` — token buckets (:class:`protocol.pacing.TokenBucket`, stored as
  the moment each is full again) taken from in one atomic statement (:func:`take_token`):
  the agent-request limit counted once for all nodes, not once per process.

Times are epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, String, case, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from broker.store.db import Database
from broker.store.models import Base

__all__ = [
    "RateBucketModel",
    "RelayHome",
    "RelayHomeModel",
    "claim_home",
    "get_bucket",
    "get_home",
    "release_home",
    "take_token",
]


class RelayHomeModel(Base):
    """The node running a live session's core."""

    __tablename__ = "relay_homes"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(128))
    node_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    claimed_at_ms: Mapped[int] = mapped_column(BigInteger)


class RateBucketModel(Base):
    """One key's :class:`protocol.pacing.TokenBucket`, as the moment it is full again."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    full_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)


@dataclass(frozen=True, slots=True)
class RelayHome:
    """Who holds a session."""

    session_id: str
    node_id: str
    node_url: str | None


def _insert(db: Database) -> Any:
    """The dialect's INSERT with ``on_conflict_do_update`` (SQLite or PostgreSQL)."""
    return (sqlite if db.is_sqlite else postgresql).insert


async def claim_home(
    db: Database,
    session_id: str,
    node_id: str,
    node_url: str | None,
    *,
    at: int,
    takeover_from: str | None = None,
) -> str:
    """Claim ``session_id`` for ``node_id``; return the node that holds it afterwards
    (``node_id`` when the claim won). A row held by another node is only taken when
    that node is ``takeover_from`` (the caller saw it fail): compare-and-set, so of two
    nodes racing exactly one wins."""
    table = RelayHomeModel.__table__
    holders = [table.c.node_id == node_id]
    if takeover_from is not None:
        holders.append(table.c.node_id == takeover_from)
    stmt = (
        _insert(db)(table)
        .values(session_id=session_id, node_id=node_id, node_url=node_url, claimed_at_ms=at)
        .on_conflict_do_update(
            index_elements=[table.c.session_id],
            set_={"node_id": node_id, "node_url": node_url, "claimed_at_ms": at},
            where=or_(*holders),
        )
        .returning(table.c.node_id)
    )
    async with db.sessions.begin() as s:
        won = (await s.execute(stmt)).scalar_one_or_none()
        if won is not None:
            return str(won)
        holder = await s.scalar(select(table.c.node_id).where(table.c.session_id == session_id))
        return str(holder) if holder is not None else node_id


async def release_home(db: Database, session_id: str, node_id: str) -> None:
    """Forget ``node_id``'s claim on ``session_id`` (the session closed there)."""
    async with db.sessions.begin() as s:
        await s.execute(
            delete(RelayHomeModel).where(
                RelayHomeModel.session_id == session_id, RelayHomeModel.node_id == node_id
            )
        )


async def get_home(db: Database, session_id: str) -> RelayHome | None:
    """The node holding ``session_id``, or None."""
    async with db.sessions() as s:
        m = await s.get(RelayHomeModel, session_id)
        return RelayHome(m.session_id, m.node_id, m.node_url) if m else None


async def get_bucket(db: Database, key: str) -> int | None:
    """The stored bucket of ``key`` (when it is full again), or None."""
    async with db.sessions() as s:
        m = await s.get(RateBucketModel, key)
        return m.full_at_ms if m else None


async def take_token(db: Database, key: str, *, now: int, token_ms: int, burst: int) -> int | None:
    """Take one token from ``key``'s bucket in one atomic statement; None when taken,
    else the bucket's stored form (when it is full again) for the caller's wait.

    The bucket is :class:`protocol.pacing.TokenBucket` kept as the moment it is full
    again (``full_at``), ``token_ms`` per token, ``burst`` tokens: a token is there when
    ``max(full_at, now) + token_ms - now <= burst * token_ms``, and taking it moves
    ``full_at`` to ``max(full_at, now) + token_ms``. As one ``INSERT … ON CONFLICT DO
    UPDATE … WHERE`` the database serialises nodes taking tokens at once (no lost
    update, no retry loop under contention). Buckets full before ``now`` carry nothing:
    a full bucket's hit sweeps them."""
    table = RateBucketModel.__table__
    col = table.c.full_at_ms
    start = case((col > now, col), else_=now)
    stmt = (
        _insert(db)(table)
        .values(key=key, full_at_ms=now + token_ms)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"full_at_ms": start + token_ms},
            where=start + token_ms - now <= burst * token_ms,
        )
        .returning(col)
    )
    async with db.sessions.begin() as s:
        taken = (await s.execute(stmt)).scalar_one_or_none()
        if taken is not None:
            if taken == now + token_ms:  # it was full: sweep the buckets that are
                await s.execute(delete(RateBucketModel).where(col < now))
            return None
        full_at = await s.scalar(select(col).where(table.c.key == key))
        return int(full_at) if full_at is not None else now
