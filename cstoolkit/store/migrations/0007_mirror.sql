-- Mirror links: a ticket and its counterpart in another backend instance.
-- Each link is stored twice, once from each side, so a lookup from either ticket is one index
-- hit and the table is symmetric by construction; "origin" is 1 on the row whose ticket_id is
-- the original (the copy is never mirrored back as new, nor are its changes).
CREATE TABLE mirror_links (
    ticket_id TEXT NOT NULL,
    instance TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    peer_instance TEXT NOT NULL,
    origin INTEGER NOT NULL,
    marker TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, peer_instance)
);
CREATE INDEX mirror_links_pair ON mirror_links (instance, peer_instance);
