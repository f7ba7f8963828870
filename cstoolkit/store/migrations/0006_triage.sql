-- Triage: what each recipe saw of each ticket on its last applied run (for changed,
-- changed_from and changed_to), the last assignment time of each agent per capacity key (round
-- robin), the owner each rota had each week, and a record of triage runs (for revert).
CREATE TABLE triage_recipe_state (
    recipe TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    snapshot TEXT NOT NULL DEFAULT '{}',
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (recipe, ticket_id)
);

CREATE TABLE triage_last_assignment (
    agent_id TEXT NOT NULL,
    capacity_key TEXT NOT NULL,
    assigned_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, capacity_key)
);

CREATE TABLE triage_rota (
    rota TEXT NOT NULL,
    week INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (rota, week)
);

CREATE TABLE triage_runs (
    run_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    recipes TEXT NOT NULL DEFAULT '[]',
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX triage_runs_started ON triage_runs (started_at);
