-- Inbound replies that matched no lead (or came to a number that is not the tenant's):
-- stored like every message, and listed here with the reason until someone assigns them.
CREATE TABLE unmatched_inbound (
    message_id   uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    reason       text NOT NULL CHECK (btrim(reason) <> ''),
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolved_lead_id uuid,
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id),
    FOREIGN KEY (tenant_id, resolved_lead_id) REFERENCES leads (tenant_id, id)
);
CREATE INDEX unmatched_inbound_open ON unmatched_inbound (tenant_id, created_at) WHERE resolved_at IS NULL;

ALTER TABLE unmatched_inbound ENABLE ROW LEVEL SECURITY;
ALTER TABLE unmatched_inbound FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON unmatched_inbound TO tether_app
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
CREATE POLICY jobs_all_tenants ON unmatched_inbound TO tether_jobs USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON unmatched_inbound TO tether_app, tether_jobs;
