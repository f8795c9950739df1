-- Webhook edges (issues 13 and 24): the raw request kept byte for byte, and refused
-- webhooks counted into one audit row per account, reason and minute.

-- The body exactly as the provider sent it. raw_body stays as the readable text (with
-- the storable-text rule of tether.domain.storable applied), raw_bytes is the original:
-- text PostgreSQL cannot hold (NUL, unpaired surrogates, bytes that are not UTF-8) is
-- only ever replaced in raw_body and the parsed event, never here.
ALTER TABLE webhook_receipts ADD COLUMN raw_bytes bytea;
UPDATE webhook_receipts SET raw_bytes = convert_to(raw_body, 'UTF8');

-- A receipt written without its bytes (a fixture, an older writer) keeps its text's UTF-8.
CREATE FUNCTION webhook_receipts_fill_raw_bytes() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.raw_bytes IS NULL THEN
        NEW.raw_bytes := convert_to(NEW.raw_body, 'UTF8');
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER webhook_receipts_raw_bytes BEFORE INSERT ON webhook_receipts
    FOR EACH ROW EXECUTE FUNCTION webhook_receipts_fill_raw_bytes();
ALTER TABLE webhook_receipts ALTER COLUMN raw_bytes SET NOT NULL;
-- and the original cannot be rewritten afterwards
CREATE FUNCTION webhook_receipts_keep_raw_bytes() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.raw_bytes IS DISTINCT FROM OLD.raw_bytes OR NEW.raw_body IS DISTINCT FROM OLD.raw_body THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'webhook_receipts_raw_is_permanent',
            MESSAGE = 'a webhook receipt''s raw request cannot be changed';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER webhook_receipts_raw_is_permanent BEFORE UPDATE ON webhook_receipts
    FOR EACH ROW EXECUTE FUNCTION webhook_receipts_keep_raw_bytes();

-- Refused webhooks of a known account are counted, not appended one by one: a flood of
-- bad requests costs one row per (account, reason, minute). rate_key names that bucket;
-- rows without one are ordinary audit rows and stay strictly append-only.
ALTER TABLE audit_log ADD COLUMN rate_key text UNIQUE;

-- The only change an audit row allows: a counted row's detail.count going up. Everything
-- else (who, what, when, the rest of the detail) is as first written; nothing is deleted.
CREATE FUNCTION audit_log_only_counts() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.rate_key IS NOT NULL
        AND NEW.rate_key = OLD.rate_key
        AND NEW.id = OLD.id
        AND NEW.tenant_id IS NOT DISTINCT FROM OLD.tenant_id
        AND NEW.kind = OLD.kind
        AND NEW.actor IS NOT DISTINCT FROM OLD.actor
        AND NEW.subject_type IS NOT DISTINCT FROM OLD.subject_type
        AND NEW.subject_id IS NOT DISTINCT FROM OLD.subject_id
        AND NEW.created_at = OLD.created_at
        AND (NEW.detail - 'count') = (OLD.detail - 'count')
        AND jsonb_typeof(NEW.detail -> 'count') = 'number'
        AND (NEW.detail ->> 'count')::numeric > coalesce((OLD.detail ->> 'count')::numeric, 0)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'check_violation',
        CONSTRAINT = 'audit_log_append_only',
        MESSAGE = format('audit_log is append-only: %s is not allowed', TG_OP);
END $$;
DROP TRIGGER audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_only_counts();

-- The webhook counts under its tenant (tenant_isolation); an UPDATE grant on the one
-- column that may change.
GRANT UPDATE (detail) ON audit_log TO tether_app;
