-- Never twice, also when an operator steps in or a process dies.
-- Ledger reservations carry a lease: the owner run (run_id) renews lease_expires while it
-- works; another run may take a reservation over only after its lease expired.
-- Planned changes are claimed by exactly one pusher (claimed_by, with a lease in
-- claim_expires); sending_at is set at the fencing check just before the backend is called, so
-- a crashed pusher's claim tells "never sent" (pushable again) from "outcome unknown".
ALTER TABLE ledger ADD COLUMN lease_expires INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ledger_lease ON ledger (scope, state, lease_expires);
ALTER TABLE planned_changes ADD COLUMN claimed_by TEXT;
ALTER TABLE planned_changes ADD COLUMN claim_expires INTEGER;
ALTER TABLE planned_changes ADD COLUMN sending_at INTEGER;
