-- Outbound sends: deferral, validity, attempts in doubt, pacing, and the lock that
-- orders a send against an opt-out.

ALTER TABLE tenant_config
    ADD COLUMN send_max_attempts integer NOT NULL DEFAULT 5 CHECK (send_max_attempts > 0),
    ADD COLUMN send_validity_hours integer NOT NULL DEFAULT 24 CHECK (send_validity_hours > 0),
    -- NULL: no limit (pacing off)
    ALTER COLUMN send_segments_per_second DROP NOT NULL,
    ALTER COLUMN send_segments_per_day DROP NOT NULL;

ALTER TABLE messages
    -- campaign: the gates all apply. opt_out_confirmation: the one text an opt-out
    -- gets back (CTIA), which goes to a suppressed phone, at once. auto_reply: a
    -- worker's answer to a reply, gated like any text.
    ADD COLUMN purpose text NOT NULL DEFAULT 'campaign'
        CHECK (purpose IN ('campaign', 'auto_reply', 'opt_out_confirmation')),
    ADD COLUMN not_before timestamptz,     -- deferred (quiet hours, pacing, back-off) until then
    ADD COLUMN expires_at timestamptz,     -- the validity deadline: fail rather than send late
    ADD COLUMN enqueued_at timestamptz,    -- last handed to OutboundQueue; NULL: the sweeper re-drives it
    ADD COLUMN attempt_started_at timestamptz, -- an attempt is open: the provider may have it
    ADD COLUMN paced_slot timestamptz;     -- the pacing slot this send reserved
CREATE INDEX messages_outbound_waiting ON messages (coalesce(not_before, created_at))
    WHERE direction = 'outbound' AND status IN ('queued', 'sending') AND enqueued_at IS NULL;

-- Per-number pacing: the next free instant (segments per second) ...
ALTER TABLE phone_numbers ADD COLUMN pacing_next_at timestamptz;
-- ... and segments sent per UTC day.
CREATE TABLE number_daily_segments (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    phone_number_id  uuid NOT NULL,
    day              date NOT NULL,
    segments         integer NOT NULL CHECK (segments >= 0),
    PRIMARY KEY (phone_number_id, day),
    FOREIGN KEY (tenant_id, phone_number_id) REFERENCES phone_numbers (tenant_id, id)
);
ALTER TABLE number_daily_segments ENABLE ROW LEVEL SECURITY;
ALTER TABLE number_daily_segments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON number_daily_segments TO tether_app
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
CREATE POLICY jobs_all_tenants ON number_daily_segments TO tether_jobs USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON number_daily_segments TO tether_app, tether_jobs;

-- An opt-out waits for the sends to its phone that are in flight, and a send in
-- flight holds this lock (shared) from its last suppression check until its text is
-- with the provider and recorded. So no text leaves after a suppression commits:
-- either the send saw it, or the suppression committed after the text had left.
CREATE FUNCTION suppression_lock_key(p_tenant_id uuid, p_phone text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT hashtextextended('suppression:' || p_tenant_id || ':' || p_phone, 0) $$;

CREATE FUNCTION wait_for_sends_in_flight() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(suppression_lock_key(NEW.tenant_id, NEW.phone));
    RETURN NEW;
END $$;
CREATE TRIGGER suppressions_wait_for_sends BEFORE INSERT ON suppressions
    FOR EACH ROW EXECUTE FUNCTION wait_for_sends_in_flight();

-- The two reads of a send, as functions so each connection plans them once (they are
-- joins big enough that planning them on every call costs as much as running them).

-- The claim: the message locked, with everything its gates need.
CREATE FUNCTION message_for_send(p_message_id uuid)
RETURNS TABLE (id uuid, tenant_id uuid, lead_id uuid, campaign_id uuid, status text, attempts integer,
               external_id text, from_address text, to_address text, outbound_number_id uuid, body text,
               media_urls text[], segments smallint, send_key text, not_before timestamptz,
               expires_at timestamptz, attempt_started_at timestamptz, paced_slot timestamptz,
               lead_state text, lead_timezone text, provider_account_id uuid, provider text,
               credentials_ref text, quiet_hours_start time, quiet_hours_end time,
               quiet_hours_by_state jsonb, send_segments_per_second numeric, send_segments_per_day integer,
               send_max_attempts integer, timer_7d_days integer, purpose text)
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
           m.purpose
    FROM messages m
    JOIN leads l ON l.id = m.lead_id
    JOIN phone_numbers p ON p.id = m.outbound_number_id
    JOIN provider_accounts a ON a.id = p.provider_account_id
    JOIN tenant_config c ON c.tenant_id = m.tenant_id
    WHERE m.id = p_message_id AND m.direction = 'outbound'
    FOR UPDATE OF m;
END $$;

-- The hand-over: the locks in their order (the lead, the phone against opt-outs, the
-- message), then what may have changed since the claim.
CREATE FUNCTION begin_hand_over(p_message_id uuid)
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
    SELECT l.id, l.tenant_id, l.campaign_id, l.phone, l.state::text, m.external_id, m.attempts,
           EXISTS (SELECT 1 FROM suppressions s WHERE s.tenant_id = m.tenant_id AND s.phone = m.to_address
                   AND s.lifted_at IS NULL
                   AND (s.phone_number_id IS NULL OR s.phone_number_id = m.outbound_number_id))
    FROM messages m JOIN leads l ON l.id = m.lead_id
    WHERE m.id = p_message_id
    FOR UPDATE OF m;
END $$;

REVOKE ALL ON FUNCTION message_for_send(uuid), begin_hand_over(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION message_for_send(uuid), begin_hand_over(uuid) TO tether_app, tether_jobs;
