-- Launches (issue 15): one request starts a campaign's first messages, and the work fans
-- out through LaunchQueue one chunk of leads at a time (services.launches). The row is
-- the launch's whole state: where it is (status), where the next chunk starts (cursor,
-- chunk_seq), what it has done (counts), and when the dispatcher (the timers job) should
-- hand it to the queue (wake_at: a scheduled launch's time, or a re-drive should its
-- chunk message be lost). A chunk's sends, cursor and counts commit together.
--
-- status: scheduled → running | paused | cancelled (or complete: fired, and done in its
--         first chunk); running ⇄ paused; running → complete.
--         cancelled and complete are final, so a cancelled launch never fires.
CREATE TABLE launches (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    campaign_id  uuid NOT NULL,
    status       text NOT NULL CHECK (status IN ('scheduled', 'running', 'paused', 'complete', 'cancelled')),
    launch_at    timestamptz,                 -- asked for a later time; NULL: at once
    chunk_seq    integer NOT NULL DEFAULT 0 CHECK (chunk_seq >= 0),
    cursor       uuid,                        -- the last lead id a chunk took
    queued       integer NOT NULL DEFAULT 0 CHECK (queued >= 0),
    duplicates   integer NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
    skipped      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(skipped) = 'object'),
    wake_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    cancelled_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id) ON DELETE CASCADE,
    CHECK ((status = 'scheduled') = (started_at IS NULL AND cancelled_at IS NULL)
           OR status = 'cancelled'),
    CHECK ((status = 'complete') = (finished_at IS NOT NULL)),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    CHECK (status IN ('scheduled', 'running') OR wake_at IS NULL)
);
-- one launch under way per campaign: a second waits for the first (or cancels it)
CREATE UNIQUE INDEX launches_one_open_per_campaign ON launches (campaign_id)
    WHERE status IN ('scheduled', 'running', 'paused');
CREATE INDEX launches_by_campaign ON launches (tenant_id, campaign_id, created_at);
CREATE INDEX launches_wake ON launches (wake_at) WHERE wake_at IS NOT NULL;

CREATE FUNCTION check_launch_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.tenant_id <> OLD.tenant_id OR NEW.campaign_id <> OLD.campaign_id
       OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation', CONSTRAINT = 'launches_identity_fixed',
            MESSAGE = format('launch %s: its tenant and campaign cannot change', OLD.id);
    END IF;
    IF NEW.status <> OLD.status AND NOT (
           (OLD.status = 'scheduled' AND NEW.status IN ('running', 'paused', 'complete', 'cancelled'))
        OR (OLD.status = 'running' AND NEW.status IN ('paused', 'complete'))
        OR (OLD.status = 'paused' AND NEW.status = 'running')) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation', CONSTRAINT = 'launches_status_moves',
            MESSAGE = format('launch %s cannot move from %s to %s', OLD.id, OLD.status, NEW.status);
    END IF;
    -- a chunk moves the launch forward only: counts never fall, the sequence never goes back
    IF NEW.chunk_seq < OLD.chunk_seq OR NEW.queued < OLD.queued OR NEW.duplicates < OLD.duplicates THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation', CONSTRAINT = 'launches_forward_only',
            MESSAGE = format('launch %s: its progress cannot go back', OLD.id);
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER launches_change BEFORE UPDATE ON launches
    FOR EACH ROW EXECUTE FUNCTION check_launch_change();

SELECT tether_tenant_table('launches');
GRANT SELECT, INSERT, UPDATE ON launches TO tether_app, tether_jobs;
