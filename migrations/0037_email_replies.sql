-- Email replies (issue 18, seed 001): SES stores an inbound mail in S3, the
-- inbound_email function stores it once as a webhook receipt (provider 'ses') and the
-- inbound function applies it to the lead's email thread. Tether sends no email: an
-- email message is inbound only (migration 0034), its our_address is the mailbox it
-- reached.

-- The tenant's reply mailbox, e.g. replies@reply.acme.example: mail to it (or to a
-- lead's tagged form of it, replies+<reply_token>@reply.acme.example) is the tenant's.
-- Lower-case, no '+' in the local part (that separates the lead's tag), one tenant per
-- mailbox.
ALTER TABLE tenant_config ADD COLUMN reply_mailbox text
    CONSTRAINT tenant_config_reply_mailbox_key UNIQUE
    CONSTRAINT tenant_config_reply_mailbox_format
        CHECK (reply_mailbox ~ '^[a-z0-9][a-z0-9._-]{0,63}@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$');

-- An inbound mail names its mailbox, not its tenant: this lets tether_app read the one
-- tenant_config row of the mailbox it names (app.reply_mailbox, set in the same
-- transaction) to learn its tenant, and nothing else (as migration 0008 does for a
-- webhook's provider account).
CREATE POLICY reply_mailbox_lookup ON tenant_config FOR SELECT TO tether_app
    USING (reply_mailbox = nullif(current_setting('app.reply_mailbox', true), ''));

-- A lead's reply address is the tenant's mailbox tagged with the lead's token:
-- <local>+<reply_token>@<domain>. Random (60 bits), so an address cannot be guessed
-- from another lead's; unique within the tenant.
ALTER TABLE leads ADD COLUMN reply_token text NOT NULL
    DEFAULT substr(replace(gen_random_uuid()::text, '-', ''), 1, 16)
    CONSTRAINT leads_reply_token_format CHECK (reply_token ~ '^[a-z0-9]{8,32}$');
ALTER TABLE leads ADD CONSTRAINT leads_tenant_reply_token UNIQUE (tenant_id, reply_token);
-- the sender fallback: a tenant's leads by exact, lower-cased email
CREATE INDEX leads_tenant_email ON leads (tenant_id, lower(email)) WHERE email IS NOT NULL;

-- What an email message carries besides its text: its Message-ID (In-Reply-To and
-- References of a later mail find the lead by it) and its subject. Email only.
ALTER TABLE messages ADD COLUMN email_message_id text
    CONSTRAINT messages_email_message_id_length CHECK (length(email_message_id) BETWEEN 1 AND 998);
ALTER TABLE messages ADD COLUMN subject text
    CONSTRAINT messages_subject_length CHECK (length(subject) <= 998);
ALTER TABLE messages ADD CONSTRAINT messages_email_fields_on_email
    CHECK (channel = 'email' OR (email_message_id IS NULL AND subject IS NULL));
CREATE INDEX messages_email_message_id ON messages (tenant_id, email_message_id)
    WHERE email_message_id IS NOT NULL;

-- An inbound mail has no provider account (SES is the stack's own, not a tenant's):
-- its receipt names none; every other provider's still must.
ALTER TABLE webhook_receipts ALTER COLUMN provider_account_id DROP NOT NULL;
ALTER TABLE webhook_receipts ADD CONSTRAINT webhook_receipts_account_unless_mail
    CHECK (provider_account_id IS NOT NULL OR provider = 'ses');

-- Matching an inbound mail to its lead, one call: the lead's reply address (its
-- token) first, then a stored mail it answers (In-Reply-To, References), then the
-- sender among the tenant's leads (exact lower-cased email, most recently messaged;
-- two leads tied for that are ambiguous: matched_by 'ambiguous', no lead). Runs as its
-- caller: row-level security holds.
CREATE FUNCTION match_email(p_tenant_id uuid, p_token text, p_message_ids text[], p_from text)
RETURNS TABLE (lead_id uuid, campaign_id uuid, matched_by text)
LANGUAGE plpgsql STABLE
AS $$
#variable_conflict use_column
DECLARE
    found_lead uuid;
    found_campaign uuid;
    tied boolean;
BEGIN
    IF p_token IS NOT NULL THEN
        SELECT l.id, l.campaign_id INTO found_lead, found_campaign
        FROM leads l WHERE l.tenant_id = p_tenant_id AND l.reply_token = p_token;
        IF found_lead IS NOT NULL THEN
            RETURN QUERY SELECT found_lead, found_campaign, 'reply_address'::text;
            RETURN;
        END IF;
    END IF;
    IF cardinality(p_message_ids) > 0 THEN
        SELECT m.lead_id, l.campaign_id INTO found_lead, found_campaign
        FROM messages m JOIN leads l ON l.id = m.lead_id
        WHERE m.tenant_id = p_tenant_id AND m.email_message_id = ANY (p_message_ids)
          AND m.lead_id IS NOT NULL
        ORDER BY m.created_at DESC LIMIT 1;
        IF found_lead IS NOT NULL THEN
            RETURN QUERY SELECT found_lead, found_campaign, 'in_reply_to'::text;
            RETURN;
        END IF;
    END IF;
    WITH candidates AS (
        SELECT l.id, l.campaign_id, l.last_message_at,
               count(*) OVER (PARTITION BY l.last_message_at) AS peers,
               rank() OVER (ORDER BY l.last_message_at DESC NULLS LAST) AS place
        FROM leads l
        WHERE l.tenant_id = p_tenant_id AND lower(l.email) = p_from AND l.email IS NOT NULL
    )
    SELECT c.id, c.campaign_id, c.peers > 1 INTO found_lead, found_campaign, tied
    FROM candidates c WHERE c.place = 1 LIMIT 1;
    IF found_lead IS NULL THEN
        RETURN QUERY SELECT NULL::uuid, NULL::uuid, NULL::text;
    ELSIF tied THEN
        RETURN QUERY SELECT NULL::uuid, NULL::uuid, 'ambiguous'::text;
    ELSE
        RETURN QUERY SELECT found_lead, found_campaign, 'sender'::text;
    END IF;
END $$;
REVOKE ALL ON FUNCTION match_email(uuid, text, text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION match_email(uuid, text, text[], text) TO tether_app, tether_jobs;
