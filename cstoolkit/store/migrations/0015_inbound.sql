-- Inbound channels: what each customer message received became, and what we sent back.
-- direction 'in' is a customer's message (its provider id), 'out' our acknowledgement or a
-- delivered agent reply; contact is the customer's phone (E.164) or email address. The
-- idempotence itself is the ledger's (scope 'inbound'); this table threads a contact's next
-- message onto their open ticket and tells replies which channel and window a ticket has.
CREATE TABLE inbound_messages (
    source TEXT NOT NULL,
    message_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    channel TEXT NOT NULL,
    contact TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (source, message_id)
);
CREATE INDEX inbound_messages_contact ON inbound_messages (source, contact, at);
CREATE INDEX inbound_messages_ticket ON inbound_messages (ticket_id, at);
-- Messages a polled source could not take (unparsable, too large): left where they are,
-- flagged there, and listed here for status and doctor until an operator clears them.
CREATE TABLE inbound_problems (
    source TEXT NOT NULL,
    ref TEXT NOT NULL,
    reason TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (source, ref)
);
