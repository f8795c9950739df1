-- Provider secrets belong to Tether (issue 13): clients hand over values, the API writes
-- them to Secrets Manager under tether/{stage}/tenants/{tenant_id}/provider-accounts/{id}/
-- and the account keeps only those names. The database itself refuses a reference to
-- another tenant's or another account's path, and any ARN: a bug (or a client) cannot
-- point one tenant's account at another tenant's secret.
--
-- `local:<value>` (the value itself) stays possible for the local stack and the tests;
-- the resolver refuses it on every other stage (tether/secrets.py).
--
-- NOT VALID: accounts registered earlier with Secrets Manager ARNs keep their rows (the
-- resolver refuses those references at use); sending their secrets again with
-- PUT /v1/provider-accounts/{id}/secrets moves them under the tenant's path.

CREATE FUNCTION provider_secret_ref_ok(ref text, tenant uuid, account uuid, kind text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ref IS NULL
        OR ref LIKE 'local:%'
        OR ref ~ ('^tether/[a-z0-9]+/tenants/' || tenant::text || '/provider-accounts/'
                  || account::text || '/' || kind || '(#AWSPREVIOUS)?$')
$$;

ALTER TABLE provider_accounts
    ADD CONSTRAINT provider_accounts_credentials_ref_in_tenant_path CHECK (
        provider_secret_ref_ok(credentials_ref, tenant_id, id, 'credentials')
    ) NOT VALID,
    ADD CONSTRAINT provider_accounts_signing_secret_ref_in_tenant_path CHECK (
        provider_secret_ref_ok(signing_secret_ref, tenant_id, id, 'signing-secret')
    ) NOT VALID,
    ADD CONSTRAINT provider_accounts_previous_signing_secret_ref_in_tenant_path CHECK (
        provider_secret_ref_ok(previous_signing_secret_ref, tenant_id, id, 'signing-secret')
    ) NOT VALID;
