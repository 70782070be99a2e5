"""Organisations: ``disabled`` — an admin can switch off an organisation whose contract
ended (no new tickets or client requests name it; its history stays).

Revision ID: 0900_organisation_disabled
Revises: 0800_routing
Create Date: 2026-12-04 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0900_organisation_disabled"
down_revision: str | None = "0800_routing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(
            sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("disabled")
