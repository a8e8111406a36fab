"""Account links (council, hashed PID → local account) and the operators' audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def upgrade() -> None:
    op.create_table(
        "account_links",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("council_id", sa.String(64), nullable=False),
        sa.Column("hashed_pid", sa.String(64), nullable=False),
        sa.Column("local_account_id", sa.String(255), nullable=False),
        sa.Column("level_of_assurance", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("council_id", "hashed_pid", name="uq_account_links_council_pid"),
    )
    op.create_index("ix_account_links_council_account", "account_links",
                    ["council_id", "local_account_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("council_id", sa.String(64), nullable=False),
        sa.Column("local_account_id", sa.String(255), nullable=True),
        sa.Column("hashed_pid_prefix", sa.String(12), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_index("ix_account_links_council_account", table_name="account_links")
    op.drop_table("account_links")
