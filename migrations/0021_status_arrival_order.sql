-- The order delivery statuses arrived in, kept exactly: created_at is the arrival
-- transaction's start, which several reports in one transaction (or one clock tick)
-- share. A message's trace lists its statuses by rank and occurrence, and shows each
-- one's place in this order.
ALTER TABLE message_status_events ADD COLUMN arrival_seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX message_status_events_arrival ON message_status_events (message_id, arrival_seq);
