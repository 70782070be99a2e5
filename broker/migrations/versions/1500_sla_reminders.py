"""SLA reminders (issue 19): a raised escalation level nobody acknowledged is sent again
every ``sla_contracts.remind_after_s`` (0: never), at most a few times; the escalation
keeps when it last notified and how many reminders went out. Acknowledging stops them.

Revision ID: 1500_sla_reminders
Revises: 1400_sla
Create Date: 2026-12-04 19:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1500_sla_reminders"
down_revision: str | None = "1400_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sla_contracts",
        sa.Column("remind_after_s", sa.Integer(), nullable=False, server_default="3600"),
    )
    op.add_column("sla_escalations", sa.Column("notified_at_ms", sa.BigInteger(), nullable=True))
    op.add_column(
        "sla_escalations",
        sa.Column("reminders", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("sla_escalations") as batch:
        batch.drop_column("reminders")
        batch.drop_column("notified_at_ms")
    with op.batch_alter_table("sla_contracts") as batch:
        batch.drop_column("remind_after_s")
