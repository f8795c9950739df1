-- Inbound matching (seed 000, improved), one call: index lookups only (seed 000's
-- LIKE '%…%' fallback scanned every lead and could pick the wrong one). The lead side
-- starts from the sender's exact number, which only a handful of leads share, so no
-- step walks a number's many bindings. Order: the lead this number texted (its sender
-- binding, the hard rule's own record), then the lead in the number's campaign, then
-- the tenant's lead most recently messaged. Runs as its caller: row-level security holds.
CREATE FUNCTION match_inbound(p_tenant_id uuid, p_to text, p_from text)
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
        -- the hard rule's own record: this number texted this lead in this campaign
        SELECT b.lead_id, b.campaign_id, b.campaign_phone_assignment_id AS assignment_id
        FROM candidates c
        JOIN lead_sender_bindings b ON b.lead_id = c.id
        JOIN ours ON ours.id = b.phone_number_id
        ORDER BY b.bound_at DESC
        LIMIT 1
    ), assigned AS (
        -- the campaign the receiving number works for: a live one before a finished one
        SELECT a.id AS assignment_id, a.campaign_id
        FROM campaign_phone_assignments a
        JOIN ours ON ours.id = a.phone_number_id
        JOIN campaigns cm ON cm.id = a.campaign_id
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
REVOKE ALL ON FUNCTION match_inbound(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION match_inbound(uuid, text, text) TO tether_app, tether_jobs;

-- The receiving number's assignments, by the number's id (matching and re-homing).
CREATE INDEX cpa_phone_number_id ON campaign_phone_assignments (phone_number_id);
