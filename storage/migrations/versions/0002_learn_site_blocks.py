"""Learn what a site repeats: site blocks, article blocks, raw bodies, banner origins.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 16:35:16.876485

Safe migrations: one concern per revision; use op.batch_alter_table so it runs on SQLite;
data migrations use sa.table() stubs and never import storage.models; write a downgrade().
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_blocks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("is_boilerplate", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_blocks_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_blocks")),
        sa.UniqueConstraint(
            "site_id", "block_hash", name=op.f("uq_site_blocks_site_id_block_hash")
        ),
    )
    op.create_table(
        "article_blocks",
        sa.Column(
            "article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("block_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_blocks_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["site_blocks.id"],
            name=op.f("fk_article_blocks_block_id_site_blocks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "block_id", name=op.f("pk_article_blocks")),
    )
    with op.batch_alter_table("article_blocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_blocks_block_id"), ["block_id"], unique=False)

    with op.batch_alter_table("article_banners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("origin", sa.String(length=10), nullable=False, server_default="page")
        )

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw_body", sa.Text(), nullable=False, server_default=""))

    # Articles archived before learning existed: their stored body is their raw body.
    articles = sa.table("articles", sa.column("body", sa.Text()), sa.column("raw_body", sa.Text()))
    op.execute(articles.update().values(raw_body=articles.c.body))


def downgrade() -> None:
    # Not in batch mode: on SQLite a batch rebuilds the table, which drops the full-text
    # search triggers of migration 0001. SQLite 3.35+ drops the column in place.
    op.drop_column("articles", "raw_body")

    with op.batch_alter_table("article_banners", schema=None) as batch_op:
        batch_op.drop_column("origin")

    with op.batch_alter_table("article_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_blocks_block_id"))

    op.drop_table("article_blocks")
    op.drop_table("site_blocks")
