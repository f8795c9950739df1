-- Webhook subscriptions (issue 16): a tenant's URL and the event types it wants, and
-- one delivery row per (subscription, event) that deliver_events and the sweeper work
-- through. A delivery refers to its event (outbox_events), never copies its body, so
-- erasing a lead's events leaves nothing personal here; last_error is Tether's own
-- words ("HTTP 500", "timed out"), never the receiver's answer.
--
-- The signing secret lives in Secrets Manager under the tenant's path; secret_ref is its
-- name, and the check below makes a value in clear impossible to store.

CREATE TABLE event_subscriptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url text NOT NULL CHECK (url ~ '^https?://[^/?#]+' AND char_length(url) <= 2048),
    event_types text[] NOT NULL CHECK (
        cardinality(event_types) >= 1
        AND event_types <@ ARRAY[
            'reply.received', 'lead.state_changed', 'lead.opted_out', 'lead.resubscribed',
            'message.status_changed', 'call.queued', 'lease.acquired', 'lease.released',
            'campaign.launch_progress']::text[]),
    secret_ref text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failing', 'disabled')),
    failing_since timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- the secret's name, under this tenant's path and this subscription's id
    CONSTRAINT event_subscriptions_secret_is_a_name CHECK (secret_ref ~ (
        '^tether/[a-z0-9]+/tenants/' || tenant_id::text
        || '/event-subscriptions/' || id::text || '/signing-secret$')),
    -- failing (since when) exactly while the status says so
    CONSTRAINT event_subscriptions_failing_since CHECK (
        (status = 'failing') = (failing_since IS NOT NULL)),
    CONSTRAINT event_subscriptions_id_tenant_key UNIQUE (id, tenant_id)
);
CREATE INDEX event_subscriptions_tenant ON event_subscriptions (tenant_id, created_at, id);

SELECT tether_tenant_table('event_subscriptions');
GRANT SELECT, INSERT, UPDATE, DELETE ON event_subscriptions TO tether_app, tether_jobs;

-- A delivery names its event together with the event's tenant, so it can only be of the
-- subscription's own tenant.
ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_id_tenant_key UNIQUE (id, tenant_id);

CREATE TABLE event_deliveries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subscription_id uuid NOT NULL,
    event_id uuid NOT NULL,
    -- what receivers dedupe on: the same for every attempt and replay of this pair,
    -- different for each subscription, and nobody can write it
    webhook_id text GENERATED ALWAYS AS (
        'msg_' || md5(subscription_id::text || ':' || event_id::text)) STORED,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),  -- in this round
    started_at timestamptz NOT NULL,       -- this round began (created or replayed): 24 h from here
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    last_status_code integer CHECK (last_status_code BETWEEN 100 AND 599),
    last_error text CHECK (char_length(last_error) <= 300),
    delivered_at timestamptz,             -- the last success
    failed_at timestamptz,                -- gave up (24 h of failures)
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_deliveries_subscription_fkey FOREIGN KEY (subscription_id, tenant_id)
        REFERENCES event_subscriptions (id, tenant_id) ON DELETE CASCADE,
    CONSTRAINT event_deliveries_event_fkey FOREIGN KEY (event_id, tenant_id)
        REFERENCES outbox_events (id, tenant_id) ON DELETE CASCADE,
    CONSTRAINT event_deliveries_once UNIQUE (subscription_id, event_id),
    CONSTRAINT event_deliveries_webhook_id_key UNIQUE (webhook_id),
    -- pending: when to try next; delivered: when; failed: when it gave up
    CONSTRAINT event_deliveries_status_rules CHECK (
        CASE status
            WHEN 'pending' THEN next_attempt_at IS NOT NULL AND failed_at IS NULL
            WHEN 'delivered' THEN next_attempt_at IS NULL AND delivered_at IS NOT NULL
                AND failed_at IS NULL AND attempts >= 1
            WHEN 'failed' THEN next_attempt_at IS NULL AND failed_at IS NOT NULL AND attempts >= 1
        END)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX event_deliveries_log ON event_deliveries (subscription_id, created_at, id);
CREATE INDEX event_deliveries_event ON event_deliveries (event_id);

SELECT tether_tenant_table('event_deliveries');
GRANT SELECT, INSERT, UPDATE ON event_deliveries TO tether_app, tether_jobs;

-- A delivery stays the delivery of its pair: which subscription, event and tenant, and
-- when it was first made, never change.
CREATE FUNCTION event_deliveries_keep_their_pair() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    IF NEW.subscription_id <> OLD.subscription_id OR NEW.event_id <> OLD.event_id
            OR NEW.tenant_id <> OLD.tenant_id OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = 'a delivery belongs to its subscription and event for good';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TRIGGER event_deliveries_keep_their_pair BEFORE UPDATE ON event_deliveries
    FOR EACH ROW EXECUTE FUNCTION event_deliveries_keep_their_pair();
