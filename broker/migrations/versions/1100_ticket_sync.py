"""Ticket sync (issue 18): ``tickets.external_source`` (the help desk a reference
belongs to), one ticket per ``(external_source, external_ref)``.

Revision ID: 1100_ticket_sync
Revises: 1000_oidc
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1100_ticket_sync"
down_revision: str | None = "1000_oidc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("external_source", sa.String(64), nullable=True))
    # Existing rows have no source: NULLs are distinct, so old duplicates stay legal.
    op.create_index(
        "uq_tickets_external", "tickets", ["external_source", "external_ref"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_tickets_external", "tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("external_source")
