"""Keep every date candidate of an article, and what each site shows of its date order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:42:57.878780

Safe migrations: one concern per revision; use op.batch_alter_table so it runs on SQLite;
data migrations use sa.table() stubs and never import storage.models; write a downgrade().
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("date_candidates", sa.JSON(), nullable=False, server_default="[]")
        )

    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dayfirst_votes", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("monthfirst_votes", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("date_order", sa.String(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("date_order")
        batch_op.drop_column("monthfirst_votes")
        batch_op.drop_column("dayfirst_votes")

    # Not in batch mode: on SQLite a batch rebuilds the table, which drops the full-text
    # search triggers of migration 0001. SQLite 3.35+ drops the column in place.
    op.drop_column("articles", "date_candidates")
