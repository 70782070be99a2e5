"""Integration accounts (issue 18): ``api_keys`` (hashed, scoped, expiring, revocable)
and ``idempotency_keys`` (the stored responses of POSTs sent with an Idempotency-Key);
an index on ``tickets.external_ref`` for the help desk's exact lookup.

Revision ID: 0700_integration
Revises: 0600_canned_replies
Create Date: 2026-12-03 20:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0700_integration"
down_revision: str | None = "0600_canned_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_used_at_ms", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_idempotency_keys_created_at_ms", "idempotency_keys", ["created_at_ms"]
    )
    op.create_index("ix_tickets_external_ref", "tickets", ["external_ref"])


def downgrade() -> None:
    op.drop_index("ix_tickets_external_ref", "tickets")
    op.drop_table("idempotency_keys")
    op.drop_table("api_keys")
