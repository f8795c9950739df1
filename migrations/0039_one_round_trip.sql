-- Issue 20, points 2 and 3: a claim in one round trip, lease updates that can be HOT,
-- and inbound matching by the message's channel in one index walk.

-- 1. claim_lease: the whole claim in one statement, scoped by the statement itself.
--
-- lease_number (0007) needed the tenant set first (a round trip of its own), and the
-- lease.acquired event and the pool_exhausted audit row were written by further
-- statements. claim_lease does all of it: it scopes the transaction to p_tenant_id
-- (set_config(..., true), as the Session does) unless the transaction is scoped
-- already, and then it refuses any other tenant. It runs as its caller (SECURITY
-- INVOKER), so forced row-level security still confines every row it reads or writes
-- to that tenant. Sent on its own (autocommit), the server commits it as it ends, with
-- synchronous_commit as configured: one round trip, and durable.
--
-- The steps are separate statements, so each takes its snapshot after the lead's lock:
-- a claim that waited for another claim of the same lead sees that claim's number and
-- hands it back, instead of colliding with it. p_pool NULL: the pool of the lead's
-- campaign (pool NULL in the answer when the lead has no campaign).
CREATE FUNCTION claim_lease(p_tenant_id uuid, p_lead_id uuid, p_pool text, p_now timestamptz)
RETURNS TABLE (lead_found boolean, pool text, phone_number_id uuid, e164 text,
               assigned_at timestamptz, release_at timestamptz, already_held boolean,
               event_id uuid, event_data jsonb)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    v_scope uuid := app_current_tenant();
    v_lead uuid;
    v_pool text;
    v_id uuid;
    v_e164 text;
    v_assigned_at timestamptz;
    v_release_at timestamptz;
    v_event uuid;
    v_data jsonb;
BEGIN
    IF p_tenant_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'claim_lease needs the tenant';
    END IF;
    IF v_scope IS NULL THEN
        PERFORM set_config('app.tenant_id', p_tenant_id::text, true);
    ELSIF v_scope <> p_tenant_id THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'claim_lease: this transaction works for another tenant';
    END IF;

    -- the lead first, locked: the order every lease writer takes its locks in
    SELECT l.id, coalesce(p_pool, c.pool) INTO v_lead, v_pool
    FROM leads l LEFT JOIN campaigns c ON c.id = l.campaign_id
    WHERE l.id = p_lead_id AND l.tenant_id = p_tenant_id
    FOR NO KEY UPDATE OF l;
    IF v_lead IS NULL THEN
        RETURN QUERY SELECT false, p_pool, NULL::uuid, NULL::text, NULL::timestamptz,
                            NULL::timestamptz, NULL::boolean, NULL::uuid, NULL::jsonb;
        RETURN;
    END IF;
    IF v_pool IS NULL THEN  -- no pool named and no campaign to take it from
        RETURN QUERY SELECT true, NULL::text, NULL::uuid, NULL::text, NULL::timestamptz,
                            NULL::timestamptz, NULL::boolean, NULL::uuid, NULL::jsonb;
        RETURN;
    END IF;

    -- a lead holding a number of the pool gets it back
    SELECT p.id, p.e164, p.assigned_at, p.release_at
    INTO v_id, v_e164, v_assigned_at, v_release_at
    FROM phone_numbers p
    WHERE p.tenant_id = p_tenant_id AND p.pool = v_pool AND p.currently_assigned_to = p_lead_id;
    IF v_id IS NOT NULL THEN
        RETURN QUERY SELECT true, v_pool, v_id, v_e164, v_assigned_at, v_release_at, true,
                            NULL::uuid, NULL::jsonb;
        RETURN;
    END IF;

    -- else the least recently used rested number (a number another claim is taking is
    -- passed over, never waited for)
    SELECT f.id INTO v_id FROM phone_numbers f
    WHERE f.tenant_id = p_tenant_id AND f.pool = v_pool AND f.status = 'active'
      AND f.assignment_status = 'available'
      AND (f.cooldown_until IS NULL OR f.cooldown_until <= p_now)
    ORDER BY f.last_leased_at NULLS FIRST
    LIMIT 1
    FOR UPDATE SKIP LOCKED;
    IF v_id IS NOT NULL THEN
        UPDATE phone_numbers AS p
        SET assignment_status = 'assigned', currently_assigned_to = p_lead_id,
            assigned_at = p_now, last_leased_at = p_now,
            release_at = p_now + make_interval(hours => (
                SELECT c.lease_hours_without_booking FROM tenant_config c
                WHERE c.tenant_id = p_tenant_id)),
            last_call_outcome = NULL, appointment_scheduled_at = NULL, no_answer_count = 0
        WHERE p.id = v_id
        RETURNING p.e164, p.assigned_at, p.release_at INTO v_e164, v_assigned_at, v_release_at;
    END IF;

    IF v_id IS NULL THEN
        INSERT INTO audit_log (tenant_id, kind, subject_type, subject_id, detail)
        VALUES (p_tenant_id, 'pool_exhausted', 'lead', p_lead_id::text,
                jsonb_build_object('pool', v_pool));
        RETURN QUERY SELECT true, v_pool, NULL::uuid, NULL::text, NULL::timestamptz,
                            NULL::timestamptz, NULL::boolean, NULL::uuid, NULL::jsonb;
        RETURN;
    END IF;

    UPDATE leads l SET assigned_phone_number_id = v_id, phone_assigned_at = v_assigned_at
    WHERE l.id = p_lead_id;
    INSERT INTO lead_events (tenant_id, lead_id, event_type, payload, dedupe_key, occurred_at)
    VALUES (p_tenant_id, p_lead_id, 'NUMBER_LEASED',
            jsonb_build_object('phone_number_id', v_id, 'phone_number', v_e164,
                               'pool', v_pool, 'release_at', v_release_at),
            'lease:' || v_id || ':' || p_lead_id || ':' || p_now, p_now);
    -- lease.acquired (tether.domain.outbox.lease_data), in the lease's transaction
    INSERT INTO outbox_events (tenant_id, type, lead_id, occurred_at, data)
    VALUES (p_tenant_id, 'lease.acquired', p_lead_id, v_assigned_at,
            jsonb_build_object('lead_id', p_lead_id, 'number_id', v_id, 'number', v_e164,
                               'pool', v_pool, 'release_at', v_release_at))
    RETURNING id, data INTO v_event, v_data;
    RETURN QUERY SELECT true, v_pool, v_id, v_e164, v_assigned_at, v_release_at, false,
                        v_event, v_data;
END $$;
REVOKE ALL ON FUNCTION claim_lease(uuid, uuid, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_lease(uuid, uuid, text, timestamptz) TO tether_app, tether_jobs;

DROP FUNCTION lease_number(uuid, uuid, text, timestamptz);

-- 2. HOT updates of phone_numbers.
--
-- A claim moves a number from its pool's free list (the index below) to its lead (the
-- one-lease-per-lead unique index): it changes indexed columns by design, so it can
-- never be a heap-only update. What can be: every other update of a number (delivery
-- counters, pacing, health, cooldown, retirement notes, call outcomes that keep the
-- release time). Those need room on the row's page: fillfactor 80 (new pages; existing
-- ones as they are rewritten). The LRU index keeps only rested, active numbers, without
-- assignment_status in its key: smaller, and a claim walks no leased numbers.
ALTER TABLE phone_numbers SET (fillfactor = 80);
-- A claim's own update of its lead (the number it was given, and when) touches no
-- indexed column: with room on the page it is heap-only too.
ALTER TABLE leads SET (fillfactor = 90);
DROP INDEX phone_numbers_pool_lru;
CREATE INDEX phone_numbers_pool_free
    ON phone_numbers (tenant_id, pool, last_leased_at NULLS FIRST)
    WHERE status = 'active' AND assignment_status = 'available';

-- 3. Inbound matching by channel, the normal path first.
--
-- The receiving number's assignment for the message's sender channel ('sms' for SMS
-- and MMS, 'whatsapp'), and the sender binding of that channel. The normal path (the
-- number texted this lead) is one join of two index probes: the sender's leads by
-- (tenant, phone), then their bindings by lead (primary key) with the number's text
-- and the channel, the binding carrying the number's id. Only when that finds nothing
-- does it look up the number, its campaign and the lead in it, then the tenant's lead
-- most recently messaged, each an index probe. Runs as its caller: row-level security
-- holds.
DROP FUNCTION match_inbound(uuid, text, text, text);  -- 0036's, with the channel
CREATE FUNCTION match_inbound(p_tenant_id uuid, p_to text, p_from text, p_channel text)
RETURNS TABLE (number_id uuid, assignment_id uuid, campaign_id uuid, lead_id uuid, matched_by text)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    v_number uuid;
    v_assignment uuid;
    v_campaign uuid;
    v_lead uuid;
    v_lead_campaign uuid;
BEGIN
    -- the hard rule's own record: this number texted this lead, on this channel
    SELECT b.phone_number_id, b.campaign_phone_assignment_id, b.campaign_id, b.lead_id
    INTO v_number, v_assignment, v_campaign, v_lead
    FROM leads l
    JOIN lead_sender_bindings b ON b.lead_id = l.id
    WHERE l.tenant_id = p_tenant_id AND l.phone = p_from
      AND b.phone_number = p_to AND b.channel = p_channel AND b.tenant_id = p_tenant_id
    ORDER BY b.bound_at DESC
    LIMIT 1;
    IF v_lead IS NOT NULL THEN
        RETURN QUERY SELECT v_number, v_assignment, v_campaign, v_lead, 'binding'::text;
        RETURN;
    END IF;

    SELECT p.id INTO v_number FROM phone_numbers p WHERE p.tenant_id = p_tenant_id AND p.e164 = p_to;
    -- the campaign the receiving number works for on this channel: a live one first
    SELECT a.id, a.campaign_id INTO v_assignment, v_campaign
    FROM campaign_phone_assignments a
    JOIN campaigns cm ON cm.id = a.campaign_id
    WHERE a.phone_number_id = v_number AND a.channel = p_channel
    ORDER BY cm.status IN ('staged', 'active', 'paused') DESC, a.assigned_at DESC
    LIMIT 1;
    IF v_campaign IS NOT NULL THEN
        SELECT l.id INTO v_lead FROM leads l
        WHERE l.tenant_id = p_tenant_id AND l.phone = p_from AND l.campaign_id = v_campaign
        ORDER BY l.last_message_at DESC NULLS LAST
        LIMIT 1;
        IF v_lead IS NOT NULL THEN
            RETURN QUERY SELECT v_number, v_assignment, v_campaign, v_lead, 'campaign'::text;
            RETURN;
        END IF;
    END IF;

    SELECT l.id, l.campaign_id INTO v_lead, v_lead_campaign FROM leads l
    WHERE l.tenant_id = p_tenant_id AND l.phone = p_from
    ORDER BY l.last_message_at DESC NULLS LAST
    LIMIT 1;
    RETURN QUERY SELECT v_number, v_assignment, coalesce(v_campaign, v_lead_campaign), v_lead,
                        CASE WHEN v_lead IS NOT NULL THEN 'tenant' END;
END $$;
REVOKE ALL ON FUNCTION match_inbound(uuid, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION match_inbound(uuid, text, text, text) TO tether_app, tether_jobs;
