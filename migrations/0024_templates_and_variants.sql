-- Templates with merge fields, and a campaign's weighted variants (issue 15, points 2-3).
--
-- 1. Leads: a company, and custom fields with a shape the templates can name
--    ({custom.city}): `attributes` is a flat object of at most 100 string values, each
--    named like a custom field (lower-case letters, digits, _ . -; at most 64) and at
--    most 1000 characters long.
ALTER TABLE leads ADD COLUMN company text CHECK (length(company) BETWEEN 1 AND 200);

CREATE FUNCTION lead_custom_fields_ok(fields jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT jsonb_typeof(fields) = 'object'
       AND (SELECT count(*) FROM jsonb_object_keys(fields)) <= 100
       AND NOT EXISTS (
           SELECT 1 FROM jsonb_each(fields) f
           WHERE f.key !~ '^[a-z0-9_][a-z0-9_.-]{0,63}$'
              OR jsonb_typeof(f.value) <> 'string'
              OR length(f.value #>> '{}') > 1000)
$$;
ALTER TABLE leads ADD CONSTRAINT leads_custom_fields_shape CHECK (lead_custom_fields_ok(attributes));

-- 2. Campaigns: the name a template's {sender_name} says, and the follow-up template
--    never blank (0014 already) nor the template.
ALTER TABLE campaigns ADD COLUMN sender_name text CHECK (length(btrim(sender_name)) BETWEEN 1 AND 100);
ALTER TABLE campaigns ADD CONSTRAINT campaigns_template_not_blank CHECK (btrim(template) <> '');

-- 3. Variants: a campaign sends either its plain `template` (one variant, "default")
--    or these, each lead getting one by a stable hash over the weights
--    (tether.domain.templates.choose_variant).
CREATE TABLE campaign_templates (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    campaign_id uuid NOT NULL,
    name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$'),
    template    text NOT NULL CHECK (btrim(template) <> '' AND length(template) <= 1600),
    weight      integer NOT NULL CHECK (weight BETWEEN 1 AND 1000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, name),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id) ON DELETE CASCADE
);
SELECT tether_tenant_table('campaign_templates');
GRANT SELECT, INSERT, UPDATE, DELETE ON campaign_templates TO tether_app;
GRANT SELECT ON campaign_templates TO tether_jobs;

-- 4. What a campaign sends is fixed once it is launched (its leads' texts were made
--    from it), and a campaign has a plain template or variants, never both.
CREATE FUNCTION keep_launched_templates() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF OLD.launched_at IS NOT NULL AND (
           NEW.template IS DISTINCT FROM OLD.template
           OR NEW.follow_up_template IS DISTINCT FROM OLD.follow_up_template
           OR NEW.sender_name IS DISTINCT FROM OLD.sender_name) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'campaigns_templates_fixed',
            MESSAGE = format('campaign %s has been launched: its templates and sender name are fixed', OLD.id);
    END IF;
    IF NEW.template IS NOT NULL AND NEW.template IS DISTINCT FROM OLD.template
       AND EXISTS (SELECT 1 FROM campaign_templates t WHERE t.campaign_id = NEW.id) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'campaigns_template_or_variants',
            MESSAGE = format('campaign %s has variants: it cannot have a plain template too', NEW.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER campaigns_templates_fixed BEFORE UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION keep_launched_templates();

CREATE FUNCTION keep_launched_variants() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_campaign uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.campaign_id ELSE NEW.campaign_id END;
    v_launched timestamptz;
    v_template text;
BEGIN
    SELECT launched_at, template INTO v_launched, v_template FROM campaigns WHERE id = v_campaign;
    IF v_launched IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'campaigns_templates_fixed',
            MESSAGE = format('campaign %s has been launched: its variants are fixed', v_campaign);
    END IF;
    IF TG_OP <> 'DELETE' AND v_template IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'campaigns_template_or_variants',
            MESSAGE = format('campaign %s has a plain template: it cannot have variants too', v_campaign);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER campaign_templates_fixed AFTER INSERT OR UPDATE OR DELETE ON campaign_templates
    FOR EACH ROW EXECUTE FUNCTION keep_launched_variants();

-- 5. Preview warns past this many segments per text (the tenant's to set).
ALTER TABLE tenant_config ADD COLUMN preview_max_segments integer NOT NULL DEFAULT 3
    CHECK (preview_max_segments BETWEEN 1 AND 10);
