-- The management API (issue 8): finding a key's tenant before the tenant is known,
-- and the record of requests made with an Idempotency-Key.

-- The SHA-256 of the API key a request presented, hex, set on the transaction with
-- set_config('app.api_key_hash', hash, true); NULL when none was set.
CREATE FUNCTION app_current_api_key_hash() RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT decode(nullif(current_setting('app.api_key_hash', true), ''), 'hex') $$;

-- A request knows its key, not its tenant: this lets tether_app read the one live key
-- whose hash it holds, and nothing else. Knowing the hash takes knowing the key (32
-- random bytes), so the policy reveals nothing a caller could not read already. Read
-- only; revoked keys stay invisible; every other key and table stay behind
-- tenant_isolation.
CREATE POLICY api_key_lookup ON api_keys FOR SELECT TO tether_app
    USING (key_hash = app_current_api_key_hash() AND revoked_at IS NULL);

-- A POST that creates something, sent with an Idempotency-Key, is carried out once per
-- (tenant, key): a repeat answers the stored response; the same key with another
-- request is refused. A claim with no response is in progress (or its request died:
-- claims older than a few minutes may be taken over).
CREATE TABLE api_idempotency (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    idempotency_key  text NOT NULL CHECK (btrim(idempotency_key) <> '' AND length(idempotency_key) <= 200),
    request_hash     text NOT NULL,
    status_code      integer CHECK (status_code BETWEEN 200 AND 299),
    response         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    PRIMARY KEY (tenant_id, idempotency_key),
    CHECK ((status_code IS NULL) = (completed_at IS NULL))
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);

ALTER TABLE api_idempotency ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_idempotency FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_idempotency TO tether_app
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
CREATE POLICY jobs_all_tenants ON api_idempotency TO tether_jobs USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON api_idempotency TO tether_app, tether_jobs;
