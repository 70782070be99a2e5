"""Presence lease (issue 19): ``engineer_presence.seen_at_ms`` — when the engineer's
viewer last said it is there. An ``available`` engineer not seen for
``presence_lease_s`` counts as away (a closed browser gets no work pushed).

Revision ID: 1600_presence_lease
Revises: 1500_sla_reminders
Create Date: 2026-12-04 19:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1600_presence_lease"
down_revision: str | None = "1500_sla_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("engineer_presence") as batch:
        batch.add_column(
            sa.Column("seen_at_ms", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("engineer_presence") as batch:
        batch.drop_column("seen_at_ms")
