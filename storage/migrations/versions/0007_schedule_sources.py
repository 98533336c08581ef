"""Scheduled crawls: the source of each run, source leases, HTTP validators.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 17:13:03.089819

Safe migrations: one concern per revision; use op.batch_alter_table so it runs on SQLite;
data migrations use sa.table() stubs and never import storage.models; write a downgrade().
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "http_validators",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_http_validators")),
        sa.UniqueConstraint("url", name=op.f("uq_http_validators_url")),
    )
    op.create_table(
        "source_leases",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_source_leases")),
    )
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_crawl_runs_source"), ["source"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crawl_runs_source"))
        batch_op.drop_column("source")

    op.drop_table("source_leases")
    op.drop_table("http_validators")
