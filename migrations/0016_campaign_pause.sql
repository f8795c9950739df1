-- Pausing a campaign stops its sends not yet handed to a provider: the claim now reads
-- the campaign's status with the rest of what the gates need. Only a column is added
-- (campaign_status, last); the rest is migration 0009's function unchanged.
DROP FUNCTION message_for_send(uuid);

CREATE FUNCTION message_for_send(p_message_id uuid)
RETURNS TABLE (id uuid, tenant_id uuid, lead_id uuid, campaign_id uuid, status text, attempts integer,
               external_id text, from_address text, to_address text, outbound_number_id uuid, body text,
               media_urls text[], segments smallint, send_key text, not_before timestamptz,
               expires_at timestamptz, attempt_started_at timestamptz, paced_slot timestamptz,
               lead_state text, lead_timezone text, provider_account_id uuid, provider text,
               credentials_ref text, quiet_hours_start time, quiet_hours_end time,
               quiet_hours_by_state jsonb, send_segments_per_second numeric, send_segments_per_day integer,
               send_max_attempts integer, timer_7d_days integer, purpose text, campaign_status text)
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
           m.purpose, k.status
    FROM messages m
    JOIN leads l ON l.id = m.lead_id
    JOIN phone_numbers p ON p.id = m.outbound_number_id
    JOIN provider_accounts a ON a.id = p.provider_account_id
    JOIN tenant_config c ON c.tenant_id = m.tenant_id
    JOIN campaigns k ON k.id = m.campaign_id
    WHERE m.id = p_message_id AND m.direction = 'outbound'
    FOR UPDATE OF m;
END $$;

REVOKE ALL ON FUNCTION message_for_send(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION message_for_send(uuid) TO tether_app, tether_jobs;
