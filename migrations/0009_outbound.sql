-- Outbound sends: deferral, validity, attempts in doubt, pacing, and the lock that
-- orders a send against an opt-out.

ALTER TABLE tenant_config
    ADD COLUMN send_max_attempts integer NOT NULL DEFAULT 5 CHECK (send_max_attempts > 0),
    ADD COLUMN send_validity_hours integer NOT NULL DEFAULT 24 CHECK (send_validity_hours > 0),
    -- NULL: no limit (pacing off)
    ALTER COLUMN send_segments_per_second DROP NOT NULL,
    ALTER COLUMN send_segments_per_day DROP NOT NULL;

ALTER TABLE messages
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
