-- Every delivery status a provider reported, in order of arrival, applied or parked.

-- A status can arrive before its send's SID is stored (the provider answers the send
-- and calls back at once): it is kept here with no message and applied when the SID
-- is saved. receipt_id makes a redelivered queue message change nothing.
CREATE TABLE message_status_events (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_id    uuid,
    provider      text NOT NULL,
    external_id   text NOT NULL,
    status        text NOT NULL REFERENCES message_statuses (status),
    error_code    text,
    error_reason  text,
    occurred_at   timestamptz NOT NULL,
    receipt_id    uuid UNIQUE REFERENCES webhook_receipts (id),
    applied_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id)
);
CREATE INDEX message_status_events_message ON message_status_events (message_id, created_at);
CREATE INDEX message_status_events_parked ON message_status_events (provider, external_id)
    WHERE message_id IS NULL;

ALTER TABLE message_status_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE message_status_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON message_status_events TO tether_app
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
CREATE POLICY jobs_all_tenants ON message_status_events TO tether_jobs USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON message_status_events TO tether_app, tether_jobs;
