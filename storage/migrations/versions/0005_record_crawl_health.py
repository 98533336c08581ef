"""Record the health of each site in each crawl.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 16:48:17.020250

Safe migrations: one concern per revision; use op.batch_alter_table so it runs on SQLite;
data migrations use sa.table() stubs and never import storage.models; write a downgrade().
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crawl_run_sites",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("median_body_chars", sa.Integer(), nullable=False),
        sa.Column("banner_share", sa.Float(), nullable=False),
        sa.Column("dated_share", sa.Float(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_crawl_run_sites_run_id_crawl_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_crawl_run_sites_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("run_id", "site_id", name=op.f("pk_crawl_run_sites")),
    )
    with op.batch_alter_table("crawl_run_sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crawl_run_sites_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("crawl_run_sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crawl_run_sites_site_id"))

    op.drop_table("crawl_run_sites")
