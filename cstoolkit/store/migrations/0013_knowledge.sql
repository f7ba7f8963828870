-- Knowledge-base articles (cstoolkit.knowledge): what each configured knowledge source holds,
-- with the terms the search index holds (title_terms, terms: stemmed, stop words dropped, as
-- cstoolkit.knowledge.text makes them, identical on both stores) and their count (length).
-- The full-text index itself depends on the dialect and is made by the migration's Python
-- step (cstoolkit.store.knowledge.create_index): an FTS5 table kb_fts on SQLite, a tsvector
-- column with a GIN index on PostgreSQL.
CREATE TABLE kb_articles (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    language TEXT NOT NULL,
    section TEXT,
    labels TEXT NOT NULL DEFAULT '[]',
    url TEXT,
    updated_at INTEGER NOT NULL,
    title_terms TEXT NOT NULL,
    terms TEXT NOT NULL,
    length INTEGER NOT NULL,
    synced_at INTEGER NOT NULL
);
CREATE INDEX kb_articles_source ON kb_articles (source, external_id);
CREATE INDEX kb_articles_language ON kb_articles (language);
-- Where each knowledge source's incremental sync resumes.
CREATE TABLE kb_sources (
    source TEXT PRIMARY KEY,
    cursor TEXT,
    synced_at INTEGER NOT NULL,
    articles INTEGER NOT NULL DEFAULT 0
);
