-- When an outbox event was written, on the database's clock (issue 21's soak). The
-- sweeper re-drives events never handed to EventsQueue once a grace has passed since
-- they were written. It read occurred_at, the effect's own clock, which a job may set
-- ahead of the wall clock (the timers run "days ahead" in the soak; a skewed host
-- could too): an event whose hand-over failed then waited until that time came, and
-- was not delivered meanwhile. recorded_at is the writing transaction's time, which
-- no caller sets. Existing rows take this migration's time: an unrelayed one is
-- re-driven once the grace passes.

ALTER TABLE outbox_events ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();

DROP INDEX outbox_events_not_relayed;
CREATE INDEX outbox_events_not_relayed ON outbox_events (recorded_at) WHERE relayed_at IS NULL;
