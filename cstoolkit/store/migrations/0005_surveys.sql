-- Surveys: offers (one row per ledger key of scope 'survey'), answers (at most one per offer),
-- and opt-outs (a value that may never be surveyed again: a person id, an email or a phone).
-- The delivery state of an offer lives in the ledger (scope 'survey', same key).
CREATE TABLE survey_offers (
    key TEXT PRIMARY KEY,
    survey TEXT NOT NULL,
    kind TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    cycle INTEGER NOT NULL,
    requester_id TEXT,
    address TEXT,
    channel TEXT NOT NULL,
    language TEXT NOT NULL,
    offered_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX survey_offers_requester ON survey_offers (requester_id, offered_at);
CREATE INDEX survey_offers_address ON survey_offers (address, offered_at);
CREATE INDEX survey_offers_ticket ON survey_offers (ticket_id);

CREATE TABLE survey_answers (
    offer_key TEXT PRIMARY KEY,
    survey TEXT NOT NULL,
    kind TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    requester_id TEXT,
    score INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    answered_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT
);
CREATE INDEX survey_answers_at ON survey_answers (answered_at);
CREATE INDEX survey_answers_survey ON survey_answers (survey, answered_at);

CREATE TABLE survey_optouts (
    value TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    requester_id TEXT,
    at INTEGER NOT NULL,
    source TEXT NOT NULL
);
