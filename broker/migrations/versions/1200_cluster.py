"""Cluster state (issue 15): ``relay_homes`` (the node running each live session's
core, claimed atomically) and ``rate_buckets`` (token buckets shared by every node,
e.g. the agent-request limit).

Revision ID: 1200_cluster
Revises: 1100_ticket_sync
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1200_cluster"
down_revision: str | None = "1100_ticket_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "relay_homes",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("node_url", sa.String(255), nullable=True),
        sa.Column("claimed_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("full_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_rate_buckets_full_at_ms", "rate_buckets", ["full_at_ms"])


def downgrade() -> None:
    op.drop_index("ix_rate_buckets_full_at_ms", "rate_buckets")
    op.drop_table("rate_buckets")
    op.drop_table("relay_homes")
