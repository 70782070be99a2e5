"""Quality review: reviewer scores per session (broker/store/review_models.py).

Revision ID: 0100_reviews
Revises: 0001
Create Date: 2026-11-23 00:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100_reviews"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("reviewer_id", sa.String(length=32), nullable=False),
        sa.Column("overall", sa.Integer(), nullable=False),
        sa.Column("competence", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "reviewer_id", name="uq_reviews_session_reviewer"),
    )
    op.create_index("ix_reviews_session_id", "reviews", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reviews_session_id", table_name="reviews")
    op.drop_table("reviews")
