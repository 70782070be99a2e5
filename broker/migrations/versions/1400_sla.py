"""SLA workflow (issue 19): calendars, contracts per tier with targets per priority,
per-ticket priority and client e-mail, escalations and marks recorded once, closure
settings per organisation, staff notification addresses, the mail outbox.

Seeds a contract for each seeded tier (24×7, paused while waiting on the client or a
vendor, at risk at 80 %, the default chain) with targets per priority, and an example
calendar ``office`` (Monday–Friday 09:00–18:00 UTC) that no tier uses yet.

Revision ID: 1400_sla
Revises: 1300_delivery_log
Create Date: 2026-12-04 18:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1400_sla"
down_revision: str | None = "1300_delivery_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

H = 3600
# tier -> priority -> (response_s, resolution_s)
TARGETS = {
    "premium": {
        "urgent": (15 * 60, 4 * H),
        "high": (30 * 60, 8 * H),
        "normal": (1 * H, 24 * H),
        "low": (4 * H, 72 * H),
    },
    "standard": {
        "urgent": (1 * H, 8 * H),
        "high": (2 * H, 16 * H),
        "normal": (4 * H, 40 * H),
        "low": (8 * H, 80 * H),
    },
    "basic": {
        "urgent": (4 * H, 24 * H),
        "high": (8 * H, 40 * H),
        "normal": (16 * H, 80 * H),
        "low": (24 * H, 120 * H),
    },
}
CHAIN = [
    {"clock": "response", "at": 0.8, "to": "supervisor"},
    {"clock": "resolution", "at": 0.5, "to": "assignee"},
    {"clock": "resolution", "at": 0.8, "to": "supervisor"},
    {"clock": "resolution", "at": 1.0, "to": "owner"},
]
OFFICE = {
    "timezone": "UTC",
    "always": False,
    "hours": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": [],
}


def upgrade() -> None:
    calendars = op.create_table(
        "sla_calendars",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
    )
    contracts = op.create_table(
        "sla_contracts",
        sa.Column("tier", sa.String(32), sa.ForeignKey("sla_tiers.name"), primary_key=True),
        sa.Column("calendar", sa.String(64), sa.ForeignKey("sla_calendars.name"), nullable=True),
        sa.Column("pause_statuses", sa.JSON(), nullable=False),
        sa.Column("at_risk_fraction", sa.Float(), nullable=False),
        sa.Column("chain", sa.JSON(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
    )
    targets = op.create_table(
        "sla_targets",
        sa.Column("tier", sa.String(32), sa.ForeignKey("sla_tiers.name"), primary_key=True),
        sa.Column("priority", sa.String(16), primary_key=True),
        sa.Column("response_s", sa.Integer(), nullable=False),
        sa.Column("resolution_s", sa.Integer(), nullable=False),
    )
    op.create_table(
        "ticket_sla",
        sa.Column("ticket_id", sa.String(32), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("client_email", sa.String(254), nullable=True),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "sla_escalations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("ticket_id", sa.String(32), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("level_key", sa.String(160), nullable=False),
        sa.Column("clock", sa.String(16), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("skill", sa.String(64), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("reached_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("raised_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("due_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("acknowledged_at_ms", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("ticket_id", "level_key", name="uq_sla_escalations_level"),
    )
    op.create_index(
        "ix_sla_escalations_open", "sla_escalations", ["acknowledged_at_ms", "raised_at_ms"]
    )
    op.create_table(
        "sla_marks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(32), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("episode", sa.BigInteger(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at_ms", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("ticket_id", "kind", "episode", name="uq_sla_marks_once"),
    )
    op.create_table(
        "organisation_closure",
        sa.Column("organisation", sa.String(200), primary_key=True),
        sa.Column("auto_close_after_s", sa.Integer(), nullable=False),
        sa.Column("email_client", sa.Boolean(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "notify_addresses",
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("to_addr", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger(), nullable=False),
        sa.Column("sent_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["state", "next_attempt_ms"])
    op.bulk_insert(calendars, [{"name": "office", "definition": OFFICE, "updated_at_ms": 0}])
    existing = {row[0] for row in op.get_bind().execute(sa.text("SELECT name FROM sla_tiers"))}
    seeded = [tier for tier in TARGETS if tier in existing]
    op.bulk_insert(
        contracts,
        [
            {
                "tier": tier,
                "calendar": None,
                "at_risk_fraction": 0.8,
                "updated_at_ms": 0,
                "pause_statuses": ["pending_vendor", "waiting_for_client"],
                "chain": CHAIN,
            }
            for tier in seeded
        ],
    )
    op.bulk_insert(
        targets,
        [
            {"tier": tier, "priority": p, "response_s": r, "resolution_s": s}
            for tier in seeded
            for p, (r, s) in TARGETS[tier].items()
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_due", table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_table("notify_addresses")
    op.drop_table("organisation_closure")
    op.drop_table("sla_marks")
    op.drop_index("ix_sla_escalations_open", table_name="sla_escalations")
    op.drop_table("sla_escalations")
    op.drop_table("ticket_sla")
    op.drop_table("sla_targets")
    op.drop_table("sla_contracts")
    op.drop_table("sla_calendars")
