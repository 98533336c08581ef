"""Record which extraction settings produced each article.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 16:46:13.721875

Safe migrations: one concern per revision; use op.batch_alter_table so it runs on SQLite;
data migrations use sa.table() stubs and never import storage.models; write a downgrade().
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("extraction_settings", sa.Text(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    # Not in batch mode: on SQLite a batch rebuilds the table, which drops the full-text
    # search triggers of migration 0001. SQLite 3.35+ drops the column in place.
    op.drop_column("articles", "extraction_settings")
