-- Channels (issue 18): threads, messages and senders carry their channel, and the hard
-- rule binds every outbound message to its exact sending address on its channel.
--
-- Thread channels are conversations: 'sms' (a phone, MMS included: one conversation
-- with one phone, whatever it carries), 'whatsapp' and 'email'. Message channels are
-- what one message went as: 'sms', 'mms' (an SMS-channel message with media),
-- 'whatsapp', 'email'. A number sends SMS and MMS through its 'sms' assignment to a
-- campaign, and WhatsApp through a 'whatsapp' assignment (the campaign's WhatsApp
-- sender). Tether sends no email in this issue: an email message is inbound only, and
-- its our_address is the mailbox it reached.

ALTER TABLE threads DROP CONSTRAINT threads_channel_check;
ALTER TABLE threads ADD CONSTRAINT threads_channel_check
    CHECK (channel IN ('sms', 'whatsapp', 'email'));

ALTER TABLE messages ADD COLUMN channel text NOT NULL DEFAULT 'sms'
    CHECK (channel IN ('sms', 'mms', 'whatsapp', 'email'));
-- the channel of the assignment that sent (or received) it: MMS goes through SMS's
ALTER TABLE messages ADD COLUMN sender_channel text NOT NULL GENERATED ALWAYS AS
    (CASE channel WHEN 'mms' THEN 'sms' ELSE channel END) STORED;
ALTER TABLE messages ADD CONSTRAINT messages_outbound_channel
    CHECK (direction = 'inbound' OR channel IN ('sms', 'mms', 'whatsapp'));

-- Assignments: a number serves a campaign on one channel; one primary per channel.
ALTER TABLE campaign_phone_assignments ADD COLUMN channel text NOT NULL DEFAULT 'sms'
    CHECK (channel IN ('sms', 'whatsapp'));
ALTER TABLE campaign_phone_assignments
    DROP CONSTRAINT campaign_phone_assignments_campaign_id_phone_number_key;
ALTER TABLE campaign_phone_assignments ADD CONSTRAINT cpa_campaign_number_channel
    UNIQUE (campaign_id, phone_number, channel);
DROP INDEX cpa_one_primary_per_campaign;
CREATE UNIQUE INDEX cpa_one_primary_per_campaign_channel
    ON campaign_phone_assignments (campaign_id, channel) WHERE is_primary;
ALTER TABLE campaign_phone_assignments ADD CONSTRAINT cpa_binding_target
    UNIQUE (tenant_id, campaign_id, id, phone_number_id, phone_number, channel);

-- The hard rule, with the channel: an outbound message's sender is its assignment's
-- number on the assignment's channel (by id, by text and by channel).
ALTER TABLE messages DROP CONSTRAINT messages_bound_to_assignment;
ALTER TABLE messages ADD CONSTRAINT messages_bound_to_assignment
    FOREIGN KEY (tenant_id, campaign_id, campaign_phone_assignment_id, outbound_number_id,
                 our_address, sender_channel)
    REFERENCES campaign_phone_assignments (tenant_id, campaign_id, id, phone_number_id,
                                           phone_number, channel);

-- A lead's sticky sender is per campaign and channel.
ALTER TABLE lead_sender_bindings ADD COLUMN channel text NOT NULL DEFAULT 'sms'
    CHECK (channel IN ('sms', 'whatsapp'));
ALTER TABLE lead_sender_bindings DROP CONSTRAINT lead_sender_bindings_pkey;
ALTER TABLE lead_sender_bindings ADD CONSTRAINT lead_sender_bindings_pkey
    PRIMARY KEY (lead_id, campaign_id, channel);
ALTER TABLE lead_sender_bindings
    DROP CONSTRAINT lead_sender_bindings_tenant_id_campaign_id_campaign_phone__fkey;
ALTER TABLE lead_sender_bindings ADD CONSTRAINT lead_sender_bindings_assignment
    FOREIGN KEY (tenant_id, campaign_id, campaign_phone_assignment_id, phone_number_id,
                 phone_number, channel)
    REFERENCES campaign_phone_assignments (tenant_id, campaign_id, id, phone_number_id,
                                           phone_number, channel);

-- The old five-column target is kept by nothing now.
ALTER TABLE campaign_phone_assignments
    DROP CONSTRAINT campaign_phone_assignments_tenant_id_campaign_id_id_phone_n_key;

-- Channels never change after insert: an assignment's, a binding's, a message's.
CREATE OR REPLACE FUNCTION keep_assignment_binding() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW.tenant_id, NEW.campaign_id, NEW.phone_number_id, NEW.phone_number, NEW.channel)
       IS DISTINCT FROM (OLD.tenant_id, OLD.campaign_id, OLD.phone_number_id, OLD.phone_number, OLD.channel) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'campaign_phone_assignments_immutable',
            MESSAGE = format('assignment %s cannot change its campaign, number or channel', OLD.id);
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION keep_message_channel() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.channel IS DISTINCT FROM OLD.channel THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'messages_binding_immutable',
            MESSAGE = format('message %s: its channel cannot change', OLD.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_channel_immutable BEFORE UPDATE OF channel ON messages
    FOR EACH ROW EXECUTE FUNCTION keep_message_channel();

CREATE FUNCTION keep_binding_channel() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.channel IS DISTINCT FROM OLD.channel THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'lead_sender_bindings_channel_immutable',
            MESSAGE = format('lead %s: a sender binding cannot change its channel', OLD.lead_id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER lead_sender_bindings_channel_immutable BEFORE UPDATE OF channel ON lead_sender_bindings
    FOR EACH ROW EXECUTE FUNCTION keep_binding_channel();

-- Attachments as seed 004 models them: one row per distinct URL per tenant (the URL is
-- deduplicated by its hash), linked to the messages that carried it. storage_key is
-- Tether's own copy in the stack's media bucket (inbound media is copied there because
-- provider URLs expire or need credentials); NULL until copied, or for outbound media
-- that Tether only passes on.
CREATE TABLE attachments (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url           text NOT NULL CHECK (url ~ '^https?://'),
    url_hash      bytea NOT NULL, -- set by the trigger below, whatever the insert says
    content_type  text,
    size_bytes    bigint CHECK (size_bytes >= 0),
    storage_key   text CHECK (storage_key <> ''),
    stored_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, url_hash),
    UNIQUE (tenant_id, id),
    CHECK ((storage_key IS NULL) = (stored_at IS NULL))
);
-- Seed 004's dedup tables fill their hash before insert; a URL never changes after.
CREATE FUNCTION hash_attachment_url() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.url IS DISTINCT FROM OLD.url THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'attachments_url_immutable',
            MESSAGE = format('attachment %s: its URL cannot change', OLD.id);
    END IF;
    NEW.url_hash := sha256(convert_to(NEW.url, 'UTF8'));
    RETURN NEW;
END $$;
CREATE TRIGGER attachments_url_hash BEFORE INSERT OR UPDATE ON attachments
    FOR EACH ROW EXECUTE FUNCTION hash_attachment_url();
SELECT tether_tenant_table('attachments');
GRANT SELECT, INSERT, UPDATE ON attachments TO tether_app, tether_jobs;

CREATE TABLE message_attachments (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_id     uuid NOT NULL,
    attachment_id  uuid NOT NULL,
    position       smallint NOT NULL CHECK (position >= 0),
    PRIMARY KEY (message_id, attachment_id),
    UNIQUE (message_id, position),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, attachment_id) REFERENCES attachments (tenant_id, id)
);
CREATE INDEX message_attachments_attachment ON message_attachments (attachment_id);
SELECT tether_tenant_table('message_attachments');
GRANT SELECT, INSERT ON message_attachments TO tether_app, tether_jobs;
