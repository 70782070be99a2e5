"""Staff single sign-on with OpenID Connect (issue 18): ``oidc_logins`` (logins under
way, one use each) and ``oidc_identities`` (provider subject → local user).

Revision ID: 1000_oidc
Revises: 0900_organisation_disabled
Create Date: 2026-12-04 18:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1000_oidc"
down_revision: str | None = "0900_organisation_disabled"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_logins",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("return_to", sa.String(300), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_oidc_logins_created_at_ms", "oidc_logins", ["created_at_ms"])
    op.create_table(
        "oidc_identities",
        sa.Column("issuer", sa.String(300), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False, unique=True),
        sa.Column("last_id_token", sa.Text(), nullable=False),
        sa.Column("last_login_ms", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("oidc_identities")
    op.drop_table("oidc_logins")
