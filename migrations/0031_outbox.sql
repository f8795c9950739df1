-- The transactional outbox (issue 16): each effect a customer's systems care about
-- writes one row here in the same transaction as the effect, so an event exists if and
-- only if its effect committed. After the commit the row is handed to EventsQueue
-- (relayed_at set); a row committed but never handed over is re-driven by the sweeper,
-- as receipts and sends are. deliver_events fans each event out to the tenant's webhook
-- subscriptions, the EventBridge bus and the WebSocket connections.
--
-- data is the event's payload as its versioned schema documents it (tether.domain.outbox).
-- Rows are facts: only relayed_at may be set (once), and erasure empties data once.

CREATE TABLE outbox_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    type text NOT NULL CHECK (type IN (
        'reply.received', 'lead.state_changed', 'lead.opted_out', 'lead.resubscribed',
        'message.status_changed', 'call.queued', 'lease.acquired', 'lease.released',
        'campaign.launch_progress')),
    version smallint NOT NULL DEFAULT 1 CHECK (version >= 1),
    lead_id uuid,            -- the lead it concerns, if any: erasure finds its events by it
    occurred_at timestamptz NOT NULL DEFAULT now(),
    data jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    relayed_at timestamptz,  -- last handed to EventsQueue; NULL: the sweeper re-drives it
    erased_at timestamptz
);
CREATE INDEX outbox_events_not_relayed ON outbox_events (occurred_at) WHERE relayed_at IS NULL;
CREATE INDEX outbox_events_tenant_time ON outbox_events (tenant_id, occurred_at);
CREATE INDEX outbox_events_lead ON outbox_events (tenant_id, lead_id) WHERE lead_id IS NOT NULL;

SELECT tether_tenant_table('outbox_events');
GRANT SELECT, INSERT, UPDATE ON outbox_events TO tether_app, tether_jobs;
GRANT DELETE ON outbox_events TO tether_jobs;  -- retention only

CREATE FUNCTION outbox_events_are_facts() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    IF (to_jsonb(NEW) - 'relayed_at' - 'data' - 'erased_at')
            <> (to_jsonb(OLD) - 'relayed_at' - 'data' - 'erased_at') THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = 'an outbox event is a fact: only relayed_at may change';
    END IF;
    IF NEW.data IS DISTINCT FROM OLD.data OR NEW.erased_at IS DISTINCT FROM OLD.erased_at THEN
        -- erasure: the payload is emptied once, with its time, and never again
        IF OLD.erased_at IS NOT NULL OR NEW.erased_at IS NULL OR NEW.data <> '{}'::jsonb THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = 'an outbox event''s data changes only by erasure: to {} with erased_at, once';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER outbox_events_are_facts BEFORE UPDATE ON outbox_events
    FOR EACH ROW EXECUTE FUNCTION outbox_events_are_facts();
