"""Keep each article's full-text vector in a column on PostgreSQL, so ranking never re-parses.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 22:30:00

Safe migrations: one concern per revision; use op.batch_alter_table so it runs on SQLite;
data migrations use sa.table() stubs and never import storage.models; write a downgrade().

The expression index of 0001 let PostgreSQL find matches, but ranking them (ts_rank_cd) and
telling the planner how common a word is needed the vector itself: recomputed from the body for
every match. A stored generated column is computed once per write; its GIN index replaces the
expression index, and ANALYZE keeps word frequencies for it. SQLite (FTS5) is unchanged.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SEARCH_VECTOR = (
    "(setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(body, '')), 'B'))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"ALTER TABLE articles ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS {SEARCH_VECTOR} STORED"
    )
    op.execute("CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)")
    op.execute("DROP INDEX IF EXISTS ix_articles_search")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE INDEX ix_articles_search ON articles USING gin ({SEARCH_VECTOR})")
    op.execute("DROP INDEX IF EXISTS ix_articles_search_vector")
    op.execute("ALTER TABLE articles DROP COLUMN search_vector")
