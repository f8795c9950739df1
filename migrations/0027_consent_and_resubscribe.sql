-- Consent you can prove, a way back out of SUPPRESSED, and a suppression list to manage
-- (issue 19, points 1 to 3).

-- 1. Consents: an append-only log per (tenant, phone, channel). A consent and its later
-- revocation are two rows, so both stay provable; a versioned row updated in place would
-- lose what was shown and when. What is in force is the latest row by the time it
-- happened (then by the order it was recorded): granted, or revoked.
CREATE TABLE consents (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    phone            text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    channel          text NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'whatsapp', 'voice')),
    kind             text NOT NULL CHECK (kind IN ('granted', 'revoked')),
    -- form: a web form's URL; import: the import (file or request); attestation: the
    -- tenant attests consent for a whole import; keyword: a text from the phone (YES,
    -- START, STOP ...); api: recorded through the API with its own evidence
    source_type      text NOT NULL CHECK (source_type IN ('form', 'import', 'attestation', 'keyword', 'api')),
    source           text NOT NULL CHECK (btrim(source) <> '' AND length(source) <= 2000),
    disclosure_text  text CHECK (length(disclosure_text) <= 10000),
    ip               inet,
    user_agent       text CHECK (length(user_agent) <= 1000),
    evidence_ref     text CHECK (length(evidence_ref) <= 2000),
    lead_id          uuid,
    message_id       uuid,
    consented_at     timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    recorded_by      text,
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id),
    -- a consent cannot be dated in the future (clocks aside): that would outrun a STOP
    CONSTRAINT consents_not_in_future CHECK (consented_at <= recorded_at + interval '5 minutes')
);
CREATE INDEX consents_phone ON consents (tenant_id, phone, channel, consented_at DESC, seq DESC);
CREATE INDEX consents_recent ON consents (tenant_id, recorded_at DESC, id DESC);
SELECT tether_tenant_table('consents');
GRANT SELECT, INSERT ON consents TO tether_app, tether_jobs;
CREATE TRIGGER consents_append_only BEFORE UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION reject_modification();
CREATE TRIGGER consents_no_truncate BEFORE TRUNCATE ON consents
    FOR EACH STATEMENT EXECUTE FUNCTION reject_modification();

-- True when the phone's latest consent on the channel is a grant.
CREATE FUNCTION consent_in_force(p_tenant_id uuid, p_phone text, p_channel text) RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT c.kind = 'granted' FROM consents c
                     WHERE c.tenant_id = p_tenant_id AND c.phone = p_phone AND c.channel = p_channel
                     ORDER BY c.consented_at DESC, c.seq DESC LIMIT 1), false)
$$;
GRANT EXECUTE ON FUNCTION consent_in_force(uuid, text, text) TO tether_app, tether_jobs;

-- 2. require_consent: the send gate refuses a campaign text to a phone without consent
-- in force (tether.services.outbound), and an import without consent is refused.
ALTER TABLE tenant_config ADD COLUMN require_consent boolean NOT NULL DEFAULT false;

-- 3. Re-subscribe. What proves a way out of a suppression that began at p_since for
-- p_phone: the phone's own START/UNSTOP (an inbound text, from that phone, stored after
-- the suppression, whose whole text is the keyword; of that lead when one is named), or
-- a consent granted by that phone after the suppression. p_cause names one:
-- {"message_id": ...} or {"consent_id": ...}.
CREATE FUNCTION is_resubscribe_keyword(p_body text) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$ SELECT regexp_replace(lower(p_body), '[^a-z]', '', 'g') IN ('start', 'unstop') $$;

CREATE FUNCTION uuid_or_null(p_value text) RETURNS uuid
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN p_value ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN p_value::uuid END
$$;

CREATE FUNCTION resubscribe_proven(p_tenant_id uuid, p_phone text, p_since timestamptz,
                                   p_cause jsonb, p_lead_id uuid) RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT CASE
        WHEN p_cause ? 'message_id' THEN EXISTS (
            SELECT 1 FROM messages m
            WHERE m.tenant_id = p_tenant_id AND m.id = uuid_or_null(p_cause ->> 'message_id')
              AND m.direction = 'inbound' AND m.from_address = p_phone
              AND (p_lead_id IS NULL OR m.lead_id = p_lead_id)
              AND m.created_at > p_since AND is_resubscribe_keyword(m.body))
        WHEN p_cause ? 'consent_id' THEN EXISTS (
            SELECT 1 FROM consents c
            WHERE c.tenant_id = p_tenant_id AND c.id = uuid_or_null(p_cause ->> 'consent_id')
              AND c.phone = p_phone AND c.kind = 'granted' AND c.consented_at > p_since)
        ELSE false
    END
$$;
GRANT EXECUTE ON FUNCTION resubscribe_proven(uuid, text, timestamptz, jsonb, uuid)
    TO tether_app, tether_jobs;

-- The one way out of SUPPRESSED: to RESPONDED (the person acted: a START, or a consent
-- given after the opt-out). Only with a RESUBSCRIBED event of this lead, recorded after
-- the suppression, whose cause proves it (above); a plain UPDATE of the state is refused.
ALTER TABLE lead_state_transitions DROP CONSTRAINT lead_state_suppressed_is_terminal;
ALTER TABLE lead_state_transitions ADD CONSTRAINT lead_state_one_way_out_of_suppressed
    CHECK (from_state <> 'suppressed' OR to_state = 'responded');
INSERT INTO lead_state_transitions (from_state, to_state) VALUES ('suppressed', 'responded');

CREATE OR REPLACE FUNCTION enforce_lead_state_transition() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF NOT EXISTS (SELECT 1 FROM lead_state_transitions
                       WHERE from_state = OLD.state AND to_state = NEW.state) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'check_violation',
                CONSTRAINT = 'lead_state_transition',
                MESSAGE = format('lead %s cannot move from %s to %s', OLD.id, OLD.state, NEW.state);
        END IF;
        IF OLD.state = 'suppressed' AND NOT EXISTS (
            SELECT 1 FROM lead_events e
            WHERE e.tenant_id = OLD.tenant_id AND e.lead_id = OLD.id
              AND e.event_type = 'RESUBSCRIBED' AND e.previous_state = 'suppressed'
              AND e.new_state = NEW.state AND e.created_at >= OLD.state_changed_at
              AND resubscribe_proven(OLD.tenant_id, OLD.phone, OLD.state_changed_at, e.payload, OLD.id)
        ) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'check_violation',
                CONSTRAINT = 'lead_resubscribe',
                MESSAGE = format('lead %s leaves suppressed only by re-subscribe: its own START/UNSTOP'
                                 ' or a consent newer than its suppression', OLD.id);
        END IF;
        NEW.state_changed_at := now();
    END IF;
    RETURN NEW;
END $$;

-- 4. The suppression list. A manual entry says why (note) and who (added_by); lifting
-- names its proven cause (lifted_by, the same proof as above), and neither changes
-- afterwards. Deleting stays refused (migration 0017). Every change is audited, by a
-- trigger so no path can forget (the phone is left out of the audit row: erasure
-- redacts it from the suppression, and the audit log cannot be changed).
ALTER TABLE suppressions
    ADD COLUMN note text CHECK (length(note) <= 1000),
    ADD COLUMN added_by text,
    ADD COLUMN lifted_by jsonb;
CREATE INDEX suppressions_recent ON suppressions (tenant_id, created_at DESC, id DESC);
CREATE INDEX suppressions_phone ON suppressions (tenant_id, phone);

CREATE FUNCTION prove_suppression_lift() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.note IS DISTINCT FROM OLD.note OR NEW.added_by IS DISTINCT FROM OLD.added_by
       OR (OLD.lifted_by IS NOT NULL AND NEW.lifted_by IS DISTINCT FROM OLD.lifted_by) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'suppressions_lift_proven',
            MESSAGE = format('suppression %s: its note, author and lifting cause are fixed', OLD.id);
    END IF;
    IF OLD.lifted_at IS NULL AND NEW.lifted_at IS NOT NULL
       AND NOT resubscribe_proven(OLD.tenant_id, OLD.phone, OLD.created_at,
                                  coalesce(NEW.lifted_by, '{}'), NULL) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'suppressions_lift_proven',
            MESSAGE = format('suppression %s is lifted only by re-subscribe: a START/UNSTOP from'
                             ' the phone or a consent newer than the suppression', OLD.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER suppressions_lift_proven BEFORE UPDATE ON suppressions
    FOR EACH ROW EXECUTE FUNCTION prove_suppression_lift();

CREATE FUNCTION audit_suppression_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (tenant_id, kind, actor, subject_type, subject_id, detail)
        VALUES (NEW.tenant_id, 'suppression_added',
                coalesce(NEW.added_by, nullif(current_setting('app.actor', true), '')),
                'suppression', NEW.id::text,
                jsonb_build_object('reason', NEW.reason, 'keyword', NEW.keyword, 'note', NEW.note,
                                   'phone_number_id', NEW.phone_number_id,
                                   'source_message_id', NEW.source_message_id));
    ELSIF OLD.lifted_at IS NULL AND NEW.lifted_at IS NOT NULL THEN
        INSERT INTO audit_log (tenant_id, kind, actor, subject_type, subject_id, detail)
        VALUES (NEW.tenant_id, 'suppression_lifted', nullif(current_setting('app.actor', true), ''),
                'suppression', NEW.id::text,
                jsonb_build_object('lifted_reason', NEW.lifted_reason, 'lifted_by', NEW.lifted_by));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER suppressions_audited AFTER INSERT OR UPDATE ON suppressions
    FOR EACH ROW EXECUTE FUNCTION audit_suppression_change();
