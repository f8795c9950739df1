-- Tenant isolation. Every tenant-owned table is under forced row-level security:
-- tether_app sees and writes only the rows of the tenant set on its transaction;
-- tether_jobs, the cross-tenant scheduled jobs, sees all. No policy names the owner,
-- so even the owner reads nothing through these tables unless it is a superuser.

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants TO tether_app
    USING (id = app_current_tenant()) WITH CHECK (id = app_current_tenant());
CREATE POLICY jobs_all_tenants ON tenants TO tether_jobs USING (true) WITH CHECK (true);

DO $$
DECLARE
    tenant_table text;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY[
        'tenant_config', 'api_keys', 'provider_accounts', 'phone_numbers', 'campaigns',
        'campaign_phone_assignments', 'leads', 'suppressions', 'threads', 'messages',
        'thread_insights', 'webhook_receipts', 'lead_events', 'lead_timers', 'call_queue',
        'notifications', 'audit_log'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO tether_app '
            'USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant())',
            tenant_table);
        EXECUTE format(
            'CREATE POLICY jobs_all_tenants ON %I TO tether_jobs USING (true) WITH CHECK (true)',
            tenant_table);
    END LOOP;
END $$;

-- Privileges: what each role may do at all, before row-level security narrows it.
-- Messages and receipts are never deleted (a message's binding is permanent); the
-- event log and audit log only grow; tenants are created by the jobs role.
GRANT SELECT, UPDATE ON tenants TO tether_app;
GRANT SELECT, INSERT, UPDATE ON tenants TO tether_jobs;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    tenant_config, api_keys, provider_accounts, phone_numbers, campaigns,
    campaign_phone_assignments, leads, suppressions, threads, thread_insights,
    lead_timers, call_queue, notifications
    TO tether_app, tether_jobs;
GRANT SELECT, INSERT, UPDATE ON messages, webhook_receipts TO tether_app, tether_jobs;
GRANT SELECT, INSERT ON lead_events, audit_log TO tether_app, tether_jobs;
GRANT SELECT ON lead_state_transitions, message_statuses, conversation_overview TO tether_app, tether_jobs;
