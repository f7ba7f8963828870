-- The KPI report's columns (cstoolkit.store.columns): the tickets created on one UTC day with
-- their facts, packed into arrays (one BLOB per day, format in cstoolkit.store.column_chunk), so
-- a report reads a few hundred blobs instead of a million rows. Nothing in them depends on a
-- calendar or on the report's options.
--
-- report_dirty lists the (day, ticket) pairs whose chunk is out of date: triggers on tickets and
-- ticket_facts add them in the same transaction as the write (created by this migration's Python
-- step: their bodies differ per dialect), and the next report splices exactly those tickets into
-- their day's chunk. The Python step also marks every stored ticket, so the first report builds
-- every chunk.
CREATE TABLE report_columns (
    day INTEGER PRIMARY KEY,
    tickets INTEGER NOT NULL,
    horizon INTEGER NOT NULL,
    unresolved INTEGER NOT NULL,
    data BYTEA NOT NULL
);
CREATE TABLE report_dirty (
    day INTEGER NOT NULL,
    ticket_id TEXT NOT NULL,
    PRIMARY KEY (day, ticket_id)
) WITHOUT ROWID;
