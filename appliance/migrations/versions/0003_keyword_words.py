"""Keyword index on words instead of trigrams, with a vocabulary for document frequencies.

The trigram index matched every row that shares three letters with a query word, so a search
over 100,000 chunks ranked most of the table. Words with prefix queries keep inflected forms
("Rechner*" finds "Rechnern"), a table of reversed words finds the compounds that end in a query
word ("Desinfektion" finds "Händedesinfektion"), the vocabulary lets a query skip words that occur almost
everywhere, and each row knows its collection, so a search does not rank other collections.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import hashlib
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def scope(collection: str) -> str:
    """The collection as one token for the keyword index (kept in step with rag.index.scope)."""
    return "s" + hashlib.sha256(collection.encode()).hexdigest()[:16]


def words(text: str) -> set[str]:
    """Folded words of a text, reversed (kept in step with rag.index.reversed_words)."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(ch))
    return {w[::-1] for w in re.findall(r"[^\W_]{5,}", folded)}


def upgrade() -> None:
    op.add_column("hb_chunks", sa.Column("fts_rowid", sa.Integer, nullable=True))
    op.create_index("ix_hb_chunks_fts_rowid", "hb_chunks", ["fts_rowid"])
    op.execute(
        "CREATE VIRTUAL TABLE hb_words USING fts5("
        "text, section, title, scope, chunk_id UNINDEXED, tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute("CREATE VIRTUAL TABLE hb_words_vocab USING fts5vocab(hb_words, 'row')")
    # every word reversed: the compounds that end in a query word are one index range away
    op.execute("CREATE TABLE hb_word_ends (rev TEXT PRIMARY KEY) WITHOUT ROWID")
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT k.id, k.collection, k.text, k.section, d.title FROM hb_chunks k"
        " JOIN hb_documents d ON d.id = k.document_id ORDER BY k.id")).all()
    for n, r in enumerate(rows, 1):
        conn.execute(sa.text("INSERT INTO hb_words (rowid, text, section, title, scope, chunk_id)"
                             " VALUES (:n, :t, :s, :ti, :sc, :id)"),
                     {"n": n, "t": r.text, "s": r.section, "ti": r.title, "sc": scope(r.collection), "id": r.id})
        conn.execute(sa.text("UPDATE hb_chunks SET fts_rowid = :n WHERE id = :id"), {"n": n, "id": r.id})
        ends = words(f"{r.text} {r.section} {r.title}")
        if ends:
            conn.execute(sa.text("INSERT OR IGNORE INTO hb_word_ends (rev) VALUES (:w)"), [{"w": w} for w in ends])
    op.execute("DROP TABLE hb_chunks_fts")


def downgrade() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE hb_chunks_fts USING fts5("
        "text, section, title, chunk_id UNINDEXED, tokenize='trigram')"
    )
    op.execute("INSERT INTO hb_chunks_fts (text, section, title, chunk_id)"
               " SELECT k.text, k.section, d.title, k.id FROM hb_chunks k JOIN hb_documents d ON d.id = k.document_id")
    op.execute("DROP TABLE hb_word_ends")
    op.execute("DROP TABLE hb_words_vocab")
    op.execute("DROP TABLE hb_words")
    with op.batch_alter_table("hb_chunks") as batch:
        batch.drop_index("ix_hb_chunks_fts_rowid")
        batch.drop_column("fts_rowid")
