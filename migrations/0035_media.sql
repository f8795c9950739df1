-- MMS media (issue 18): inbound media copied into the stack's media bucket, and the
-- media of messages stored before attachments existed moved into them.
--
-- An attachment's copy has a state: 'none' (outbound media Tether only passes on, never
-- copied), 'pending' (an inbound URL waiting for its copy; the media function copies it,
-- and the sweeper re-drives one that no queue holds), 'stored' (storage_key names our
-- copy), 'refused' (it will not be copied: too large, a type Tether does not keep, or the
-- provider answers it is gone; copy_error says which). messages.media_urls stays: it is
-- the message's URLs as the provider gave them, in order (the hand-over sends them, and
-- erasure clears them); attachments are the tenant's deduplicated media with our copy.

ALTER TABLE attachments
    ADD COLUMN copy_state text NOT NULL DEFAULT 'none'
        CHECK (copy_state IN ('none', 'pending', 'stored', 'refused')),
    ADD COLUMN copy_error text,
    ADD COLUMN copy_attempts integer NOT NULL DEFAULT 0 CHECK (copy_attempts >= 0),
    -- handed to MediaQueue at (NULL: in no queue yet; the sweeper's)
    ADD COLUMN copy_enqueued_at timestamptz,
    -- the provider account whose webhook brought the URL: its credentials fetch it
    ADD COLUMN source_account_id uuid REFERENCES provider_accounts (id) ON DELETE SET NULL,
    ADD CONSTRAINT attachments_stored_has_key
        CHECK ((copy_state = 'stored') = (storage_key IS NOT NULL)),
    ADD CONSTRAINT attachments_refused_says_why
        CHECK ((copy_state = 'refused') = (copy_error IS NOT NULL));

-- what the sweeper looks for: copies wanted and in no queue
CREATE INDEX attachments_copy_waiting ON attachments (created_at)
    WHERE copy_state = 'pending' AND copy_enqueued_at IS NULL;

-- A copy once stored is never un-stored or re-pointed: the object is ours and immutable.
CREATE FUNCTION keep_attachment_copy() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF OLD.storage_key IS NOT NULL AND NEW.storage_key IS DISTINCT FROM OLD.storage_key THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'attachments_copy_immutable',
            MESSAGE = format('attachment %s: its stored copy cannot change', OLD.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER attachments_copy_immutable BEFORE UPDATE OF storage_key ON attachments
    FOR EACH ROW EXECUTE FUNCTION keep_attachment_copy();

-- The media of earlier messages, as attachments: each tenant's distinct URLs once, each
-- message linked to them in its order (a URL twice in one message: its first place).
-- Inbound ones wait for their copy (a provider URL that has expired by now is refused
-- on its first try, and says so); outbound ones are only passed on.
INSERT INTO attachments (tenant_id, url, copy_state, source_account_id)
SELECT m.tenant_id, u.url,
       CASE WHEN bool_or(m.direction = 'inbound') THEN 'pending' ELSE 'none' END,
       (array_agg(r.provider_account_id) FILTER (WHERE r.provider_account_id IS NOT NULL))[1]
FROM messages m
CROSS JOIN LATERAL unnest(m.media_urls) AS u(url)
LEFT JOIN webhook_receipts r ON m.direction = 'inbound' AND r.tenant_id = m.tenant_id
    AND r.provider = m.provider AND r.external_id = m.external_id
    AND r.event_type = 'inbound_message'
WHERE u.url ~ '^https?://'
GROUP BY m.tenant_id, u.url
ON CONFLICT (tenant_id, url_hash) DO NOTHING;

INSERT INTO message_attachments (tenant_id, message_id, attachment_id, position)
SELECT DISTINCT ON (m.id, a.id) m.tenant_id, m.id, a.id, (u.ordinality - 1)::smallint
FROM messages m
CROSS JOIN LATERAL unnest(m.media_urls) WITH ORDINALITY AS u(url, ordinality)
JOIN attachments a ON a.tenant_id = m.tenant_id
    AND a.url_hash = sha256(convert_to(u.url, 'UTF8'))
ORDER BY m.id, a.id, u.ordinality
ON CONFLICT DO NOTHING;

-- Results count MMS (issue 18): of each group's campaign sends, how many went as MMS.
-- The rollup's functions (migration 0026) carry the count along; the correction below
-- of earlier messages' channel moves it through the same trigger.
ALTER TABLE result_deltas ADD COLUMN mms bigint NOT NULL DEFAULT 0;
ALTER TABLE result_counts ADD COLUMN mms bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION count_message_inserts() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO result_deltas
        (tenant_id, campaign_id, number_id, variant, status, error_code, accepted, sends,
         contacts, mms)
    SELECT n.tenant_id, n.campaign_id, n.outbound_number_id, coalesce(n.variant, ''),
           n.status, coalesce(n.error_code, ''), n.external_id IS NOT NULL, count(*), 0,
           count(*) FILTER (WHERE n.channel = 'mms')
    FROM new_rows n
    WHERE n.direction = 'outbound' AND n.purpose = 'campaign'
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
    PERFORM count_contacts(array_agg(n.id)) FROM new_rows n
    WHERE n.direction = 'outbound' AND n.external_id IS NOT NULL
    HAVING count(*) > 0;
    PERFORM count_replies(array_agg(n.id)) FROM new_rows n
    WHERE n.direction = 'inbound' HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION count_message_updates() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO result_deltas
        (tenant_id, campaign_id, number_id, variant, status, error_code, accepted, sends,
         contacts, mms)
    SELECT c.tenant_id, c.campaign_id, c.outbound_number_id, coalesce(c.variant, ''),
           c.status, coalesce(c.error_code, ''), c.external_id IS NOT NULL, sum(c.n), 0,
           coalesce(sum(c.n) FILTER (WHERE c.channel = 'mms'), 0)
    FROM (SELECT n.*, 1 AS n FROM new_rows n
          UNION ALL
          SELECT o.*, -1 FROM old_rows o) c
    WHERE c.direction = 'outbound' AND c.purpose = 'campaign'
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING sum(c.n) <> 0 OR coalesce(sum(c.n) FILTER (WHERE c.channel = 'mms'), 0) <> 0;
    -- sends accepted by this statement (an id now, none before)
    PERFORM count_contacts(array_agg(n.id))
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.direction = 'outbound' AND n.external_id IS NOT NULL AND o.external_id IS NULL
    HAVING count(*) > 0;
    -- replies given their lead or campaign by this statement (an unmatched one assigned)
    PERFORM count_replies(array_agg(n.id))
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.direction = 'inbound'
      AND (n.lead_id IS DISTINCT FROM o.lead_id OR n.campaign_id IS DISTINCT FROM o.campaign_id)
    HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION compact_result_deltas(batch integer) RETURNS bigint
LANGUAGE sql
AS $$
    WITH moved AS (
        DELETE FROM result_deltas
        WHERE id IN (SELECT id FROM result_deltas ORDER BY id LIMIT batch
                     FOR UPDATE SKIP LOCKED)
        RETURNING *
    ), folded AS (
        INSERT INTO result_counts AS rc
            (tenant_id, campaign_id, number_id, variant, status, error_code, accepted, sends,
             contacts, mms)
        SELECT tenant_id, campaign_id, number_id, variant, status, error_code, accepted,
               sum(sends), sum(contacts), sum(mms)
        FROM moved
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (tenant_id, campaign_id, number_id, variant, status, error_code, accepted)
        DO UPDATE SET sends = rc.sends + excluded.sends, contacts = rc.contacts + excluded.contacts,
                      mms = rc.mms + excluded.mms
    )
    SELECT count(*) FROM moved;
$$;

-- An earlier message with media went as an MMS (a channel is set once: the trigger that
-- keeps it is stepped around for this one correction).
ALTER TABLE messages DISABLE TRIGGER messages_channel_immutable;
UPDATE messages SET channel = 'mms'
WHERE channel = 'sms' AND cardinality(media_urls) > 0;
ALTER TABLE messages ENABLE TRIGGER messages_channel_immutable;

-- Erasure and retention clear a message's body and media_urls and stamp erased_at
-- (migrations 0023, 0028): its attachments go with them, in the same statement, and an
-- attachment no message carries any more is deleted (Tether's copy in the bucket is then
-- reachable by nothing, and expires with the bucket's lifecycle).
GRANT DELETE ON message_attachments, attachments TO tether_app, tether_jobs;

CREATE FUNCTION drop_erased_attachments() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    WITH unlinked AS (
        DELETE FROM message_attachments WHERE message_id = NEW.id RETURNING attachment_id
    )
    DELETE FROM attachments a
    WHERE a.id IN (SELECT attachment_id FROM unlinked)
      AND NOT EXISTS (
          SELECT 1 FROM message_attachments ma
          WHERE ma.attachment_id = a.id AND ma.message_id <> NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER messages_erased_drop_attachments AFTER UPDATE OF erased_at ON messages
    FOR EACH ROW WHEN (OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL)
    EXECUTE FUNCTION drop_erased_attachments();
