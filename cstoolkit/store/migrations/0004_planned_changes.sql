-- The one write path: every change to a ticket is planned here first, then pushed.
CREATE TABLE planned_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    instance TEXT NOT NULL,
    changes TEXT NOT NULL,
    old_values TEXT NOT NULL DEFAULT '{}',
    expected_updated_at INTEGER,
    ledger_key TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX planned_changes_state ON planned_changes (state, instance);
CREATE INDEX planned_changes_run ON planned_changes (run_id);
CREATE INDEX planned_changes_ticket ON planned_changes (ticket_id);
