"""Routing, presence and hand-overs (issue 19): ``engineer_presence`` (what each
engineer said: available / busy / away, and when they were last given work) and
``session_handovers`` (transfers of live sessions and invitations of colleagues).

Revision ID: 0800_routing
Revises: 0700_integration
Create Date: 2026-12-04 18:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0800_routing"
down_revision: str | None = "0700_integration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engineer_presence",
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("changed_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_assigned_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "session_handovers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("to_user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("group", sa.String(64), nullable=True),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("answered_at_ms", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_session_handovers_session", "session_handovers", ["session_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_session_handovers_session", table_name="session_handovers")
    op.drop_table("session_handovers")
    op.drop_table("engineer_presence")
