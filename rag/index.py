"""The handbook index: documents and chunks in SQLite (with an FTS5 keyword index on words) plus vectors.

Lifecycle rules:
- a document becomes visible to search only when it is complete (status 'ready');
- a changed file replaces its old version in one SQLite transaction;
- removing a document (or an old version) deletes its rows and marks it 'deleting' in one
  transaction; only when its vectors are gone from Chroma does its last row go. SQLite and Chroma
  cannot share a transaction, so the mark is what survives a crash in between;
- a document left half-written ('indexing') or half-removed ('deleting'), e.g. after a crash, is
  purged by recover(): its rows, then its vectors, then its mark.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from rag.chunking import Chunk, vector_text
from rag.vectors import VectorStore

POSTINGS_BUDGET = 20_000
COMPOUNDS_PER_TERM = 20
PART_LETTERS = 4  # the shortest part a query compound is split into
# German linking elements between the parts of a compound: Arbeit-s-platz, Datei-en-name
_LINKS = ("", "s", "es", "n", "en", "e", "er")


def scope(collection: str) -> str:
    """The collection as one token of the keyword index (migration 0003 writes the same)."""
    return "s" + hashlib.sha256(collection.encode()).hexdigest()[:16]


def fold(term: str) -> str:
    """A query word as the index stores it: lower case, no diacritics, letters and digits only."""
    return "".join(ch for ch in fold_text(term) if ch.isalnum())


def reversed_words(text: str) -> set[str]:
    """Folded words of five letters or more, reversed: compounds ending in a word share a prefix."""
    return {w[::-1] for w in re.findall(r"[^\W_]{5,}", fold_text(text))}


def fold_text(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(ch))


def _upper(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    collection: str
    filename: str
    title: str
    sha256: str
    media_type: str
    size: int
    pages: int
    chunks: int
    status: str
    created_at: datetime


UNKNOWN = "unknown"
"""The fingerprint of vectors whose embedder no one knows: no query vector is ever compared with them."""


@dataclass(frozen=True)
class Built:
    """An embedder as the index records it: fingerprint and what it is (id, sha256, dimensions, prompts)."""

    fingerprint: str
    info: dict


@dataclass(frozen=True)
class EmbedderState:
    fingerprint: str | None  # None: a collection of a version that did not record it
    info: dict
    pending: str | None
    pending_info: dict


@dataclass(frozen=True)
class ChunkRow:
    id: str
    document_id: str
    collection: str
    title: str
    text: str
    section: str
    pages: list[int]
    page: int | None


_DOC_COLUMNS = "id, collection, filename, title, sha256, media_type, size, pages, chunks, status, created_at"


def _doc(row) -> DocumentInfo:
    created = row.created_at
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    return DocumentInfo(row.id, row.collection, row.filename, row.title, row.sha256, row.media_type, row.size,
                        row.pages, row.chunks, row.status, created)


def _documents(c, word: str) -> int:
    """In how many rows of the keyword index the word occurs (0 when in none)."""
    return c.execute(text("SELECT doc FROM hb_words_vocab WHERE term = :t"), {"t": word}).scalar() or 0


def _prefix_documents(c, prefix: str) -> int:
    """Postings of all words that begin with the prefix: the work a prefix query gives the index."""
    return c.execute(text("SELECT coalesce(sum(doc), 0) FROM hb_words_vocab WHERE term >= :lo AND term < :hi"),
                     {"lo": prefix, "hi": _upper(prefix)}).scalar()


def _parts(c, term: str) -> list[str]:
    """A query compound split in two words of the index ("rechnerverwaltung": "rechner", "verwaltung"),
    so that it also finds text that writes them apart or in other compounds. The modifier may end in a
    linking element ("arbeits" is "arbeit") or lack a final e ("adress" for "adresse"); of several
    splits the one with the most frequent words wins. No split: an empty list."""
    best: list[str] = []
    best_score = 0
    for cut in range(PART_LETTERS, len(term) - PART_LETTERS + 1):
        head = term[cut:]
        head_rows = _documents(c, head)
        if not head_rows:
            continue
        modifier = term[:cut]
        for link in _LINKS:
            stem = modifier[:len(modifier) - len(link)]
            if not modifier.endswith(link) or len(stem) < PART_LETTERS:
                continue
            score = head_rows * max(_documents(c, stem), _documents(c, stem + "e"))
            if score > best_score:
                best, best_score = [stem, head], score
    return best


class HandbookIndex:
    def __init__(self, engine: Engine, vectors: VectorStore) -> None:
        self.engine = engine
        self.vectors = vectors

    # -- collections --------------------------------------------------------------------------

    def collections(self) -> list[tuple[str, list[str]]]:
        with self.engine.connect() as c:
            rows = c.execute(text("SELECT name, roles FROM hb_collections ORDER BY name")).all()
        return [(r.name, json.loads(r.roles)) for r in rows]

    def ensure_collection(self, name: str, roles: list[str] | None = None, embedder: Built | None = None) -> None:
        """A new collection is recorded as built by ``embedder`` (it has no vectors yet to differ), as is one
        that has no embedder recorded yet."""
        with self.engine.begin() as c:
            exists = c.execute(text("SELECT 1 FROM hb_collections WHERE name = :n"), {"n": name}).first()
            if exists is None:
                c.execute(text("INSERT INTO hb_collections (name, roles, created_at, embedder, embedder_info)"
                               " VALUES (:n, :r, :t, :e, :i)"),
                          {"n": name, "r": json.dumps(roles or []), "t": _now(),
                           "e": embedder.fingerprint if embedder else None,
                           "i": json.dumps(embedder.info, ensure_ascii=False) if embedder else None})
                return
            if embedder is not None:  # made before the models were loaded: its first vectors name it
                c.execute(text("UPDATE hb_collections SET embedder = :e, embedder_info = :i WHERE name = :n"
                               " AND embedder IS NULL"),
                          {"n": name, "e": embedder.fingerprint, "i": json.dumps(embedder.info, ensure_ascii=False)})
            if roles is not None:
                c.execute(text("UPDATE hb_collections SET roles = :r WHERE name = :n"),
                          {"n": name, "r": json.dumps(roles)})

    # -- embedders ------------------------------------------------------------------------------

    def embedders(self) -> dict[str, EmbedderState]:
        """Per collection: the embedder whose vectors answer now and the one being built, if any."""
        with self.engine.connect() as c:
            rows = c.execute(text("SELECT name, embedder, embedder_info, pending, pending_info FROM hb_collections"
                                  " ORDER BY name")).all()
        return {r.name: EmbedderState(r.embedder, json.loads(r.embedder_info or "{}"), r.pending,
                                      json.loads(r.pending_info or "{}")) for r in rows}

    def adopt_legacy(self, known: dict[int, Built], current: Built) -> list[str]:
        """Collections that do not record their embedder (made by earlier versions): the vectors' length
        names it where one known embedder has that length (before, the catalogue had one: all-MiniLM-L6-v2,
        384), and their Chroma collection is renamed to it; vectors of another length are marked unknown and
        searched by keywords only until re-embedded; a collection without vectors takes the current
        embedder. Returns the collections adopted."""
        adopted = []
        for name, state in self.embedders().items():
            if state.fingerprint is not None:
                continue
            dims = self.vectors.dimensions(name)
            built = known.get(dims) if dims else current
            fingerprint = built.fingerprint if built else UNKNOWN
            self.vectors.adopt(name, fingerprint)
            with self.engine.begin() as c:
                c.execute(text("UPDATE hb_collections SET embedder = :e, embedder_info = :i WHERE name = :n"),
                          {"n": name, "e": fingerprint,
                           "i": json.dumps(built.info if built else {"id": None, "dimensions": dims})})
            adopted.append(name)
        return adopted

    def set_pending(self, name: str, embedder: Built | None) -> None:
        with self.engine.begin() as c:
            c.execute(text("UPDATE hb_collections SET pending = :p, pending_info = :i WHERE name = :n"),
                      {"n": name, "p": embedder.fingerprint if embedder else None,
                       "i": json.dumps(embedder.info, ensure_ascii=False) if embedder else None})

    def embedding_rows(self, collection: str) -> list[tuple[str, str, str]]:
        """(chunk id, document id, text to embed) of the collection's ready documents, in order."""
        with self.engine.connect() as c:
            rows = c.execute(text("SELECT k.id, k.document_id, k.section, k.text FROM hb_chunks k JOIN hb_documents d"
                                  " ON d.id = k.document_id WHERE k.collection = :c AND d.status = 'ready'"
                                  " ORDER BY k.id"), {"c": collection}).all()
        return [(r.id, r.document_id, vector_text(r.section, r.text)) for r in rows]

    def switch(self, name: str, embedder: Built) -> bool:
        """Make the re-embedded vectors the ones that answer, if every ready chunk has one; drop the others.
        False (nothing changed) when chunks came in meanwhile without one."""
        rows = {cid for cid, _, _ in self.embedding_rows(name)}
        have = self.vectors.ids(name, embedder.fingerprint)
        if rows - have:
            return False
        with self.engine.begin() as c:
            c.execute(text("UPDATE hb_collections SET embedder = :e, embedder_info = :i, pending = NULL,"
                           " pending_info = NULL WHERE name = :n"),
                      {"n": name, "e": embedder.fingerprint, "i": json.dumps(embedder.info, ensure_ascii=False)})
        self.vectors.remove(name, embedder.fingerprint, sorted(have - rows))  # of documents removed meanwhile
        self.vectors.keep_only(name, {embedder.fingerprint})
        return True

    # -- documents ------------------------------------------------------------------------------

    def documents(self, collection: str) -> list[DocumentInfo]:
        with self.engine.connect() as c:
            rows = c.execute(text(f"SELECT {_DOC_COLUMNS} FROM hb_documents WHERE collection = :c AND status = 'ready'"
                                  " ORDER BY title"), {"c": collection}).all()
        return [_doc(r) for r in rows]

    def document(self, document_id: str) -> DocumentInfo | None:
        with self.engine.connect() as c:
            row = c.execute(text(f"SELECT {_DOC_COLUMNS} FROM hb_documents WHERE id = :i"), {"i": document_id}).first()
        return _doc(row) if row else None

    def find(self, collection: str, filename: str) -> DocumentInfo | None:
        with self.engine.connect() as c:
            row = c.execute(text(f"SELECT {_DOC_COLUMNS} FROM hb_documents WHERE collection = :c AND filename = :f"
                                 " AND status = 'ready'"), {"c": collection, "f": filename}).first()
        return _doc(row) if row else None

    def add(self, info: DocumentInfo, chunks: list[Chunk], vectors: list[list[float]], fingerprint: str) -> None:
        """Write a complete new version; it replaces the ready document with the same file name. The vectors
        are the embedder's with that fingerprint (the one that answers, or the one being built)."""
        ids = [f"{info.id}-{c.index:05d}" for c in chunks]
        with self.engine.begin() as c:
            base = c.execute(text("SELECT coalesce(max(fts_rowid), 0) FROM hb_chunks")).scalar()
            c.execute(text(f"INSERT INTO hb_documents ({_DOC_COLUMNS}) VALUES (:id, :collection, :filename, :title,"
                           " :sha256, :media_type, :size, :pages, :chunks, 'indexing', :created_at)"),
                      {**info.__dict__})
            c.execute(text("INSERT INTO hb_chunks (id, document_id, collection, idx, text, section, pages, page,"
                           " fts_rowid) VALUES (:id, :d, :c, :i, :t, :s, :p, :pg, :r)"),
                      [{"id": cid, "d": info.id, "c": info.collection, "i": ch.index, "t": ch.text, "s": ch.section,
                        "p": json.dumps(ch.pages), "pg": ch.page, "r": base + n}
                       for n, (cid, ch) in enumerate(zip(ids, chunks, strict=True), 1)])
        self.vectors.add(info.collection, fingerprint, ids, vectors, info.id)
        with self.engine.begin() as c:
            c.execute(text("INSERT INTO hb_words (rowid, text, section, title, scope, chunk_id)"
                           " VALUES (:r, :t, :s, :ti, :sc, :id)"),
                      [{"r": base + n, "t": ch.text, "s": ch.section, "ti": info.title, "sc": scope(info.collection),
                        "id": cid} for n, (cid, ch) in enumerate(zip(ids, chunks, strict=True), 1)])
            ends = reversed_words(info.title).union(*(reversed_words(f"{ch.text} {ch.section}") for ch in chunks))
            if ends:
                c.execute(text("INSERT OR IGNORE INTO hb_word_ends (rev) VALUES (:w)"), [{"w": w} for w in ends])
            old = [r.id for r in c.execute(text(
                "SELECT id FROM hb_documents WHERE collection = :c AND filename = :f AND status = 'ready'"),
                {"c": info.collection, "f": info.filename}).all()]
            for old_id in old:
                self._delete_rows(c, old_id)
            c.execute(text("UPDATE hb_documents SET status = 'ready' WHERE id = :i"), {"i": info.id})
        for old_id in old:
            self._drop_vectors(info.collection, old_id)

    def delete(self, document_id: str) -> bool:
        with self.engine.begin() as c:
            found = c.execute(text("SELECT collection FROM hb_documents WHERE id = :i"), {"i": document_id}).first()
            if found is None:
                return False
            self._delete_rows(c, document_id)
        self._drop_vectors(found.collection, document_id)
        return True

    def _drop_vectors(self, collection: str, document_id: str) -> None:
        """The second half of a removal: the vectors, then the 'deleting' mark that stood for them."""
        self.vectors.delete_document(collection, document_id)
        with self.engine.begin() as c:
            c.execute(text("DELETE FROM hb_documents WHERE id = :i AND status = 'deleting'"), {"i": document_id})

    @staticmethod
    def _delete_rows(c, document_id: str) -> None:
        """Every row of the document, and the words in hb_word_ends that no other document has. The
        document's own row stays, marked 'deleting', until its vectors are gone (see _drop_vectors)."""
        title = c.execute(text("SELECT title FROM hb_documents WHERE id = :i"), {"i": document_id}).scalar() or ""
        words = reversed_words(title).union(*(reversed_words(f"{r.text} {r.section}") for r in c.execute(
            text("SELECT text, section FROM hb_chunks WHERE document_id = :i"), {"i": document_id})))
        c.execute(text("DELETE FROM hb_words WHERE rowid IN (SELECT fts_rowid FROM hb_chunks WHERE document_id = :i)"),
                  {"i": document_id})
        c.execute(text("DELETE FROM hb_chunks WHERE document_id = :i"), {"i": document_id})
        c.execute(text("UPDATE hb_documents SET status = 'deleting' WHERE id = :i"), {"i": document_id})
        gone = [{"w": w} for w in words if not c.execute(
            text("SELECT 1 FROM hb_words_vocab WHERE term = :t"), {"t": w[::-1]}).first()]
        if gone:
            c.execute(text("DELETE FROM hb_word_ends WHERE rev = :w"), gone)

    def recover(self) -> list[DocumentInfo]:
        """Remove every document an interrupted ingestion or removal left behind (rows, vectors, mark)."""
        with self.engine.connect() as c:
            stale = [_doc(r) for r in c.execute(text(
                f"SELECT {_DOC_COLUMNS} FROM hb_documents WHERE status != 'ready'")).all()]
        for info in stale:
            self.delete(info.id)
        return stale

    def document_ids(self) -> set[str]:
        with self.engine.connect() as c:
            return {r.id for r in c.execute(text("SELECT id FROM hb_documents")).all()}

    # -- search ---------------------------------------------------------------------------------

    def keyword(self, query_terms: list[str], collections: list[str], n: int) -> list[tuple[str, float]]:
        """(chunk id, bm25 score: higher is better), best first; may include chunks of unfinished documents.

        A term finds the words it begins ("Rechner" finds "Rechnern") and the compounds it ends
        ("Desinfektion" finds "Händedesinfektion"); a compound also finds its two parts when both are
        words of the index ("Rechnerverwaltung" finds "Rechner" and "Verwaltung"). (Stripping
        inflection endings as well found more, but raised the scores of unanswerable questions as
        much: measured, not kept.) Terms are taken rarest first until they would make the index rank
        more than POSTINGS_BUDGET rows: a word found almost everywhere adds next to nothing to BM25
        but all of the work, so search time stays bounded however large the collections grow. The
        rarest term is always kept.
        """
        if not collections:
            return []
        with self.engine.connect() as c:
            groups = self._affordable(c, query_terms)
            if not groups:
                return []
            match = " OR ".join(groups)
            everything = {r[0] for r in c.execute(text("SELECT DISTINCT collection FROM hb_documents")).all()}
            if not everything <= set(collections):
                match = f"scope : ({' OR '.join(scope(x) for x in collections)}) AND ({match})"
            rows = c.execute(text("SELECT chunk_id AS id, -bm25(hb_words, 1.0, 0.5, 0.5, 0.0) AS score FROM hb_words"
                                  " WHERE hb_words MATCH :m ORDER BY score DESC LIMIT :n"), {"m": match, "n": n}).all()
        return [(r.id, float(r.score)) for r in rows]

    @staticmethod
    def _affordable(c, query_terms: list[str]) -> list[str]:
        """FTS5 match groups, one per term, the rarest terms first within the postings budget."""
        groups: dict[str, tuple[str, int]] = {}
        for term in dict.fromkeys(fold(t) for t in query_terms):
            if not term:
                continue
            rows = _prefix_documents(c, term)
            words = [f'"{term}"*']
            compounds = [] if len(term) < 5 else [r[0][::-1] for r in c.execute(text(
                "SELECT rev FROM hb_word_ends WHERE rev > :lo AND rev < :hi LIMIT :k"),
                {"lo": term[::-1], "hi": _upper(term[::-1]), "k": COMPOUNDS_PER_TERM}).all()]
            for compound in compounds:
                found = _documents(c, compound)
                if found:
                    words.append(f'"{compound}"')
                    rows += found
            for part in _parts(c, term):
                words.append(f'"{part}"*')
                rows += _prefix_documents(c, part)
            if rows:
                groups[term] = (" OR ".join(words), rows)
        chosen: list[str] = []
        total = 0
        for term in sorted(groups, key=lambda t: groups[t][1]):
            if chosen and total + groups[term][1] > POSTINGS_BUDGET:
                break
            chosen.append(groups[term][0])
            total += groups[term][1]
        return chosen

    def chunks(self, ids: list[str]) -> dict[str, ChunkRow]:
        """Chunks by id, only of ready documents (a half-written one never reaches an answer)."""
        if not ids:
            return {}
        names = ", ".join(f":i{n}" for n in range(len(ids)))
        sql = text(
            "SELECT k.id, k.document_id, k.collection, d.title, k.text, k.section, k.pages, k.page FROM hb_chunks k"
            f" JOIN hb_documents d ON d.id = k.document_id WHERE d.status = 'ready' AND k.id IN ({names})"
        )
        with self.engine.connect() as c:
            rows = c.execute(sql, {f"i{n}": i for n, i in enumerate(ids)}).all()
        return {r.id: ChunkRow(r.id, r.document_id, r.collection, r.title, r.text, r.section, json.loads(r.pages),
                               r.page) for r in rows}

    def chunk_count(self, document_id: str) -> int:
        with self.engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM hb_chunks WHERE document_id = :i"), {"i": document_id}).scalar()
