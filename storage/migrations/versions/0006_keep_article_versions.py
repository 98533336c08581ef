"""Keep a version of an article each time its page's text changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 17:07:37.372518

Safe migrations: one concern per revision; use op.batch_alter_table so it runs on SQLite;
data migrations use sa.table() stubs and never import storage.models; write a downgrade().
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("raw_body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_versions_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_versions")),
        sa.UniqueConstraint(
            "article_id", "version", name=op.f("uq_article_versions_article_id_version")
        ),
    )
    # Articles archived before versions existed: their current text is their first version.
    articles = sa.table(
        "articles",
        sa.column("id", sa.Integer()),
        sa.column("title", sa.Text()),
        sa.column("raw_body", sa.Text()),
        sa.column("first_seen_at", sa.DateTime(timezone=True)),
    )
    versions = sa.table(
        "article_versions",
        sa.column("article_id", sa.Integer()),
        sa.column("version", sa.Integer()),
        sa.column("seen_at", sa.DateTime(timezone=True)),
        sa.column("title", sa.Text()),
        sa.column("raw_body", sa.Text()),
    )
    op.execute(
        versions.insert().from_select(
            ["article_id", "version", "seen_at", "title", "raw_body"],
            sa.select(
                articles.c.id,
                sa.literal(1),
                articles.c.first_seen_at,
                articles.c.title,
                articles.c.raw_body,
            ),
        )
    )


def downgrade() -> None:
    op.drop_table("article_versions")
