"""Handbooks: collections, documents, chunks and the keyword index (FTS5, trigram for compounds).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hb_collections",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("roles", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "hb_documents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("collection", sa.String(64), sa.ForeignKey("hb_collections.name"), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_hb_documents_file", "hb_documents", ["collection", "filename"])
    op.create_table(
        "hb_chunks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("document_id", sa.String(40), sa.ForeignKey("hb_documents.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("collection", sa.String(64), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("section", sa.Text, nullable=False),
        sa.Column("pages", sa.Text, nullable=False),
        sa.Column("page", sa.Integer, nullable=True),
    )
    op.execute(
        "CREATE VIRTUAL TABLE hb_chunks_fts USING fts5("
        "text, section, title, chunk_id UNINDEXED, tokenize='trigram')"
    )


def downgrade() -> None:
    op.execute("DROP TABLE hb_chunks_fts")
    op.drop_table("hb_chunks")
    op.drop_index("ix_hb_documents_file", "hb_documents")
    op.drop_table("hb_documents")
    op.drop_table("hb_collections")
