-- One way to put a new tenant-owned table under row-level security, instead of the
-- block 0006 wrote for the first tables and five later migrations repeated by hand:
-- enabled and forced (the owner is bound too), tether_app sees and writes only the
-- tenant set on its transaction (nothing when none is set), tether_jobs works across
-- tenants. The table needs a tenant_id column. Grants stay beside each table: which
-- verbs a role gets differs on purpose (no DELETE on a record that must stay).
--
--     CREATE TABLE things (..., tenant_id uuid NOT NULL REFERENCES tenants(id), ...);
--     SELECT tether_tenant_table('things');
--     GRANT SELECT, INSERT, UPDATE ON things TO tether_app, tether_jobs;
CREATE FUNCTION tether_tenant_table(target regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = target AND attname = 'tenant_id' AND NOT attisdropped
    ) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'undefined_column',
            MESSAGE = format('%s has no tenant_id column: it cannot be a tenant table', target);
    END IF;
    -- regclass prints as a quoted, schema-qualified name where one is needed
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s TO tether_app '
        'USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant())',
        target);
    EXECUTE format(
        'CREATE POLICY jobs_all_tenants ON %s TO tether_jobs USING (true) WITH CHECK (true)',
        target);
END $$;

-- Only the schema owner (who runs migrations) changes what a table lets a role see.
REVOKE ALL ON FUNCTION tether_tenant_table(regclass) FROM PUBLIC;
