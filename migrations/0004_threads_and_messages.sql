-- Threads, the one canonical messages table for both directions, and thread insights.

-- Seed 003's deterministic thread assignment: one thread per tenant, channel, our
-- address and their address.
CREATE TABLE threads (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    channel          text NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms')),
    our_address      text NOT NULL,
    their_address    text NOT NULL,
    lead_id          uuid,
    campaign_id      uuid,
    last_message_at  timestamptz,
    last_inbound_at  timestamptz,
    unread_count     integer NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, channel, our_address, their_address),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id)
);
CREATE INDEX threads_lead ON threads (tenant_id, lead_id);

-- Statuses and their monotonic rank. tether.domain.message_status.STATUS_RANKS is the
-- same table (a test compares them).
CREATE TABLE message_statuses (
    status    text PRIMARY KEY,
    rank      smallint NOT NULL,
    terminal  boolean NOT NULL
);
INSERT INTO message_statuses (status, rank, terminal) VALUES
    ('pending', 0, false), ('queued', 1, false), ('accepted', 1, false), ('sending', 2, false),
    ('sent', 3, false), ('delivered', 4, true), ('undelivered', 4, true), ('failed', 4, true),
    ('canceled', 4, true), ('received', 4, true), ('read', 5, true);

CREATE TABLE messages (
    id                           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id                    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    direction                    text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    thread_id                    uuid,
    lead_id                      uuid,
    campaign_id                  uuid,
    from_address                 text NOT NULL,
    to_address                   text NOT NULL,
    -- our side of the conversation: the sender of an outbound, the receiver of an inbound
    our_address                  text NOT NULL GENERATED ALWAYS AS
                                     (CASE WHEN direction = 'outbound' THEN from_address ELSE to_address END) STORED,
    outbound_number_id           uuid, -- the number that sent it (outbound) or received it (inbound)
    campaign_phone_assignment_id uuid,
    send_key                     text UNIQUE,
    template                     text,
    body                         text NOT NULL DEFAULT '',
    media_urls                   text[] NOT NULL DEFAULT '{}',
    segments                     smallint CHECK (segments > 0),
    provider                     text,
    external_id                  text, -- the provider's message SID
    status                       text NOT NULL REFERENCES message_statuses (status),
    error_code                   text,
    error_reason                 text,
    attempts                     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    queued_at                    timestamptz,
    sent_at                      timestamptz,
    delivered_at                 timestamptz,
    received_at                  timestamptz,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_at                   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, external_id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, thread_id) REFERENCES threads (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id),
    -- The hard rule: an outbound message carries its campaign's assignment, and the
    -- number it went from is that assignment's number, by id and by text.
    CONSTRAINT messages_outbound_bound CHECK (
        direction = 'inbound'
        OR (campaign_phone_assignment_id IS NOT NULL AND outbound_number_id IS NOT NULL
            AND campaign_id IS NOT NULL AND lead_id IS NOT NULL AND send_key IS NOT NULL)
    ),
    CONSTRAINT messages_bound_to_assignment
        FOREIGN KEY (tenant_id, campaign_id, campaign_phone_assignment_id, outbound_number_id, our_address)
        REFERENCES campaign_phone_assignments (tenant_id, campaign_id, id, phone_number_id, phone_number),
    CONSTRAINT messages_status_direction CHECK (
        CASE direction WHEN 'inbound' THEN status IN ('received', 'read') ELSE status <> 'received' END
    )
);
CREATE INDEX messages_thread ON messages (thread_id, created_at);
CREATE INDEX messages_lead ON messages (tenant_id, lead_id, created_at);
CREATE INDEX messages_assignment ON messages (campaign_phone_assignment_id);

-- After insert, what binds a message to its number never changes. An inbound message
-- that arrived unmatched may be matched once (NULL → value), never re-matched.
CREATE FUNCTION keep_message_binding() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW.tenant_id, NEW.direction, NEW.from_address, NEW.to_address)
           IS DISTINCT FROM (OLD.tenant_id, OLD.direction, OLD.from_address, OLD.to_address)
       OR NEW.send_key IS DISTINCT FROM OLD.send_key
       OR (OLD.campaign_phone_assignment_id IS NOT NULL
           AND NEW.campaign_phone_assignment_id IS DISTINCT FROM OLD.campaign_phone_assignment_id)
       OR (OLD.outbound_number_id IS NOT NULL AND NEW.outbound_number_id IS DISTINCT FROM OLD.outbound_number_id)
       OR (OLD.campaign_id IS NOT NULL AND NEW.campaign_id IS DISTINCT FROM OLD.campaign_id)
       OR (OLD.lead_id IS NOT NULL AND NEW.lead_id IS DISTINCT FROM OLD.lead_id)
       OR (OLD.thread_id IS NOT NULL AND NEW.thread_id IS DISTINCT FROM OLD.thread_id)
       OR (OLD.provider IS NOT NULL AND NEW.provider IS DISTINCT FROM OLD.provider)
       OR (OLD.external_id IS NOT NULL AND NEW.external_id IS DISTINCT FROM OLD.external_id) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'messages_binding_immutable',
            MESSAGE = format('message %s: its number, campaign, lead, addresses and ids cannot change', OLD.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_binding_immutable BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION keep_message_binding();

-- A status only moves forward; a terminal status only becomes 'read', and only from
-- delivered or received.
CREATE FUNCTION keep_status_monotonic() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    old_rank smallint;
    old_terminal boolean;
    new_rank smallint;
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        SELECT rank, terminal INTO old_rank, old_terminal FROM message_statuses WHERE status = OLD.status;
        SELECT rank INTO new_rank FROM message_statuses WHERE status = NEW.status;
        IF (old_terminal AND NOT (NEW.status = 'read' AND OLD.status IN ('delivered', 'received')))
           OR new_rank <= old_rank THEN
            RAISE EXCEPTION USING
                ERRCODE = 'check_violation',
                CONSTRAINT = 'messages_status_monotonic',
                MESSAGE = format('message %s cannot go from %s back or across to %s', OLD.id, OLD.status, NEW.status);
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_status_monotonic BEFORE UPDATE OF status ON messages
    FOR EACH ROW EXECUTE FUNCTION keep_status_monotonic();

-- Seed 003's minimal CRM insight per thread.
CREATE TABLE thread_insights (
    thread_id         uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    label             text,
    next_step         text CHECK (next_step IN ('auto_reply', 'follow_up', 'human_takeover')),
    next_followup_at  timestamptz,
    summary           text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, thread_id) REFERENCES threads (tenant_id, id) ON DELETE CASCADE
);

-- Seed 004's conversation_overview, over threads. security_invoker keeps the caller's
-- row-level security in force (a plain view would read as its owner).
CREATE VIEW conversation_overview WITH (security_invoker = true) AS
SELECT t.id AS thread_id,
       t.tenant_id,
       t.channel,
       t.our_address,
       t.their_address,
       t.lead_id,
       t.campaign_id,
       c.workspace_stage,
       max(coalesce(m.received_at, m.sent_at, m.created_at)) AS last_message_at,
       count(m.id) AS message_count,
       count(m.id) FILTER (WHERE m.direction = 'inbound') AS inbound_count,
       count(m.id) FILTER (WHERE m.direction = 'outbound') AS outbound_count,
       t.unread_count,
       i.label,
       i.next_step,
       i.next_followup_at
FROM threads t
LEFT JOIN messages m ON m.thread_id = t.id
LEFT JOIN campaigns c ON c.id = t.campaign_id
LEFT JOIN thread_insights i ON i.thread_id = t.id
GROUP BY t.id, c.id, i.thread_id;

CREATE TRIGGER threads_updated_at BEFORE UPDATE ON threads
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER messages_updated_at BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER thread_insights_updated_at BEFORE UPDATE ON thread_insights
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
