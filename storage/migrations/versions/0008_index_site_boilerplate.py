"""Index the boilerplate blocks of each site: every stored article reads them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 20:05:00

Safe migrations: one concern per revision; use op.batch_alter_table so it runs on SQLite;
data migrations use sa.table() stubs and never import storage.models; write a downgrade().
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_site_blocks_boilerplate",
        "site_blocks",
        ["site_id"],
        sqlite_where=sa.text("is_boilerplate = 1"),
        postgresql_where=sa.text("is_boilerplate"),
    )


def downgrade() -> None:
    op.drop_index("ix_site_blocks_boilerplate", table_name="site_blocks")
