-- Phone numbers at work: sticky senders, lease rules, number health, pool monitoring.

-- Lease and health settings (seed 001's release rules, seed 002 part 6: config-driven).
ALTER TABLE tenant_config
    ADD COLUMN timezone text NOT NULL DEFAULT 'America/New_York',
    ADD COLUMN lease_no_answer_retries integer NOT NULL DEFAULT 1 CHECK (lease_no_answer_retries >= 0),
    ADD COLUMN number_health_min_sample integer NOT NULL DEFAULT 20 CHECK (number_health_min_sample > 0),
    ADD COLUMN number_health_cooldown_hours integer NOT NULL DEFAULT 24 CHECK (number_health_cooldown_hours > 0);

-- Calls attempted without an answer during the current lease; health counters as of
-- the last health cooldown (rates are judged on what happened since).
ALTER TABLE phone_numbers
    ADD COLUMN no_answer_count integer NOT NULL DEFAULT 0 CHECK (no_answer_count >= 0),
    ADD COLUMN health_baseline_sent bigint NOT NULL DEFAULT 0,
    ADD COLUMN health_baseline_failed bigint NOT NULL DEFAULT 0,
    ADD COLUMN health_baseline_filtered bigint NOT NULL DEFAULT 0;

-- lead_events rows can be named together with their lead (a re-home cites its event).
ALTER TABLE lead_events ADD CONSTRAINT lead_events_tenant_lead_id UNIQUE (tenant_id, lead_id, id);
-- The order events were written in. occurred_at is the caller's clock, taken before it
-- waited for its locks; seq follows the locks, so the events of one number or one lead
-- read back in the order they really happened.
ALTER TABLE lead_events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE lead_events ADD CONSTRAINT lead_events_seq UNIQUE (seq);

-- The sticky sender: the one number of a campaign that texts a lead, for good. The
-- composite key pins the number to one of that campaign's assignments, by id and text.
CREATE TABLE lead_sender_bindings (
    tenant_id                     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    lead_id                       uuid NOT NULL,
    campaign_id                   uuid NOT NULL,
    campaign_phone_assignment_id  uuid NOT NULL,
    phone_number_id               uuid NOT NULL,
    phone_number                  text NOT NULL,
    bound_at                      timestamptz NOT NULL DEFAULT now(),
    rehome_event_id               uuid, -- the lead_events row of the last re-home, if any
    PRIMARY KEY (lead_id, campaign_id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id),
    FOREIGN KEY (tenant_id, campaign_id, campaign_phone_assignment_id, phone_number_id, phone_number)
        REFERENCES campaign_phone_assignments (tenant_id, campaign_id, id, phone_number_id, phone_number),
    FOREIGN KEY (tenant_id, lead_id, rehome_event_id) REFERENCES lead_events (tenant_id, lead_id, id)
);
CREATE INDEX lead_sender_bindings_assignment ON lead_sender_bindings (campaign_phone_assignment_id);
CREATE INDEX lead_sender_bindings_number ON lead_sender_bindings (phone_number_id);

-- Nothing re-homes silently: a binding changes number only together with a new
-- re-home event of that lead (the composite key above proves the event is the lead's).
CREATE FUNCTION keep_sender_binding() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW.tenant_id, NEW.lead_id, NEW.campaign_id) IS DISTINCT FROM (OLD.tenant_id, OLD.lead_id, OLD.campaign_id) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'lead_sender_bindings_rehome_audited',
            MESSAGE = 'a sender binding cannot move to another lead or campaign';
    END IF;
    IF NEW.campaign_phone_assignment_id IS DISTINCT FROM OLD.campaign_phone_assignment_id
       AND (NEW.rehome_event_id IS NULL OR NEW.rehome_event_id IS NOT DISTINCT FROM OLD.rehome_event_id) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'lead_sender_bindings_rehome_audited',
            MESSAGE = format('lead %s: a sender is re-homed only with a new re-home event', OLD.lead_id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER lead_sender_bindings_rehome_audited BEFORE UPDATE ON lead_sender_bindings
    FOR EACH ROW EXECUTE FUNCTION keep_sender_binding();

ALTER TABLE lead_sender_bindings ENABLE ROW LEVEL SECURITY;
ALTER TABLE lead_sender_bindings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lead_sender_bindings TO tether_app
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
CREATE POLICY jobs_all_tenants ON lead_sender_bindings TO tether_jobs USING (true) WITH CHECK (true);
-- No DELETE: a binding is the record of which number texts the lead.
GRANT SELECT, INSERT, UPDATE ON lead_sender_bindings TO tether_app, tether_jobs;

-- Monitoring (seed 001's queries). security_invoker: each caller sees its own tenant.

-- Per pool: numbers free to lease now, leased, resting, and all active numbers.
CREATE VIEW pool_health WITH (security_invoker = true) AS
SELECT tenant_id,
       pool,
       count(*) FILTER (WHERE assignment_status = 'available'
                          AND (cooldown_until IS NULL OR cooldown_until <= now())) AS available,
       count(*) FILTER (WHERE assignment_status = 'assigned') AS assigned,
       count(*) FILTER (WHERE assignment_status = 'available' AND cooldown_until > now()) AS cooldown,
       count(*) AS total
FROM phone_numbers
WHERE status = 'active'
GROUP BY tenant_id, pool;

CREATE VIEW recent_leases WITH (security_invoker = true) AS
SELECT p.tenant_id, p.pool, p.id AS phone_number_id, p.e164, p.currently_assigned_to AS lead_id,
       l.first_name, l.last_name, p.assigned_at, p.release_at
FROM phone_numbers p
JOIN leads l ON l.tenant_id = p.tenant_id AND l.id = p.currently_assigned_to
WHERE p.assigned_at >= now() - interval '24 hours';

CREATE VIEW overdue_releases WITH (security_invoker = true) AS
SELECT tenant_id, pool, id AS phone_number_id, e164, currently_assigned_to AS lead_id, release_at,
       now() - release_at AS overdue_by
FROM phone_numbers
WHERE assignment_status = 'assigned' AND release_at <= now();

-- Must always be empty: a lead with two numbers of one pool, or a number held by a
-- lead other than the one its latest lease event names (a write that bypassed
-- lease_number). Two leads on one number cannot even be written (one column).
CREATE VIEW lease_anomalies WITH (security_invoker = true) AS
SELECT tenant_id, pool, currently_assigned_to AS lead_id, 'two numbers in one pool' AS anomaly,
       array_agg(e164 ORDER BY e164) AS numbers
FROM phone_numbers
WHERE currently_assigned_to IS NOT NULL
GROUP BY tenant_id, pool, currently_assigned_to
HAVING count(*) > 1
UNION ALL
SELECT p.tenant_id, p.pool, p.currently_assigned_to, 'lease not recorded as an event', ARRAY[p.e164]
FROM phone_numbers p
WHERE p.currently_assigned_to IS NOT NULL
  AND p.currently_assigned_to IS DISTINCT FROM (
      SELECT e.lead_id FROM lead_events e
      WHERE e.tenant_id = p.tenant_id AND e.event_type = 'NUMBER_LEASED'
        AND e.payload ->> 'phone_number_id' = p.id::text
      ORDER BY e.seq DESC
      LIMIT 1);

CREATE INDEX lead_events_number_leases ON lead_events ((payload ->> 'phone_number_id'), seq DESC)
    WHERE event_type = 'NUMBER_LEASED';

GRANT SELECT ON pool_health, recent_leases, overdue_releases, lease_anomalies TO tether_app, tether_jobs;

-- Seed 001's lease, in one call: the lead must be the tenant's (row-level security
-- applies: the function runs as its caller), a lead holding a number of the pool gets
-- it back, else the least recently used rested number is taken (SKIP LOCKED: a number
-- another claimer is taking is passed over, never waited for) and recorded on the
-- number, on the lead and in its events. The lead is locked before the number, the
-- order every lease writer uses, so claims cannot deadlock. A fresh lease ends after
-- the tenant's lease_hours_without_booking (18 h) unless a call outcome moves it.
-- A function, so each connection plans the statement once, not on every call.
CREATE FUNCTION lease_number(p_tenant_id uuid, p_lead_id uuid, p_pool text, p_now timestamptz)
RETURNS TABLE (lead_found boolean, phone_number_id uuid, e164 text,
               assigned_at timestamptz, release_at timestamptz, already_held boolean)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH lead AS (
        SELECT l.id FROM leads l WHERE l.id = p_lead_id FOR NO KEY UPDATE
    ), held AS (
        SELECT p.id, p.e164, p.assigned_at, p.release_at FROM phone_numbers p
        WHERE p.tenant_id = p_tenant_id AND p.pool = p_pool AND p.currently_assigned_to = p_lead_id
    ), candidate AS (
        SELECT p.id FROM phone_numbers p
        WHERE p.tenant_id = p_tenant_id AND p.pool = p_pool AND p.status = 'active'
          AND p.assignment_status = 'available'
          AND (p.cooldown_until IS NULL OR p.cooldown_until <= p_now)
          AND EXISTS (SELECT 1 FROM lead) AND NOT EXISTS (SELECT 1 FROM held)
        ORDER BY p.last_leased_at NULLS FIRST
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ), leased AS (
        UPDATE phone_numbers AS p
        SET assignment_status = 'assigned', currently_assigned_to = p_lead_id,
            assigned_at = p_now, last_leased_at = p_now,
            release_at = p_now + make_interval(hours => c.lease_hours_without_booking),
            last_call_outcome = NULL, appointment_scheduled_at = NULL, no_answer_count = 0
        FROM candidate, tenant_config c
        WHERE p.id = candidate.id AND c.tenant_id = p_tenant_id
        RETURNING p.id, p.e164, p.assigned_at, p.release_at
    ), on_lead AS (
        UPDATE leads l SET assigned_phone_number_id = leased.id, phone_assigned_at = leased.assigned_at
        FROM leased
        WHERE l.id = p_lead_id
    ), event AS (
        INSERT INTO lead_events (tenant_id, lead_id, event_type, payload, dedupe_key, occurred_at)
        SELECT p_tenant_id, p_lead_id, 'NUMBER_LEASED',
               jsonb_build_object('phone_number_id', leased.id, 'phone_number', leased.e164,
                                  'pool', p_pool, 'release_at', leased.release_at),
               'lease:' || leased.id || ':' || p_lead_id || ':' || p_now, p_now
        FROM leased
    )
    SELECT EXISTS (SELECT 1 FROM lead), x.id, x.e164, x.assigned_at, x.release_at, x.already_held
    FROM (SELECT 1) AS one
    LEFT JOIN (
        SELECT leased.id, leased.e164, leased.assigned_at, leased.release_at, false AS already_held FROM leased
        UNION ALL
        SELECT held.id, held.e164, held.assigned_at, held.release_at, true FROM held
    ) AS x ON true;
END $$;
REVOKE ALL ON FUNCTION lease_number(uuid, uuid, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lease_number(uuid, uuid, text, timestamptz) TO tether_app, tether_jobs;
