-- The idempotence ledger (notes, replies, notifications, surveys, mirrored creations) and
-- run locks (leases) that keep two runs of the same job apart.
CREATE TABLE ledger (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    reserved_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    provider_ref TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (scope, key)
);
CREATE INDEX ledger_state ON ledger (scope, state);

CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
