"""Security hardening (issue 14): users' organisations, token revocation and MFA
columns; organisations with their contract tier; spent single-use token ids.

Revision ID: 0300_security
Revises: 0200_webhooks
Create Date: 2026-12-03 18:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0300_security"
down_revision: str | None = "0200_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("organisations", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(
            sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("mfa_secret", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("mfa_recovery", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "organisations",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tier"], ["sla_tiers.name"]),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "spent_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    op.create_index("ix_spent_tokens_expires_at_ms", "spent_tokens", ["expires_at_ms"])


def downgrade() -> None:
    op.drop_index("ix_spent_tokens_expires_at_ms", table_name="spent_tokens")
    op.drop_table("spent_tokens")
    op.drop_table("organisations")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("mfa_recovery")
        batch.drop_column("mfa_secret")
        batch.drop_column("token_generation")
        batch.drop_column("organisations")
