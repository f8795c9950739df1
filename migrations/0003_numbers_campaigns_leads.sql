-- The number inventory and pool, campaigns and their number assignments, leads and
-- their state machine, suppressions.

CREATE TYPE workspace_stage AS ENUM
    ('initial_message', 'retarget', 'nudger', 'content_nurture', 'book_appointment');
CREATE TYPE ai_worker AS ENUM ('gianna', 'cathy', 'sabrina');
CREATE TYPE lead_state AS ENUM
    ('new', 'touched', 'responded', 'email_captured', 'high_intent', 'in_call_queue', 'closed', 'suppressed');

-- Seed 001's signalwire_phone_numbers, generalised to every provider and tenant.
CREATE TABLE phone_numbers (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id                 uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider_account_id       uuid NOT NULL,
    e164                      text NOT NULL CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    pool                      text NOT NULL CHECK (btrim(pool) <> ''), -- seed 001's broker company
    label                     text,
    status                    text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    retired_at                timestamptz,
    cooldown_until            timestamptz,
    -- the lease (seed 001)
    assignment_status         text NOT NULL DEFAULT 'available'
                                  CHECK (assignment_status IN ('available', 'assigned')),
    currently_assigned_to     uuid,
    assigned_at               timestamptz,
    release_at                timestamptz,
    last_call_outcome         text CHECK (last_call_outcome IN ('booked', 'no_booking', 'no_answer')),
    appointment_scheduled_at  timestamptz,
    last_leased_at            timestamptz, -- least recently used first
    -- health, fed by delivery statuses
    sent_count                bigint NOT NULL DEFAULT 0 CHECK (sent_count >= 0),
    delivered_count           bigint NOT NULL DEFAULT 0 CHECK (delivered_count >= 0),
    failed_count              bigint NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
    filtered_count            bigint NOT NULL DEFAULT 0 CHECK (filtered_count >= 0),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, e164),
    UNIQUE (tenant_id, id),
    UNIQUE (id, e164), -- lets an assignment pin the number's text, not just its id
    FOREIGN KEY (tenant_id, provider_account_id) REFERENCES provider_accounts (tenant_id, id),
    CONSTRAINT phone_numbers_lease_consistent CHECK (
        (assignment_status = 'assigned') = (currently_assigned_to IS NOT NULL)
        AND (currently_assigned_to IS NULL OR (assigned_at IS NOT NULL AND release_at IS NOT NULL))
    ),
    CONSTRAINT phone_numbers_retired_not_leased CHECK (status = 'active' OR currently_assigned_to IS NULL),
    CONSTRAINT phone_numbers_retired_at CHECK ((status = 'retired') = (retired_at IS NOT NULL))
);
-- Seed 001's composite pool index: the lease query walks it least recently used first.
CREATE INDEX phone_numbers_pool_lru
    ON phone_numbers (tenant_id, pool, assignment_status, last_leased_at NULLS FIRST)
    WHERE status = 'active';
CREATE INDEX phone_numbers_release_due ON phone_numbers (release_at) WHERE assignment_status = 'assigned';

CREATE TABLE campaigns (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (btrim(name) <> ''),
    workspace_stage  workspace_stage NOT NULL DEFAULT 'initial_message',
    ai_worker        ai_worker NOT NULL DEFAULT 'gianna',
    pool             text NOT NULL CHECK (btrim(pool) <> ''),
    template         text,
    status           text NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft', 'staged', 'active', 'paused', 'completed')),
    staged_at        timestamptz,
    launched_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- Seed 000, with its constraints verbatim, plus: the number is a row of the inventory
-- (by id and by text at once), and a campaign has at most one primary.
CREATE TABLE campaign_phone_assignments (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL,
    campaign_id      uuid NOT NULL,
    phone_number     text NOT NULL, -- E.164
    phone_number_id  uuid NOT NULL,
    assigned_at      timestamptz NOT NULL DEFAULT now(),
    is_primary       boolean NOT NULL DEFAULT true,
    UNIQUE (campaign_id, phone_number),
    -- the target of every outbound message's binding (see messages)
    UNIQUE (tenant_id, campaign_id, id, phone_number_id, phone_number),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id),
    FOREIGN KEY (tenant_id, phone_number_id) REFERENCES phone_numbers (tenant_id, id),
    FOREIGN KEY (phone_number_id, phone_number) REFERENCES phone_numbers (id, e164)
);
CREATE INDEX idx_cpa_campaign ON campaign_phone_assignments (campaign_id);
CREATE INDEX idx_cpa_phone ON campaign_phone_assignments (phone_number);
CREATE UNIQUE INDEX cpa_one_primary_per_campaign ON campaign_phone_assignments (campaign_id) WHERE is_primary;

-- An assignment names one number of one campaign for good; only is_primary may change.
CREATE FUNCTION keep_assignment_binding() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW.tenant_id, NEW.campaign_id, NEW.phone_number_id, NEW.phone_number)
       IS DISTINCT FROM (OLD.tenant_id, OLD.campaign_id, OLD.phone_number_id, OLD.phone_number) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'campaign_phone_assignments_immutable',
            MESSAGE = format('assignment %s cannot change its campaign or number', OLD.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER campaign_phone_assignments_immutable BEFORE UPDATE ON campaign_phone_assignments
    FOR EACH ROW EXECUTE FUNCTION keep_assignment_binding();

CREATE TABLE leads (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id                 uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    campaign_id               uuid,
    phone                     text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    first_name                text,
    last_name                 text,
    email                     text,
    timezone                  text,
    state                     lead_state NOT NULL DEFAULT 'new',
    state_changed_at          timestamptz NOT NULL DEFAULT now(),
    assigned_phone_number_id  uuid, -- seed 001: the last number leased to this lead
    phone_assigned_at         timestamptz,
    last_message_at           timestamptz,
    attributes                jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id),
    FOREIGN KEY (tenant_id, assigned_phone_number_id) REFERENCES phone_numbers (tenant_id, id)
);
-- Inbound matching is an exact match on the normalised number, most recently messaged first.
CREATE INDEX leads_phone ON leads (tenant_id, phone, last_message_at DESC NULLS LAST);
CREATE INDEX leads_campaign_phone ON leads (campaign_id, phone);

ALTER TABLE phone_numbers
    ADD FOREIGN KEY (tenant_id, currently_assigned_to) REFERENCES leads (tenant_id, id);
-- A lead holds at most one lease per pool (a number holds at most one lead by shape).
CREATE UNIQUE INDEX phone_numbers_one_lease_per_lead_per_pool
    ON phone_numbers (tenant_id, pool, currently_assigned_to)
    WHERE currently_assigned_to IS NOT NULL;

-- A leased number cannot be handed to another lead without being released first.
CREATE FUNCTION keep_single_lease() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF OLD.currently_assigned_to IS NOT NULL AND NEW.currently_assigned_to IS NOT NULL
       AND NEW.currently_assigned_to <> OLD.currently_assigned_to THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'phone_numbers_single_lease',
            MESSAGE = format('number %s is leased to lead %s; release it first',
                             OLD.e164, OLD.currently_assigned_to);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER phone_numbers_single_lease BEFORE UPDATE OF currently_assigned_to ON phone_numbers
    FOR EACH ROW EXECUTE FUNCTION keep_single_lease();

-- The allowed state moves. tether.domain.lead_state.ALLOWED_TRANSITIONS is the same
-- table (a test compares them); its docstring says why each move is there.
CREATE TABLE lead_state_transitions (
    from_state  lead_state NOT NULL,
    to_state    lead_state NOT NULL,
    PRIMARY KEY (from_state, to_state),
    CHECK (from_state <> to_state),
    CONSTRAINT lead_state_suppressed_is_terminal CHECK (from_state <> 'suppressed')
);
INSERT INTO lead_state_transitions (from_state, to_state) VALUES
    ('new', 'touched'), ('new', 'responded'), ('new', 'email_captured'), ('new', 'high_intent'),
    ('new', 'closed'), ('new', 'suppressed'),
    ('touched', 'responded'), ('touched', 'email_captured'), ('touched', 'high_intent'),
    ('touched', 'closed'), ('touched', 'suppressed'),
    ('responded', 'email_captured'), ('responded', 'high_intent'), ('responded', 'closed'),
    ('responded', 'suppressed'),
    ('email_captured', 'high_intent'), ('email_captured', 'closed'), ('email_captured', 'suppressed'),
    ('high_intent', 'in_call_queue'), ('high_intent', 'closed'), ('high_intent', 'suppressed'),
    ('in_call_queue', 'high_intent'), ('in_call_queue', 'closed'), ('in_call_queue', 'suppressed'),
    ('closed', 'responded'), ('closed', 'suppressed');

CREATE FUNCTION enforce_lead_state_transition() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF NOT EXISTS (SELECT 1 FROM lead_state_transitions
                       WHERE from_state = OLD.state AND to_state = NEW.state) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'check_violation',
                CONSTRAINT = 'lead_state_transition',
                MESSAGE = format('lead %s cannot move from %s to %s', OLD.id, OLD.state, NEW.state);
        END IF;
        NEW.state_changed_at := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER leads_state_transition BEFORE UPDATE OF state ON leads
    FOR EACH ROW EXECUTE FUNCTION enforce_lead_state_transition();

-- Opt-outs. phone_number_id NULL: the whole tenant never texts this phone again;
-- otherwise only that sending number does not (a carrier block on one number).
CREATE TABLE suppressions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    phone              text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    phone_number_id    uuid,
    reason             text NOT NULL CHECK (reason IN ('opt_out', 'carrier_block', 'manual', 'complaint')),
    keyword            text,
    source_message_id  uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    lifted_at          timestamptz,
    lifted_reason      text,
    FOREIGN KEY (tenant_id, phone_number_id) REFERENCES phone_numbers (tenant_id, id)
);
CREATE UNIQUE INDEX suppressions_one_active
    ON suppressions (tenant_id, phone, phone_number_id) NULLS NOT DISTINCT
    WHERE lifted_at IS NULL;

CREATE TRIGGER phone_numbers_updated_at BEFORE UPDATE ON phone_numbers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER campaigns_updated_at BEFORE UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER leads_updated_at BEFORE UPDATE ON leads
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
