"""A link needs no local account id: Verify's matching services answer a bare match.

The link is (council, hashed PID); the council knows the resident by the hashed PID (ADR 0009).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot alter a column in place, so Alembic copies the table.
    with op.batch_alter_table("account_links") as table:
        table.alter_column("local_account_id", existing_type=sa.String(255), nullable=True)


def downgrade() -> None:
    # Links without an account id cannot be kept by revision 0001; they are removed, and the
    # next sign-in of each resident matches again from cycle 1.
    op.execute("DELETE FROM account_links WHERE local_account_id IS NULL")
    with op.batch_alter_table("account_links") as table:
        table.alter_column("local_account_id", existing_type=sa.String(255), nullable=False)
