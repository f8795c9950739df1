-- Call outcomes from the voice side (issue 18, seed 001): a VAPI end-of-call report or
-- a Twilio/SignalWire call status callback, verified and stored by the webhook like
-- any receipt, is applied by the inbound function to the lead's number lease. Each
-- call is recorded here once, with what became of it; nothing is dropped.
--
-- 'vapi' accounts hold the VAPI server secret (or HMAC key) their reports are signed
-- with, under the same Secrets Manager paths as every provider account (0020).
ALTER TABLE provider_accounts DROP CONSTRAINT provider_accounts_provider_check;
ALTER TABLE provider_accounts ADD CONSTRAINT provider_accounts_provider_check
    CHECK (provider IN ('signalhouse', 'twilio', 'signalwire', 'telnyx', 'sandbox', 'vapi'));

ALTER TABLE webhook_receipts DROP CONSTRAINT webhook_receipts_event_type_check;
ALTER TABLE webhook_receipts ADD CONSTRAINT webhook_receipts_event_type_check
    CHECK (event_type IN ('inbound_message', 'status_update', 'unknown', 'call_outcome'));

-- One row per call (per provider's call id), written once by the receipt that first
-- reported it; a duplicate or a second report of the same call finds it and does
-- nothing. state says what the report did:
--   applied         the lease now follows the outcome (release_at is its new end)
--   lease_released  the lead held no lease from that number when the report came (a
--                   late report): recorded on the lead, nothing re-leased
--   superseded      a later call's outcome was applied first (out of order): recorded,
--                   the lease keeps the later outcome
--   unmatched       no lead found: kept here, visible, for someone to look at
CREATE TABLE call_outcomes (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    receipt_id         uuid NOT NULL, -- the webhook_receipts row (its raw report)
    provider           text NOT NULL CHECK (btrim(provider) <> ''),
    call_id            text NOT NULL CHECK (btrim(call_id) <> '' AND length(call_id) <= 200),
    -- the carrier's id of the same call when the report names it (VAPI's
    -- call.phoneCallProviderId is the Twilio CallSid): a carrier's callback for a call
    -- VAPI reported (or the other way round) is the same call, not a second one
    carrier_call_id    text CHECK (length(carrier_call_id) <= 200),
    outcome            text NOT NULL CHECK (outcome IN ('booked', 'no_booking', 'no_answer')),
    provider_status    text NOT NULL CHECK (length(provider_status) <= 200),
    our_address        text,
    appointment_at     timestamptz,
    occurred_at        timestamptz NOT NULL,
    lead_id            uuid,
    phone_number_id    uuid,
    lease_assigned_at  timestamptz,
    state              text NOT NULL
                           CHECK (state IN ('applied', 'lease_released', 'superseded', 'unmatched')),
    reason             text,
    release_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, provider, call_id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id),
    FOREIGN KEY (tenant_id, phone_number_id) REFERENCES phone_numbers (tenant_id, id),
    CONSTRAINT call_outcomes_lead_unless_unmatched CHECK ((state = 'unmatched') = (lead_id IS NULL)),
    CONSTRAINT call_outcomes_applied_to_a_lease CHECK (
        state <> 'applied'
        OR (phone_number_id IS NOT NULL AND lease_assigned_at IS NOT NULL AND release_at IS NOT NULL)
    ),
    CONSTRAINT call_outcomes_booked_has_time CHECK (outcome <> 'booked' OR appointment_at IS NOT NULL)
);
SELECT tether_tenant_table('call_outcomes');
-- a record of what happened: written once, never changed by the app
GRANT SELECT, INSERT ON call_outcomes TO tether_app, tether_jobs;
CREATE INDEX call_outcomes_unmatched ON call_outcomes (tenant_id, created_at) WHERE state = 'unmatched';
CREATE INDEX call_outcomes_carrier ON call_outcomes (tenant_id, carrier_call_id)
    WHERE carrier_call_id IS NOT NULL;
CREATE INDEX call_outcomes_lease ON call_outcomes (phone_number_id, lease_assigned_at, occurred_at)
    WHERE state = 'applied';
