-- Results (issue 15: GET /v1/campaigns/{id}/stats and /v1/phone-numbers/{id}/stats),
-- kept by the database in the same transaction as the facts they count, so they cannot
-- drift from them: counting a campaign's messages at read time took 0.5-1 s at a
-- million messages (bench/stats.py), the rollup a few milliseconds.
--
-- result_deltas: what each statement on messages changed, appended (+1 for a send's
--   new group, -1 for its old one; +1 contact for a lead's first accepted send in a
--   campaign). Appending takes no lock another send waits on, so sends never queue
--   behind a counter row nor deadlock on one.
-- result_counts: the deltas folded in by compact_result_deltas (the sweeper, every
--   minute): one statement moves a batch from one table to the other, so a read
--   (result_counts plus the deltas left) sees every change exactly once.
-- result_replies: one row per contact who replied (first text, first reply, whether a
--   reply opted them out): the median time to a first reply needs each one.
--
-- Groups: campaign, number, variant ('' for none), status, error code ('' for none),
-- accepted (the provider gave the send an id). Only campaign sends are counted
-- (purpose 'campaign'); a contact row has status ''.

CREATE TABLE result_deltas (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL,
    number_id uuid NOT NULL,
    variant text NOT NULL,
    status text NOT NULL,
    error_code text NOT NULL,
    accepted boolean NOT NULL,
    sends bigint NOT NULL,
    contacts bigint NOT NULL
);
CREATE INDEX result_deltas_campaign ON result_deltas (tenant_id, campaign_id);
CREATE INDEX result_deltas_number ON result_deltas (tenant_id, number_id);

CREATE TABLE result_counts (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL,
    number_id uuid NOT NULL,
    variant text NOT NULL,
    status text NOT NULL,
    error_code text NOT NULL,
    accepted boolean NOT NULL,
    -- no CHECK (>= 0): a folded batch may hold a group's -1 alone, its +1 folded before,
    -- and ON CONFLICT checks the row it would insert before it finds the conflict
    sends bigint NOT NULL,
    contacts bigint NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, number_id, variant, status, error_code, accepted)
);
CREATE INDEX result_counts_number ON result_counts (tenant_id, number_id);

CREATE TABLE result_replies (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    number_id uuid NOT NULL,
    variant text NOT NULL,
    first_sent_at timestamptz NOT NULL,
    first_reply_at timestamptz NOT NULL CHECK (first_reply_at >= first_sent_at),
    opted_out boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, campaign_id, lead_id)
);
CREATE INDEX result_replies_number ON result_replies (tenant_id, number_id);

-- A reply's opt-out found from the reply (count_replies).
CREATE INDEX suppressions_opt_out_source ON suppressions (source_message_id)
    WHERE reason = 'opt_out';

SELECT tether_tenant_table('result_deltas');
SELECT tether_tenant_table('result_counts');
SELECT tether_tenant_table('result_replies');
GRANT SELECT, INSERT ON result_deltas TO tether_app;
GRANT SELECT ON result_counts TO tether_app;
GRANT SELECT, INSERT, UPDATE ON result_replies TO tether_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON result_deltas, result_counts, result_replies TO tether_jobs;

-- A contact's first reply: the lead's first inbound text in the campaign at or after its
-- first accepted campaign send (whose number and variant the contact keeps).
CREATE FUNCTION count_replies(replies uuid[]) RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO result_replies AS rr
        (tenant_id, campaign_id, lead_id, number_id, variant, first_sent_at, first_reply_at,
         opted_out)
    SELECT DISTINCT ON (r.tenant_id, r.campaign_id, r.lead_id)
           r.tenant_id, r.campaign_id, r.lead_id, f.outbound_number_id,
           coalesce(f.variant, ''), f.sent_at, r.received_at,
           EXISTS (SELECT 1 FROM suppressions s
                   WHERE s.source_message_id = r.id AND s.reason = 'opt_out')
    FROM messages r
    CROSS JOIN LATERAL (
        SELECT m.outbound_number_id, m.variant, m.sent_at
        FROM messages m
        WHERE m.tenant_id = r.tenant_id AND m.lead_id = r.lead_id
          AND m.campaign_id = r.campaign_id AND m.direction = 'outbound'
          AND m.purpose = 'campaign' AND m.external_id IS NOT NULL
          AND m.sent_at <= r.received_at
        ORDER BY m.sent_at, m.id
        LIMIT 1
    ) f
    WHERE r.id = ANY (replies) AND r.direction = 'inbound' AND r.lead_id IS NOT NULL
      AND r.campaign_id IS NOT NULL AND r.received_at IS NOT NULL
    ORDER BY r.tenant_id, r.campaign_id, r.lead_id, r.received_at
    ON CONFLICT (tenant_id, campaign_id, lead_id) DO UPDATE
        SET first_reply_at = least(rr.first_reply_at, excluded.first_reply_at),
            opted_out = rr.opted_out OR excluded.opted_out;
$$;

CREATE FUNCTION count_message_inserts() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO result_deltas
        (tenant_id, campaign_id, number_id, variant, status, error_code, accepted, sends,
         contacts)
    SELECT n.tenant_id, n.campaign_id, n.outbound_number_id, coalesce(n.variant, ''),
           n.status, coalesce(n.error_code, ''), n.external_id IS NOT NULL, count(*), 0
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

-- A contact: a lead's first accepted campaign send in a campaign (the lead is locked
-- while its send is handed over, so two sends to it are accepted one after the other).
-- `accepted`: the sends a statement accepted; of several to one lead, the first counts.
CREATE FUNCTION count_contacts(accepted uuid[]) RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO result_deltas
        (tenant_id, campaign_id, number_id, variant, status, error_code, accepted, sends,
         contacts)
    SELECT n.tenant_id, n.campaign_id, n.outbound_number_id, coalesce(n.variant, ''),
           '', '', true, 0, count(*)
    FROM messages n
    WHERE n.id = ANY (accepted) AND n.direction = 'outbound' AND n.purpose = 'campaign'
      AND n.lead_id IS NOT NULL AND n.external_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM messages m
          WHERE m.tenant_id = n.tenant_id AND m.lead_id = n.lead_id
            AND m.campaign_id = n.campaign_id AND m.direction = 'outbound'
            AND m.purpose = 'campaign' AND m.external_id IS NOT NULL AND m.id <> n.id
            AND (m.id <> ALL (accepted)
                 OR (m.sent_at, m.id) < (n.sent_at, n.id)))
    GROUP BY 1, 2, 3, 4;
$$;

CREATE FUNCTION count_message_updates() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO result_deltas
        (tenant_id, campaign_id, number_id, variant, status, error_code, accepted, sends,
         contacts)
    SELECT c.tenant_id, c.campaign_id, c.outbound_number_id, coalesce(c.variant, ''),
           c.status, coalesce(c.error_code, ''), c.external_id IS NOT NULL, sum(c.n), 0
    FROM (SELECT n.*, 1 AS n FROM new_rows n
          UNION ALL
          SELECT o.*, -1 FROM old_rows o) c
    WHERE c.direction = 'outbound' AND c.purpose = 'campaign'
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING sum(c.n) <> 0;
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

CREATE TRIGGER messages_count_inserts AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_message_inserts();
CREATE TRIGGER messages_count_updates AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_message_updates();

-- An opt-out caused by a reply marks the contact who sent it.
CREATE FUNCTION count_opt_outs() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE result_replies rr SET opted_out = true
    FROM new_rows s JOIN messages r ON r.id = s.source_message_id
    WHERE s.reason = 'opt_out' AND r.direction = 'inbound'
      AND rr.tenant_id = r.tenant_id AND rr.campaign_id = r.campaign_id
      AND rr.lead_id = r.lead_id AND r.received_at >= rr.first_sent_at AND NOT rr.opted_out;
    RETURN NULL;
END $$;

CREATE TRIGGER suppressions_count_opt_outs AFTER INSERT ON suppressions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_opt_outs();

-- Fold up to `batch` deltas into result_counts (the sweeper's job, jobs role); returns
-- how many moved. One statement: a read sees each delta in one table or the other.
CREATE FUNCTION compact_result_deltas(batch integer) RETURNS bigint
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
             contacts)
        SELECT tenant_id, campaign_id, number_id, variant, status, error_code, accepted,
               sum(sends), sum(contacts)
        FROM moved
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (tenant_id, campaign_id, number_id, variant, status, error_code, accepted)
        DO UPDATE SET sends = rc.sends + excluded.sends, contacts = rc.contacts + excluded.contacts
    )
    SELECT count(*) FROM moved;
$$;
REVOKE ALL ON FUNCTION compact_result_deltas(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION compact_result_deltas(integer) TO tether_jobs;

-- What was there before this migration, counted once.
INSERT INTO result_counts
    (tenant_id, campaign_id, number_id, variant, status, error_code, accepted, sends, contacts)
SELECT tenant_id, campaign_id, outbound_number_id, coalesce(variant, ''), status,
       coalesce(error_code, ''), external_id IS NOT NULL, count(*), 0
FROM messages
WHERE direction = 'outbound' AND purpose = 'campaign'
GROUP BY 1, 2, 3, 4, 5, 6, 7;
INSERT INTO result_counts
    (tenant_id, campaign_id, number_id, variant, status, error_code, accepted, sends, contacts)
SELECT tenant_id, campaign_id, outbound_number_id, coalesce(variant, ''), '', '', true, 0,
       count(*)
FROM (SELECT DISTINCT ON (tenant_id, campaign_id, lead_id) *
      FROM messages
      WHERE direction = 'outbound' AND purpose = 'campaign' AND lead_id IS NOT NULL
        AND external_id IS NOT NULL
      ORDER BY tenant_id, campaign_id, lead_id, sent_at, id) first_sends
GROUP BY 1, 2, 3, 4;
SELECT count_replies(array_agg(m.id)) FROM messages m WHERE m.direction = 'inbound';
