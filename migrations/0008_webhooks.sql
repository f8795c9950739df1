-- Webhook receipt (issue 3): signing-secret rotation, the one account a webhook may read
-- before it knows its tenant, and audit rows that belong to no tenant.

-- During a rotation both secrets verify until the previous one expires; a previous
-- secret without an end date would never stop working, so the two come together.
ALTER TABLE provider_accounts
    ADD COLUMN previous_signing_secret_ref text,
    ADD COLUMN previous_secret_expires_at timestamptz,
    ADD CONSTRAINT provider_accounts_rotation_has_end CHECK (
        (previous_signing_secret_ref IS NULL) = (previous_secret_expires_at IS NULL)
    );

-- The provider account a webhook request named in its URL, set on the transaction with
-- set_config('app.provider_account_id', id, true); NULL when none was set.
CREATE FUNCTION app_current_provider_account() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('app.provider_account_id', true), '')::uuid $$;

-- A webhook knows the (unguessable) account id from its URL, not the tenant: this lets
-- tether_app read that one account, and nothing else, to learn its tenant and secrets.
-- Read only; every other table and every other account stay behind tenant_isolation.
CREATE POLICY webhook_account_lookup ON provider_accounts FOR SELECT TO tether_app
    USING (id = app_current_provider_account());

-- A rejected webhook for an unknown account has no tenant, but still leaves an audit
-- row. tether_app may write such rows and, having no policy to read them, never sees
-- them again: only the jobs role (and operators) do.
CREATE POLICY audit_without_tenant ON audit_log FOR INSERT TO tether_app
    WITH CHECK (tenant_id IS NULL);
