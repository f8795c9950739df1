-- Privacy and the duties around it (issue 19, points 4 to 7): HELP names its sender,
-- erasure on request, retention windows, and the opt-out clock.

-- 4. HELP answers name the brand and a contact (CTIA). A campaign is not launched
-- without both (tether.domain.model.TenantConfig.check_help_identity).
-- 6. How long the raw webhook payloads, message bodies and stored idempotent responses
-- are kept, in days (the retention job purges what is older, in batches).
ALTER TABLE tenant_config
    ADD COLUMN brand_name text
        CONSTRAINT tenant_config_brand_name_check CHECK (btrim(brand_name) <> '' AND length(brand_name) <= 60),
    ADD COLUMN help_contact text
        CONSTRAINT tenant_config_help_contact_check CHECK (btrim(help_contact) <> '' AND length(help_contact) <= 100),
    ADD COLUMN retain_webhook_payload_days integer NOT NULL DEFAULT 30
        CONSTRAINT tenant_config_retain_webhook_payload_days_check CHECK (retain_webhook_payload_days BETWEEN 1 AND 3650),
    ADD COLUMN retain_message_body_days integer NOT NULL DEFAULT 365
        CONSTRAINT tenant_config_retain_message_body_days_check CHECK (retain_message_body_days BETWEEN 1 AND 3650),
    ADD COLUMN retain_idempotency_days integer NOT NULL DEFAULT 7
        CONSTRAINT tenant_config_retain_idempotency_days_check CHECK (retain_idempotency_days BETWEEN 1 AND 3650);

-- 5. A suppression outlives the phone number it names: it is matched on a hash of the
-- tenant and the number, so erasing the number (phone to NULL) keeps the opt-out.
CREATE FUNCTION suppression_phone_hash(p_tenant_id uuid, p_phone text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT sha256(convert_to(p_tenant_id::text || ':' || p_phone, 'UTF8')) $$;

-- 7. arrived_at: when the opt-out reached Tether (its webhook receipt's received_at);
-- opt_out_clock: how long it took from there to this suppression.
ALTER TABLE suppressions
    ADD COLUMN phone_hash bytea,
    ADD COLUMN erased_at timestamptz,
    ADD COLUMN arrived_at timestamptz,
    ADD COLUMN opt_out_clock interval GENERATED ALWAYS AS (created_at - arrived_at) STORED;

DROP TRIGGER suppressions_lift_only ON suppressions;
UPDATE suppressions SET phone_hash = suppression_phone_hash(tenant_id, phone);
ALTER TABLE suppressions
    ALTER COLUMN phone_hash SET NOT NULL,
    ALTER COLUMN phone DROP NOT NULL,
    ADD CONSTRAINT suppressions_phone_or_erased CHECK ((phone IS NULL) = (erased_at IS NOT NULL));

CREATE FUNCTION fill_suppression_phone_hash() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.phone_hash := suppression_phone_hash(NEW.tenant_id, NEW.phone);
    RETURN NEW;
END $$;
CREATE TRIGGER suppressions_phone_hash BEFORE INSERT ON suppressions
    FOR EACH ROW EXECUTE FUNCTION fill_suppression_phone_hash();

DROP INDEX suppressions_one_active;
CREATE UNIQUE INDEX suppressions_one_active
    ON suppressions (tenant_id, phone_hash, phone_number_id) NULLS NOT DISTINCT
    WHERE lifted_at IS NULL;

-- An UPDATE either lifts (0017's keep_suppression, unchanged) or erases the number:
-- phone to NULL with erased_at, once, nothing else. The hash and the arrival never change.
CREATE FUNCTION erase_suppression_phone() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF OLD.erased_at IS NOT NULL OR NEW.erased_at IS NULL OR NEW.phone IS NOT NULL
       -- (a generated column reads NULL in a BEFORE trigger: opt_out_clock is left out)
       OR (to_jsonb(NEW) - 'phone' - 'erased_at' - 'opt_out_clock')
          <> (to_jsonb(OLD) - 'phone' - 'erased_at' - 'opt_out_clock') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'suppressions_kept',
            MESSAGE = format('suppression %s: erasure only clears its number, once', OLD.id);
    END IF;
    RETURN NEW;
END $$;
CREATE FUNCTION keep_suppression_hash() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'check_violation',
        CONSTRAINT = 'suppressions_kept',
        MESSAGE = format('suppression %s: its hash and arrival cannot change', OLD.id);
END $$;
CREATE TRIGGER suppressions_lift_only BEFORE UPDATE ON suppressions
    FOR EACH ROW WHEN (OLD.erased_at IS NOT DISTINCT FROM NEW.erased_at)
    EXECUTE FUNCTION keep_suppression();
CREATE TRIGGER suppressions_erase_only BEFORE UPDATE ON suppressions
    FOR EACH ROW WHEN (OLD.erased_at IS DISTINCT FROM NEW.erased_at)
    EXECUTE FUNCTION erase_suppression_phone();
CREATE TRIGGER suppressions_hash_fixed BEFORE UPDATE ON suppressions
    FOR EACH ROW WHEN (OLD.phone_hash IS DISTINCT FROM NEW.phone_hash
                       OR OLD.arrived_at IS DISTINCT FROM NEW.arrived_at)
    EXECUTE FUNCTION keep_suppression_hash();

-- The send gate matches on the hash (0017's begin_hand_over otherwise).
CREATE OR REPLACE FUNCTION begin_hand_over(p_message_id uuid)
RETURNS TABLE (lead_id uuid, tenant_id uuid, campaign_id uuid, phone text, lead_state text,
               external_id text, attempts integer, suppressed boolean)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    v_lead uuid;
    v_tenant uuid;
    v_phone text;
BEGIN
    SELECT m.lead_id, m.tenant_id, m.to_address INTO v_lead, v_tenant, v_phone
    FROM messages m WHERE m.id = p_message_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM 1 FROM leads l WHERE l.id = v_lead FOR NO KEY UPDATE;
    PERFORM pg_advisory_xact_lock_shared(suppression_lock_key(v_tenant, v_phone));
    RETURN QUERY
    SELECT l.id, m.tenant_id, coalesce(l.campaign_id, m.campaign_id), coalesce(l.phone, m.to_address),
           l.state::text, m.external_id, m.attempts,
           EXISTS (SELECT 1 FROM suppressions s WHERE s.tenant_id = m.tenant_id
                   AND s.phone_hash = suppression_phone_hash(m.tenant_id, m.to_address)
                   AND s.lifted_at IS NULL
                   AND (s.phone_number_id IS NULL OR s.phone_number_id = m.outbound_number_id))
    FROM messages m LEFT JOIN leads l ON l.id = m.lead_id
    WHERE m.id = p_message_id
    FOR UPDATE OF m;
END $$;

-- 5. Erasure marks what it cleared. A lead keeps its row, state, phone and counts (the
-- hard rule binds its messages to it); its names, email and custom data go.
ALTER TABLE leads ADD COLUMN erased_at timestamptz;

-- The one sanctioned change to a stored webhook request: its raw text and bytes, headers
-- and parsed event cleared together, once, with redacted_at (erasure or retention). The
-- idempotency key stays, so a provider's retry is still a duplicate.
ALTER TABLE webhook_receipts ADD COLUMN redacted_at timestamptz;
CREATE OR REPLACE FUNCTION webhook_receipts_keep_raw_bytes() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.idempotency_key IS DISTINCT FROM OLD.idempotency_key
       OR OLD.redacted_at IS NOT NULL
          AND (to_jsonb(NEW) - 'processed_at' - 'attempts' - 'last_error' - 'enqueued_at')
              <> (to_jsonb(OLD) - 'processed_at' - 'attempts' - 'last_error' - 'enqueued_at') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'webhook_receipts_raw_is_permanent',
            MESSAGE = 'a redacted webhook receipt stays as it is, and its key never changes';
    END IF;
    IF OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL THEN
        IF NEW.raw_body = '' AND NEW.raw_bytes = ''::bytea AND NEW.headers = '{}'::jsonb
           AND NEW.event IS NULL THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'webhook_receipts_raw_is_permanent',
            MESSAGE = 'a webhook receipt is redacted whole: raw text, bytes, headers and event';
    END IF;
    IF NEW.raw_bytes IS DISTINCT FROM OLD.raw_bytes OR NEW.raw_body IS DISTINCT FROM OLD.raw_body THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'webhook_receipts_raw_is_permanent',
            MESSAGE = 'a webhook receipt''s raw request cannot be changed';
    END IF;
    RETURN NEW;
END $$;
CREATE INDEX webhook_receipts_unredacted ON webhook_receipts (received_at) WHERE redacted_at IS NULL;
CREATE INDEX messages_unerased ON messages (created_at) WHERE erased_at IS NULL;

-- The append-only logs allow one change besides 0018's counts: erasure, once, which may
-- only replace top-level values of the payload (detail) by the string "[erased]".
CREATE FUNCTION allow_only_redaction() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_column text := TG_ARGV[0];
    v_old jsonb := to_jsonb(OLD);
    v_new jsonb := to_jsonb(NEW);
BEGIN
    IF TG_OP = 'UPDATE'
       AND v_old ->> 'redacted_at' IS NULL AND v_new ->> 'redacted_at' IS NOT NULL
       AND (v_new - v_column - 'redacted_at') = (v_old - v_column - 'redacted_at')
       AND jsonb_typeof(v_new -> v_column) = 'object'
       AND NOT EXISTS (
           SELECT 1
             FROM jsonb_each(v_new -> v_column) n
             FULL JOIN jsonb_each(v_old -> v_column) o USING (key)
            WHERE n.key IS NULL OR o.key IS NULL
               OR (n.value <> o.value AND n.value <> '"[erased]"'::jsonb)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'check_violation',
        CONSTRAINT = TG_TABLE_NAME || '_append_only',
        MESSAGE = format('%s is append-only: only an erasure may replace values, once', TG_TABLE_NAME);
END $$;

ALTER TABLE lead_events ADD COLUMN redacted_at timestamptz;
DROP TRIGGER lead_events_append_only ON lead_events;
CREATE TRIGGER lead_events_append_only BEFORE DELETE ON lead_events
    FOR EACH ROW EXECUTE FUNCTION reject_modification();
CREATE TRIGGER lead_events_append_only_update BEFORE UPDATE ON lead_events
    FOR EACH ROW WHEN (OLD.redacted_at IS NOT DISTINCT FROM NEW.redacted_at)
    EXECUTE FUNCTION reject_modification();
CREATE TRIGGER lead_events_redaction BEFORE UPDATE ON lead_events
    FOR EACH ROW WHEN (OLD.redacted_at IS DISTINCT FROM NEW.redacted_at)
    EXECUTE FUNCTION allow_only_redaction('payload');
GRANT UPDATE (payload, redacted_at) ON lead_events TO tether_app, tether_jobs;

ALTER TABLE audit_log ADD COLUMN redacted_at timestamptz;
DROP TRIGGER audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_only_counts();
CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
    FOR EACH ROW WHEN (OLD.redacted_at IS NOT DISTINCT FROM NEW.redacted_at)
    EXECUTE FUNCTION audit_log_only_counts();
CREATE TRIGGER audit_log_redaction BEFORE UPDATE ON audit_log
    FOR EACH ROW WHEN (OLD.redacted_at IS DISTINCT FROM NEW.redacted_at)
    EXECUTE FUNCTION allow_only_redaction('detail');
GRANT UPDATE (detail, redacted_at) ON audit_log TO tether_app, tether_jobs;

-- The top-level values of `doc` that hold any of `needles` (case-insensitively),
-- replaced by "[erased]": what erasure writes into a log's payload.
CREATE FUNCTION redact_values(doc jsonb, needles text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(jsonb_object_agg(
               e.key,
               CASE WHEN EXISTS (SELECT 1 FROM unnest(needles) n
                                  WHERE strpos(lower(e.value::text), lower(n)) > 0)
                    THEN '"[erased]"'::jsonb ELSE e.value END), '{}'::jsonb)
      FROM jsonb_each(doc) e
$$;
