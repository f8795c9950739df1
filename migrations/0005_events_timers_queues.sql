-- Webhook receipts, the lead event log, timers, the call queue, notifications, audit.

-- Seed 002 part 1: the permanent idempotency record of every provider event, raw.
CREATE TABLE webhook_receipts (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider_account_id  uuid NOT NULL,
    provider             text NOT NULL,
    idempotency_key      text NOT NULL UNIQUE,
    event_type           text NOT NULL CHECK (event_type IN ('inbound_message', 'status_update', 'unknown')),
    external_id          text,
    raw_body             text NOT NULL,
    headers              jsonb NOT NULL DEFAULT '{}',
    event                jsonb, -- the canonical parsed event
    received_at          timestamptz NOT NULL DEFAULT now(),
    enqueued_at          timestamptz,
    processed_at         timestamptz,
    attempts             integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error           text,
    FOREIGN KEY (tenant_id, provider_account_id) REFERENCES provider_accounts (tenant_id, id)
);
-- The sweeper's work list: stored but never enqueued.
CREATE INDEX webhook_receipts_not_enqueued ON webhook_receipts (received_at) WHERE enqueued_at IS NULL;

-- Seed 002 part 2 (and seed 001's interactions audit trail): append-only.
CREATE TABLE lead_events (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    lead_id         uuid NOT NULL,
    event_type      text NOT NULL CHECK (btrim(event_type) <> ''),
    previous_state  lead_state,
    new_state       lead_state,
    payload         jsonb NOT NULL DEFAULT '{}',
    dedupe_key      text NOT NULL UNIQUE DEFAULT gen_random_uuid()::text,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id)
);
CREATE INDEX lead_events_lead ON lead_events (tenant_id, lead_id, occurred_at);
CREATE TRIGGER lead_events_append_only BEFORE UPDATE OR DELETE ON lead_events
    FOR EACH ROW EXECUTE FUNCTION reject_modification();
CREATE TRIGGER lead_events_no_truncate BEFORE TRUNCATE ON lead_events
    FOR EACH STATEMENT EXECUTE FUNCTION reject_modification();

-- Seed 002 part 5.
CREATE TYPE timer_type AS ENUM ('TIMER_7D', 'TIMER_14D', 'TIMER_30D', 'FOLLOW_UP', 'CALLBACK');
CREATE TABLE lead_timers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    lead_id       uuid NOT NULL,
    timer_type    timer_type NOT NULL,
    trigger_at    timestamptz NOT NULL,
    executed_at   timestamptz,
    cancelled_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts  integer NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
    last_error    text,
    payload       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id),
    CONSTRAINT lead_timers_fired_or_cancelled CHECK (executed_at IS NULL OR cancelled_at IS NULL)
);
-- One active timer per (lead, type); fired and cancelled ones stay as history.
CREATE UNIQUE INDEX lead_timers_one_active ON lead_timers (lead_id, timer_type)
    WHERE executed_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX lead_timers_due ON lead_timers (trigger_at)
    WHERE executed_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE call_queue (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    lead_id       uuid NOT NULL,
    priority      integer NOT NULL,
    reason        text NOT NULL,
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'claimed', 'done', 'cancelled')),
    due_at        timestamptz NOT NULL DEFAULT now(),
    claimed_by    text,
    claimed_at    timestamptz,
    completed_at  timestamptz,
    outcome       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id),
    CHECK (status <> 'claimed' OR claimed_at IS NOT NULL)
);
CREATE UNIQUE INDEX call_queue_one_open_per_lead ON call_queue (lead_id) WHERE status IN ('queued', 'claimed');
CREATE INDEX call_queue_next ON call_queue (tenant_id, priority DESC, due_at) WHERE status = 'queued';

-- Seed 002 part 8: the bell of each workspace stage.
CREATE TABLE notifications (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    workspace_stage  workspace_stage NOT NULL,
    kind             text NOT NULL CHECK (btrim(kind) <> ''),
    campaign_id      uuid,
    lead_id          uuid,
    thread_id        uuid,
    message_id       uuid,
    title            text NOT NULL,
    body             text,
    read_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id),
    FOREIGN KEY (tenant_id, thread_id) REFERENCES threads (tenant_id, id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id),
    UNIQUE (message_id, kind) -- one notification of a kind per message, however often it is processed
);
CREATE INDEX notifications_unread ON notifications (tenant_id, workspace_stage) WHERE read_at IS NULL;
CREATE INDEX notifications_recent ON notifications (tenant_id, created_at DESC);

-- Seed 003 phase 5: access denied, send failure, worker error, and the like. Append-only.
-- tenant_id is NULL for events that belong to no tenant (a webhook for an unknown account).
CREATE TABLE audit_log (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid REFERENCES tenants (id),
    kind          text NOT NULL CHECK (btrim(kind) <> ''),
    actor         text,
    subject_type  text,
    subject_id    text,
    detail        jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, created_at DESC);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION reject_modification();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION reject_modification();

CREATE TRIGGER lead_timers_updated_at BEFORE UPDATE ON lead_timers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER call_queue_updated_at BEFORE UPDATE ON call_queue
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
