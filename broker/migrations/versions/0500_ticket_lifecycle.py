"""Tickets: the lifecycle of DESIGN §10 (``open`` becomes ``new``; longer status names),
an assignee and an owner (the client's incident manager), and the history of changes.

Revision ID: 0500_ticket_lifecycle
Revises: 0400_password_change
Create Date: 2026-12-03 20:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0500_ticket_lifecycle"
down_revision: str | None = "0400_password_change"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.alter_column("status", existing_type=sa.String(length=16), type_=sa.String(length=24))
        batch.add_column(sa.Column("assignee_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("owner_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key("fk_tickets_assignee", "users", ["assignee_id"], ["id"])
        batch.create_foreign_key("fk_tickets_owner", "users", ["owner_id"], ["id"])
    op.execute("UPDATE tickets SET status = 'new' WHERE status = 'open'")
    op.create_table(
        "ticket_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticket_history_ticket", "ticket_history", ["ticket_id", "at_ms"])


def downgrade() -> None:
    op.drop_index("ix_ticket_history_ticket", table_name="ticket_history")
    op.drop_table("ticket_history")
    # Statuses the old schema does not know fold back into its nearest one.
    op.execute("UPDATE tickets SET status = 'open' WHERE status IN ('new', 'assigned')")
    op.execute(
        "UPDATE tickets SET status = 'in_progress' "
        "WHERE status IN ('waiting_for_client', 'pending_vendor')"
    )
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_owner", type_="foreignkey")
        batch.drop_constraint("fk_tickets_assignee", type_="foreignkey")
        batch.drop_column("owner_id")
        batch.drop_column("assignee_id")
        batch.alter_column("status", existing_type=sa.String(length=24), type_=sa.String(length=16))
