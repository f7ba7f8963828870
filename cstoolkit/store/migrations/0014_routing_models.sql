-- Learned routing (cstoolkit.routing): each trained model the workspace holds, the hash of its
-- training data and the tickets it was trained on, so that forgetting a customer (cst privacy
-- forget) marks every model trained on their text for retraining (stale_reason, stale_at).
CREATE TABLE routing_models (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    data_hash TEXT NOT NULL,
    trained_at INTEGER NOT NULL,
    tickets INTEGER NOT NULL,
    stale_reason TEXT,
    stale_at INTEGER
);

CREATE TABLE routing_model_tickets (
    name TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    PRIMARY KEY (name, ticket_id)
);
CREATE INDEX routing_model_tickets_ticket ON routing_model_tickets (ticket_id);
