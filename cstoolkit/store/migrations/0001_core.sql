-- Tickets, their tags and events, people, groups, and the sync cursors.
-- Times are INTEGER unix seconds in UTC.
CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    external_id TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    channel TEXT NOT NULL,
    requester_id TEXT,
    assignee_id TEXT,
    group_id TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    solved_at INTEGER,
    language TEXT,
    custom_fields TEXT NOT NULL DEFAULT '{}',
    raw TEXT NOT NULL DEFAULT '{}',
    payload_hash TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    synced_at INTEGER NOT NULL
);
CREATE INDEX tickets_instance_updated ON tickets (instance, updated_at);
CREATE INDEX tickets_created ON tickets (created_at);
CREATE INDEX tickets_status ON tickets (status);
CREATE INDEX tickets_assignee ON tickets (assignee_id);

CREATE TABLE ticket_tags (
    ticket_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (ticket_id, tag)
);
CREATE INDEX ticket_tags_tag ON ticket_tags (tag);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    author_id TEXT,
    author_role TEXT,
    public INTEGER,
    body TEXT,
    old TEXT,
    new TEXT,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ticket_at ON events (ticket_id, at);
CREATE INDEX events_kind_at ON events (kind, at);

CREATE TABLE people (
    id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    external_id TEXT NOT NULL,
    role TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    email TEXT,
    domain TEXT,
    organization TEXT,
    plan TEXT,
    language TEXT,
    timezone TEXT,
    groups TEXT NOT NULL DEFAULT '[]',
    raw TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX people_email ON people (email);

CREATE TABLE ticket_groups (
    id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    raw TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE sync_cursors (
    instance TEXT PRIMARY KEY,
    cursor TEXT,
    updated_at INTEGER NOT NULL
);
