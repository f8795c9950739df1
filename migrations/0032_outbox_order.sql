-- The order events were recorded in (issue 16): occurred_at is the effect's clock, so
-- the events of one transaction (a launch chunk's, a job's batch) can share it. seq is
-- the order receivers get them in, and a later replay of a time range reads them by it.
-- outbox_events_are_facts (0031) keeps it unchanged with every column but relayed_at.

ALTER TABLE outbox_events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_seq UNIQUE (seq);
