-- WhatsApp (issue 18): the campaign's WhatsApp sender, approved templates, matching per
-- channel, and what the send path needs to keep the 24-hour customer-service window.
--
-- A number sends WhatsApp only when it is a WhatsApp sender at its provider (registered
-- with Meta through the provider) and the provider carries WhatsApp on its messaging
-- API: Twilio and Telnyx (and the local sandbox). SignalWire and SignalHouse do not.

-- 1. A number is a WhatsApp sender only when its owner says so.
ALTER TABLE phone_numbers ADD COLUMN whatsapp_enabled boolean NOT NULL DEFAULT false;

CREATE FUNCTION provider_carries_whatsapp(p_provider text) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$ SELECT p_provider IN ('twilio', 'telnyx', 'sandbox') $$;

-- A 'whatsapp' assignment is a WhatsApp sender of a provider that carries WhatsApp,
-- whatever the Python above it checked.
CREATE FUNCTION check_whatsapp_assignment() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_enabled boolean;
    v_provider text;
BEGIN
    IF NEW.channel <> 'whatsapp' THEN
        RETURN NEW;
    END IF;
    SELECT p.whatsapp_enabled, a.provider INTO v_enabled, v_provider
    FROM phone_numbers p JOIN provider_accounts a ON a.id = p.provider_account_id
    WHERE p.id = NEW.phone_number_id;
    IF NOT coalesce(v_enabled, false) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'cpa_whatsapp_sender',
            MESSAGE = format('%s is not a WhatsApp sender (whatsapp_enabled is off)', NEW.phone_number);
    END IF;
    IF NOT provider_carries_whatsapp(v_provider) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'cpa_whatsapp_sender',
            MESSAGE = format('%s is a %s number, and %s does not carry WhatsApp',
                             NEW.phone_number, v_provider, v_provider);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER cpa_whatsapp_sender BEFORE INSERT ON campaign_phone_assignments
    FOR EACH ROW EXECUTE FUNCTION check_whatsapp_assignment();

-- 2. A tenant's WhatsApp templates, as approved by Meta through its provider: outside
-- the 24-hour window only an approved one may go. provider_template_id is what the
-- provider sends it by (Twilio's Content SID HX..., Telnyx's template id or name).
CREATE TABLE whatsapp_templates (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id             uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                  text NOT NULL CHECK (name ~ '^[a-z0-9_]+$' AND length(name) <= 512),
    language              text NOT NULL CHECK (language ~ '^[a-z]{2,3}(_[A-Z]{2})?$'),
    provider_template_id  text NOT NULL CHECK (length(provider_template_id) BETWEEN 1 AND 200),
    body                  text NOT NULL CHECK (length(body) BETWEEN 1 AND 1024),
    status                text NOT NULL DEFAULT 'approved'
                          CHECK (status IN ('approved', 'pending', 'rejected', 'paused', 'disabled')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT whatsapp_templates_name_language UNIQUE (tenant_id, name, language),
    CONSTRAINT whatsapp_templates_tenant_id_id UNIQUE (tenant_id, id)
);
SELECT tether_tenant_table('whatsapp_templates');
GRANT SELECT, INSERT, UPDATE ON whatsapp_templates TO tether_app, tether_jobs;

-- 3. A WhatsApp template send names its template and the values of its variables; the
-- body beside them is the text rendered for the record.
ALTER TABLE messages ADD COLUMN whatsapp_template_id uuid;
ALTER TABLE messages ADD COLUMN template_variables jsonb;
ALTER TABLE messages ADD CONSTRAINT messages_whatsapp_template
    FOREIGN KEY (tenant_id, whatsapp_template_id) REFERENCES whatsapp_templates (tenant_id, id);
ALTER TABLE messages ADD CONSTRAINT messages_template_is_whatsapp CHECK (
    whatsapp_template_id IS NULL OR (channel = 'whatsapp' AND direction = 'outbound'));
ALTER TABLE messages ADD CONSTRAINT messages_template_variables CHECK (
    template_variables IS NULL OR (whatsapp_template_id IS NOT NULL
                                   AND jsonb_typeof(template_variables) = 'object'));

-- 4. Matching per channel: a WhatsApp reply finds the number's 'whatsapp' assignment and
-- the lead's WhatsApp binding; an SMS one, the 'sms' ones (0011's function otherwise).
DROP FUNCTION match_inbound(uuid, text, text);
CREATE FUNCTION match_inbound(p_tenant_id uuid, p_to text, p_from text, p_channel text DEFAULT 'sms')
RETURNS TABLE (number_id uuid, assignment_id uuid, campaign_id uuid, lead_id uuid, matched_by text)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH ours AS (
        SELECT id FROM phone_numbers WHERE tenant_id = p_tenant_id AND e164 = p_to
    ), candidates AS (
        SELECT id, campaign_id, last_message_at FROM leads WHERE tenant_id = p_tenant_id AND phone = p_from
    ), bound AS (
        SELECT b.lead_id, b.campaign_id, b.campaign_phone_assignment_id AS assignment_id
        FROM candidates c
        JOIN lead_sender_bindings b ON b.lead_id = c.id AND b.channel = p_channel
        JOIN ours ON ours.id = b.phone_number_id
        ORDER BY b.bound_at DESC
        LIMIT 1
    ), assigned AS (
        SELECT a.id AS assignment_id, a.campaign_id
        FROM campaign_phone_assignments a
        JOIN ours ON ours.id = a.phone_number_id
        JOIN campaigns cm ON cm.id = a.campaign_id
        WHERE a.channel = p_channel
        ORDER BY cm.status IN ('staged', 'active', 'paused') DESC, a.assigned_at DESC
        LIMIT 1
    ), in_campaign AS (
        SELECT c.id AS lead_id
        FROM candidates c JOIN assigned ON assigned.campaign_id = c.campaign_id
        ORDER BY c.last_message_at DESC NULLS LAST
        LIMIT 1
    ), anywhere AS (
        SELECT c.id AS lead_id, c.campaign_id
        FROM candidates c
        ORDER BY c.last_message_at DESC NULLS LAST
        LIMIT 1
    )
    SELECT (SELECT id FROM ours) AS number_id,
           coalesce((SELECT assignment_id FROM bound), (SELECT assignment_id FROM assigned)) AS assignment_id,
           coalesce((SELECT campaign_id FROM bound), (SELECT campaign_id FROM assigned),
                    (SELECT campaign_id FROM anywhere)) AS campaign_id,
           coalesce((SELECT lead_id FROM bound), (SELECT lead_id FROM in_campaign),
                    (SELECT lead_id FROM anywhere)) AS lead_id,
           CASE WHEN EXISTS (SELECT 1 FROM bound) THEN 'binding'
                WHEN EXISTS (SELECT 1 FROM in_campaign) THEN 'campaign'
                WHEN EXISTS (SELECT 1 FROM anywhere) THEN 'tenant' END AS matched_by;
END $$;
REVOKE ALL ON FUNCTION match_inbound(uuid, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION match_inbound(uuid, text, text, text) TO tether_app, tether_jobs;

-- 5. The claim reads the message's channel, when the person last wrote on its thread
-- (the WhatsApp window opens there) and its template (0017's function otherwise).
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
               quiet_hours_wider_attested boolean, channel text, last_inbound_at timestamptz,
               template_name text, template_language text, provider_template_id text,
               template_status text, template_variables jsonb)
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
           m.purpose, k.status, c.quiet_hours_wider_attested, m.channel,
           CASE WHEN m.channel = 'whatsapp' THEN
               (SELECT max(i.received_at) FROM messages i
                WHERE i.thread_id = m.thread_id AND i.direction = 'inbound') END,
           t.name, t.language, t.provider_template_id, t.status, m.template_variables
    FROM messages m
    LEFT JOIN leads l ON l.id = m.lead_id
    LEFT JOIN whatsapp_templates t ON t.id = m.whatsapp_template_id
    JOIN phone_numbers p ON p.id = m.outbound_number_id
    JOIN provider_accounts a ON a.id = p.provider_account_id
    JOIN tenant_config c ON c.tenant_id = m.tenant_id
    JOIN campaigns k ON k.id = m.campaign_id
    WHERE m.id = p_message_id AND m.direction = 'outbound'
    FOR UPDATE OF m;
END $$;
REVOKE ALL ON FUNCTION message_for_send(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION message_for_send(uuid) TO tether_app, tether_jobs;

-- The window's question at request time: when the person last wrote on a thread.
CREATE INDEX messages_thread_inbound ON messages (thread_id, received_at)
    WHERE direction = 'inbound';
