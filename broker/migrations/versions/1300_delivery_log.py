"""Webhook delivery log and summary policy (issue 18): ``webhook_attempts`` (one row
per delivery attempt: status, latency, error, manual), the outbox's
``redeliver_requested_at_ms`` (an admin's redelivery) and ``organisation_policies``
(whether the signed session summary carries the chat).

Revision ID: 1300_delivery_log
Revises: 1200_cluster
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1300_delivery_log"
down_revision: str | None = "1200_cluster"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(32), nullable=False),
        sa.Column("endpoint_id", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "attempt"]
    )
    op.create_index("ix_webhook_attempts_endpoint", "webhook_attempts", ["endpoint_id"])
    op.create_index("ix_webhook_attempts_at", "webhook_attempts", ["at_ms"])
    op.add_column(
        "webhook_outbox", sa.Column("redeliver_requested_at_ms", sa.BigInteger(), nullable=True)
    )
    op.create_table(
        "organisation_policies",
        sa.Column("organisation", sa.String(200), primary_key=True),
        sa.Column("summary_includes_chat", sa.Boolean(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("organisation_policies")
    with op.batch_alter_table("webhook_outbox") as batch:
        batch.drop_column("redeliver_requested_at_ms")
    op.drop_table("webhook_attempts")
