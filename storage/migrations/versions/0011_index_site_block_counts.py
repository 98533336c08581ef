"""Index each site's blocks by how many articles hold them: relearning reads the frequent ones.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 07:00:00

Safe migrations: one concern per revision; use op.batch_alter_table so it runs on SQLite;
data migrations use sa.table() stubs and never import storage.models; write a downgrade().
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_site_blocks_page_count", "site_blocks", ["site_id", "page_count"])


def downgrade() -> None:
    op.drop_index("ix_site_blocks_page_count", table_name="site_blocks")
