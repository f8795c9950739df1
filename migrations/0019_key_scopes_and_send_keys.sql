-- API keys with scopes and lineage, failed key lookups counted per source, and send
-- keys unique per tenant (issues 13 and 24).

-- Scopes, lowest to highest: read (GETs), write (everything a day's work needs),
-- admin (keys, settings, provider accounts). Keys made before scopes existed could do
-- everything, so they stay admin; new keys must say what they are.
ALTER TABLE api_keys ADD COLUMN scope text NOT NULL DEFAULT 'admin'
    CONSTRAINT api_keys_scope_known CHECK (scope IN ('read', 'write', 'admin'));
ALTER TABLE api_keys ALTER COLUMN scope DROP DEFAULT;
-- The key that issued this one (NULL: the tenant's bootstrap key). Within the tenant.
ALTER TABLE api_keys ADD COLUMN created_by_key_id uuid;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_tenant_id_id_key UNIQUE (tenant_id, id);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_created_by
    FOREIGN KEY (tenant_id, created_by_key_id) REFERENCES api_keys (tenant_id, id);
CREATE INDEX api_keys_created_by_key ON api_keys (created_by_key_id)
    WHERE created_by_key_id IS NOT NULL;

CREATE FUNCTION api_key_scope_rank(scope text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE scope WHEN 'read' THEN 1 WHEN 'write' THEN 2 WHEN 'admin' THEN 3 END $$;

-- A key mints keys of at most its own scope, and a live key at that; a key's scope,
-- hash, tenant and lineage never change (revoking and noting use are the only updates).
CREATE FUNCTION api_keys_guard() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    parent record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.scope IS DISTINCT FROM OLD.scope
           OR NEW.key_hash IS DISTINCT FROM OLD.key_hash
           OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
           OR NEW.created_by_key_id IS DISTINCT FROM OLD.created_by_key_id THEN
            RAISE EXCEPTION 'an API key''s scope, hash, tenant and issuer never change'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'api_keys_immutable';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.created_by_key_id IS NOT NULL THEN
        SELECT scope, revoked_at INTO parent FROM api_keys
            WHERE id = NEW.created_by_key_id AND tenant_id = NEW.tenant_id;
        IF NOT FOUND OR parent.revoked_at IS NOT NULL
           OR api_key_scope_rank(NEW.scope) > api_key_scope_rank(parent.scope) THEN
            RAISE EXCEPTION 'a key issues keys of at most its own scope, and only while live'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'api_keys_scope_within_issuer';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER api_keys_guard BEFORE INSERT OR UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_guard();

-- Failed API-key lookups per source address and minute. In Postgres, not in a
-- container's memory: Lambda runs many containers, and a guesser spreads over them;
-- one upsert per failure counts across all of them. Not tenant data (a failed lookup
-- has no tenant), so no row-level security; the app role only counts and reads.
CREATE TABLE api_auth_failures (
    source    text NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
    minute    timestamptz NOT NULL CHECK (minute = date_trunc('minute', minute)),
    failures  integer NOT NULL CHECK (failures > 0),
    PRIMARY KEY (source, minute)
);
CREATE INDEX api_auth_failures_minute ON api_auth_failures (minute);
GRANT SELECT, INSERT, UPDATE, DELETE ON api_auth_failures TO tether_app, tether_jobs;

-- A send key is the caller's: unique within its tenant, not across tenants (a global
-- key told one tenant whether another had used a key, and let it block that key).
ALTER TABLE messages DROP CONSTRAINT messages_send_key_key;
ALTER TABLE messages ADD CONSTRAINT messages_tenant_id_send_key_key UNIQUE (tenant_id, send_key);
