-- Erasure reaches the consent log (issues 19 and its two halves, merged): the consent
-- and revocation rows stay as what was recorded, and when, and from which source (the
-- proof a texting program keeps), but the person's number, IP, user agent, the text
-- shown to them and the evidence reference are cleared, once, with erased_at. The row
-- keeps a hash of tenant and number (as suppressions do, migration 0028), so an
-- erased consent can still be counted and matched to its suppression.
ALTER TABLE consents
    ALTER COLUMN phone DROP NOT NULL,
    ADD COLUMN phone_hash bytea,
    ADD COLUMN erased_at timestamptz,
    ADD CONSTRAINT consents_phone_or_erased CHECK (phone IS NOT NULL OR erased_at IS NOT NULL);
UPDATE consents SET phone_hash = suppression_phone_hash(tenant_id, phone);
ALTER TABLE consents ALTER COLUMN phone_hash SET NOT NULL;

CREATE FUNCTION fill_consent_phone_hash() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.phone_hash := suppression_phone_hash(NEW.tenant_id, NEW.phone);
    RETURN NEW;
END $$;
CREATE TRIGGER consents_phone_hash BEFORE INSERT ON consents
    FOR EACH ROW EXECUTE FUNCTION fill_consent_phone_hash();

-- Append-only still, but for the one erasure: the personal columns to NULL, erased_at
-- set, once; nothing else about the row changes. DELETE stays refused.
CREATE FUNCTION erase_consent_only() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.erased_at IS NOT NULL OR NEW.erased_at IS NULL
       OR NEW.phone IS NOT NULL OR NEW.ip IS NOT NULL OR NEW.user_agent IS NOT NULL
       OR NEW.disclosure_text IS NOT NULL OR NEW.evidence_ref IS NOT NULL
       OR (to_jsonb(NEW) - 'phone' - 'ip' - 'user_agent' - 'disclosure_text' - 'evidence_ref' - 'erased_at')
          <> (to_jsonb(OLD) - 'phone' - 'ip' - 'user_agent' - 'disclosure_text' - 'evidence_ref' - 'erased_at') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'consents_append_only',
            MESSAGE = format('consents is append-only: %s is not allowed (erasure only clears the person, once)', TG_OP);
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER consents_append_only ON consents;
CREATE TRIGGER consents_append_only BEFORE UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION erase_consent_only();
GRANT UPDATE (phone, ip, user_agent, disclosure_text, evidence_ref, erased_at) ON consents
    TO tether_app;
