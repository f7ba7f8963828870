-- Operations: a record of each `cst run` (its JSON report) and the privacy suppression list.
-- A suppression is a keyed hash (HMAC-SHA256 with a per-store salt kept in plugin_state under
-- instance '_privacy') of a forgotten person's id or email: never the value itself.
CREATE TABLE ops_runs (
    run_id TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    dry_run INTEGER NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL DEFAULT 'running',
    exit_code INTEGER,
    report TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX ops_runs_started ON ops_runs (started_at);

CREATE TABLE privacy_suppressions (
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL
);
