-- Roles, time zone and the helpers every later migration uses.
--
-- tether_app  : the API and the per-tenant workers. Never owns a table, so row-level
--               security always applies; it sees one tenant per transaction, the one
--               named by set_config('app.tenant_id', ..., true).
-- tether_jobs : the scheduled jobs that work across tenants (timers, pool release,
--               receipt sweeper). Not an owner either: constraints and triggers bind it
--               exactly as they bind tether_app; only the tenant filter is lifted.
-- Both are LOGIN roles without a password: the operator sets one (or grants rds_iam)
-- in AWS; the embedded development server trusts local connections.
DO $$
BEGIN
    CREATE ROLE tether_app LOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- roles are cluster-wide: another database of this cluster made it first
END $$;

DO $$
BEGIN
    CREATE ROLE tether_jobs LOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

-- Store and show every time in UTC, whatever the client's setting.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET timezone TO %L', current_database(), 'UTC');
END $$;

GRANT USAGE ON SCHEMA public TO tether_app, tether_jobs;

-- The tenant of the current transaction, NULL when none was set (then every tenant
-- policy matches nothing).
CREATE FUNCTION app_current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- For append-only tables: refuse UPDATE, DELETE and TRUNCATE, whoever asks.
CREATE FUNCTION reject_modification() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'check_violation',
        CONSTRAINT = TG_TABLE_NAME || '_append_only',
        MESSAGE = format('%s is append-only: %s is not allowed', TG_TABLE_NAME, TG_OP);
END $$;
