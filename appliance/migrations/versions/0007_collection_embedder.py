"""Which embedding model built each handbook collection's vectors, and which one is being built.

``embedder``: the fingerprint of the vectors that answer searches now (models/embeddings.fingerprint);
``embedder_info``: what it is (id, sha256 of the weights, dimensions, prompts) as JSON. ``pending`` and
``pending_info``: the embedder a background job is re-embedding the collection with; when it is complete
both move into ``embedder``. Collections from before this version have no fingerprint yet: the service
reads their vectors at the next start (rag.index.HandbookIndex.adopt_legacy).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (nullable): SQLite need not rebuild the table the documents refer to
    op.add_column("hb_collections", sa.Column("embedder", sa.String(32), nullable=True))
    op.add_column("hb_collections", sa.Column("embedder_info", sa.Text, nullable=True))
    op.add_column("hb_collections", sa.Column("pending", sa.String(32), nullable=True))
    op.add_column("hb_collections", sa.Column("pending_info", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hb_collections") as batch:
        for column in ("pending_info", "pending", "embedder_info", "embedder"):
            batch.drop_column(column)
