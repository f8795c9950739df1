-- Results (issue 15: GET /v1/campaigns/{id}/stats and /v1/phone-numbers/{id}/stats)
-- are counted from the stored messages, never from counters that could drift. These
-- indexes let both statements (tether/db/stats.py) read a campaign's or a number's
-- messages from the index alone (an index-only scan: every column they read is in it),
-- without visiting the table's rows.
CREATE INDEX messages_campaign_results ON messages (tenant_id, campaign_id, direction)
    INCLUDE (purpose, lead_id, variant, outbound_number_id, status, error_code, external_id,
             sent_at, received_at, created_at, id);
CREATE INDEX messages_number_results ON messages (tenant_id, outbound_number_id, direction)
    INCLUDE (purpose, lead_id, variant, campaign_id, status, error_code, external_id,
             sent_at, received_at, created_at, id);

-- An opt-out found from the reply that caused it.
CREATE INDEX suppressions_opt_out_source ON suppressions (source_message_id)
    WHERE reason = 'opt_out';
