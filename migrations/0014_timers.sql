-- The timer job (seed 002 part 5): the tenant's escalation map, retries, and why a
-- timer was cancelled.

-- What an unanswered lead's 7-, 14- and 30-day timers do, per tenant: move the lead to
-- another campaign (its worker writes from that campaign's bound number), or close it.
-- A timer type without a step sends a follow-up in the lead's current campaign (7D,
-- 14D) or closes the lead (30D): tether.domain.timers.
CREATE TABLE escalation_steps (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    timer_type   timer_type NOT NULL CHECK (timer_type IN ('TIMER_7D', 'TIMER_14D', 'TIMER_30D')),
    action       text NOT NULL CHECK (action IN ('move', 'follow_up', 'close')),
    campaign_id  uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, timer_type),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id),
    CONSTRAINT escalation_steps_move_names_campaign CHECK ((action = 'move') = (campaign_id IS NOT NULL))
);
CREATE TRIGGER escalation_steps_updated_at BEFORE UPDATE ON escalation_steps
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
ALTER TABLE escalation_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE escalation_steps FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON escalation_steps TO tether_app
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
CREATE POLICY jobs_all_tenants ON escalation_steps TO tether_jobs USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON escalation_steps TO tether_app, tether_jobs;

-- A follow-up's text, per campaign (its worker's words); without one, Tether's default.
ALTER TABLE campaigns ADD COLUMN follow_up_template text CHECK (btrim(follow_up_template) <> '');

-- A failed firing waits until retry_at (the next run, not the same one); a cancelled
-- timer says why (a reply, an opt-out, superseded by a later escalation, given up).
-- message_id is the text a firing stored, for reading; the binding between the two is
-- the message's unique send key `timer:<timer id>` (a foreign key here would cost the
-- job a row lock per fired timer on a row it has just inserted).
ALTER TABLE lead_timers
    ADD COLUMN retry_at timestamptz,
    ADD COLUMN cancel_reason text,
    ADD COLUMN message_id uuid,
    ADD CONSTRAINT lead_timers_attempts_bounded CHECK (attempts <= max_attempts);

-- The claim's order: oldest due first (a retry is due at retry_at).
DROP INDEX lead_timers_due;
CREATE INDEX lead_timers_due ON lead_timers ((coalesce(retry_at, trigger_at)))
    WHERE executed_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX lead_timers_lead_active ON lead_timers (lead_id)
    WHERE executed_at IS NULL AND cancelled_at IS NULL;

-- An opt-out of the whole tenant stops the phone's timers in the transaction that
-- records it, whoever records it (a STOP reply, a carrier's "unsubscribed" error).
CREATE FUNCTION cancel_timers_of_suppressed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.phone_number_id IS NULL AND NEW.lifted_at IS NULL THEN
        UPDATE lead_timers t SET cancelled_at = now(), cancel_reason = 'suppressed'
          FROM leads l
         WHERE l.tenant_id = NEW.tenant_id AND l.phone = NEW.phone
           AND t.lead_id = l.id AND t.executed_at IS NULL AND t.cancelled_at IS NULL;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER suppressions_cancel_timers AFTER INSERT ON suppressions
    FOR EACH ROW EXECUTE FUNCTION cancel_timers_of_suppressed();

-- Fired or cancelled is final: a timer cannot be reopened and fired a second time.
CREATE FUNCTION keep_timer_outcome() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF (OLD.executed_at IS NOT NULL OR OLD.cancelled_at IS NOT NULL)
       AND (NEW.executed_at, NEW.cancelled_at, NEW.message_id)
           IS DISTINCT FROM (OLD.executed_at, OLD.cancelled_at, OLD.message_id) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'lead_timers_outcome_final',
            MESSAGE = format('timer %s was %s already', OLD.id,
                             CASE WHEN OLD.executed_at IS NOT NULL THEN 'fired' ELSE 'cancelled' END);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER lead_timers_outcome_final BEFORE UPDATE ON lead_timers
    FOR EACH ROW EXECUTE FUNCTION keep_timer_outcome();
