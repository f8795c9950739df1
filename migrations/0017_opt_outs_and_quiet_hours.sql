-- Opt-outs that cannot be lost and quiet hours that tenants can only narrow (issue 23).

-- 1. Suppressions are kept for good. The application roles may not DELETE them, and a
-- trigger refuses whoever asks (a suppression goes only with its tenant). An UPDATE
-- may only lift one, once: lifted_at and lifted_reason from NULL to a value (the
-- re-subscribe path); what was suppressed, why and when never changes.
REVOKE DELETE, TRUNCATE ON suppressions FROM tether_app, tether_jobs;

CREATE FUNCTION refuse_suppression_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    -- the tenant's own deletion cascades here after its row is gone: that one may pass
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'check_violation',
        CONSTRAINT = 'suppressions_kept',
        MESSAGE = format('suppressions cannot be deleted (%s); lift one by re-subscribe', TG_OP);
END $$;
CREATE TRIGGER suppressions_no_delete BEFORE DELETE ON suppressions
    FOR EACH ROW EXECUTE FUNCTION refuse_suppression_delete();
CREATE TRIGGER suppressions_no_truncate BEFORE TRUNCATE ON suppressions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_suppression_delete();

CREATE FUNCTION keep_suppression() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW.id, NEW.tenant_id, NEW.phone, NEW.phone_number_id, NEW.reason, NEW.keyword,
        NEW.source_message_id, NEW.created_at)
           IS DISTINCT FROM (OLD.id, OLD.tenant_id, OLD.phone, OLD.phone_number_id, OLD.reason,
                             OLD.keyword, OLD.source_message_id, OLD.created_at)
       OR OLD.lifted_at IS NOT NULL
       OR NEW.lifted_at IS NULL
       OR coalesce(btrim(NEW.lifted_reason), '') = '' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'suppressions_kept',
            MESSAGE = format('suppression %s: only lifting it once, with a reason, is allowed', OLD.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER suppressions_lift_only BEFORE UPDATE ON suppressions
    FOR EACH ROW EXECUTE FUNCTION keep_suppression();

-- 2. The one confirmation an opt-out gets goes out even when the phone matched no
-- lead: from the number the STOP reached, through that number's campaign assignment
-- (the hard rule still binds it). Every other outbound text still names its lead.
ALTER TABLE messages DROP CONSTRAINT messages_outbound_bound;
ALTER TABLE messages ADD CONSTRAINT messages_outbound_bound CHECK (
    direction = 'inbound'
    OR (campaign_phone_assignment_id IS NOT NULL AND outbound_number_id IS NOT NULL
        AND campaign_id IS NOT NULL AND send_key IS NOT NULL
        AND (lead_id IS NOT NULL OR purpose = 'opt_out_confirmation'))
);

-- 3. Quiet hours are a floor. The tenant's own window lies inside the federal one
-- (08:00-21:00, 47 CFR 64.1200(c)(1)) unless the tenant attested, on the record, that
-- a wider one is lawful for it; the built-in state rules (tether.domain.quiet_hours)
-- apply whatever this says.
ALTER TABLE tenant_config
    ADD COLUMN quiet_hours_wider_attested boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT tenant_config_quiet_hours_floor CHECK (
        quiet_hours_wider_attested
        OR (quiet_hours_start >= '08:00' AND quiet_hours_end <= '21:00'));

-- Every change to a tenant's configuration leaves an audit row with the old and the
-- new values of what changed (the actor is the API key's, when the API set one).
CREATE FUNCTION audit_tenant_config_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_old jsonb := to_jsonb(OLD) - 'updated_at' - 'created_at';
    v_new jsonb := to_jsonb(NEW) - 'updated_at' - 'created_at';
    v_before jsonb;
    v_after jsonb;
BEGIN
    SELECT coalesce(jsonb_object_agg(o.key, o.value), '{}'), coalesce(jsonb_object_agg(o.key, v_new -> o.key), '{}')
    INTO v_before, v_after
    FROM jsonb_each(v_old) o
    WHERE o.value IS DISTINCT FROM v_new -> o.key;
    IF v_before = '{}' THEN
        RETURN NEW;
    END IF;
    INSERT INTO audit_log (tenant_id, kind, actor, subject_type, subject_id, detail)
    VALUES (NEW.tenant_id, 'settings_changed', nullif(current_setting('app.actor', true), ''),
            'tenant_config', NEW.tenant_id::text,
            jsonb_build_object('old', v_before, 'new', v_after,
                               'attested_wider_window', NEW.quiet_hours_wider_attested));
    RETURN NEW;
END $$;
CREATE TRIGGER tenant_config_audited AFTER UPDATE ON tenant_config
    FOR EACH ROW EXECUTE FUNCTION audit_tenant_config_change();

-- 4. The claim and the hand-over read a lead-less confirmation too (LEFT JOIN leads),
-- and the claim reads the attestation. Otherwise migration 0016's and 0009's functions.
DROP FUNCTION message_for_send(uuid);
CREATE FUNCTION message_for_send(p_message_id uuid)
RETURNS TABLE (id uuid, tenant_id uuid, lead_id uuid, campaign_id uuid, status text, attempts integer,
               external_id text, from_address text, to_address text, outbound_number_id uuid, body text,
               media_urls text[], segments smallint, send_key text, not_before timestamptz,
               expires_at timestamptz, attempt_started_at timestamptz, paced_slot timestamptz,
               lead_state text, lead_timezone text, provider_account_id uuid, provider text,
               credentials_ref text, quiet_hours_start time, quiet_hours_end time,
               quiet_hours_by_state jsonb, send_segments_per_second numeric, send_segments_per_day integer,
               send_max_attempts integer, timer_7d_days integer, purpose text, campaign_status text,
               quiet_hours_wider_attested boolean)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT m.id, m.tenant_id, m.lead_id, m.campaign_id, m.status, m.attempts, m.external_id,
           m.from_address, m.to_address, m.outbound_number_id, m.body, m.media_urls, m.segments,
           m.send_key, m.not_before, m.expires_at, m.attempt_started_at, m.paced_slot,
           l.state::text, l.timezone, p.provider_account_id, a.provider, a.credentials_ref,
           c.quiet_hours_start, c.quiet_hours_end, c.quiet_hours_by_state,
           c.send_segments_per_second, c.send_segments_per_day, c.send_max_attempts, c.timer_7d_days,
           m.purpose, k.status, c.quiet_hours_wider_attested
    FROM messages m
    LEFT JOIN leads l ON l.id = m.lead_id
    JOIN phone_numbers p ON p.id = m.outbound_number_id
    JOIN provider_accounts a ON a.id = p.provider_account_id
    JOIN tenant_config c ON c.tenant_id = m.tenant_id
    JOIN campaigns k ON k.id = m.campaign_id
    WHERE m.id = p_message_id AND m.direction = 'outbound'
    FOR UPDATE OF m;
END $$;
REVOKE ALL ON FUNCTION message_for_send(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION message_for_send(uuid) TO tether_app, tether_jobs;

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
           EXISTS (SELECT 1 FROM suppressions s WHERE s.tenant_id = m.tenant_id AND s.phone = m.to_address
                   AND s.lifted_at IS NULL
                   AND (s.phone_number_id IS NULL OR s.phone_number_id = m.outbound_number_id))
    FROM messages m LEFT JOIN leads l ON l.id = m.lead_id
    WHERE m.id = p_message_id
    FOR UPDATE OF m;
END $$;
