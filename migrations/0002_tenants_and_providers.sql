-- Tenants, their configuration, API keys and provider accounts.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Everything seed 002 part 6 wants config-driven rather than hard-coded.
CREATE TABLE tenant_config (
    tenant_id                       uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    default_region                  text NOT NULL DEFAULT 'US' CHECK (default_region ~ '^[A-Z]{2}$'),
    gold_label_priority             integer NOT NULL DEFAULT 100,
    lease_hours_without_booking     integer NOT NULL DEFAULT 18 CHECK (lease_hours_without_booking > 0),
    lease_hours_after_appointment   integer NOT NULL DEFAULT 24 CHECK (lease_hours_after_appointment >= 0),
    lease_cooldown_minutes          integer NOT NULL DEFAULT 60 CHECK (lease_cooldown_minutes >= 0),
    quiet_hours_start               time NOT NULL DEFAULT '08:00',
    quiet_hours_end                 time NOT NULL DEFAULT '21:00',
    -- per-state windows, e.g. {"FL": {"start": "08:00", "end": "20:00"}}
    quiet_hours_by_state            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(quiet_hours_by_state) = 'object'),
    timer_7d_days                   integer NOT NULL DEFAULT 7 CHECK (timer_7d_days > 0),
    timer_14d_days                  integer NOT NULL DEFAULT 14 CHECK (timer_14d_days > timer_7d_days),
    timer_30d_days                  integer NOT NULL DEFAULT 30 CHECK (timer_30d_days > timer_14d_days),
    send_segments_per_second        numeric(6, 2) NOT NULL DEFAULT 1 CHECK (send_segments_per_second > 0),
    send_segments_per_day           integer NOT NULL DEFAULT 500 CHECK (send_segments_per_day > 0),
    number_failure_threshold        numeric(4, 3) NOT NULL DEFAULT 0.2
                                        CHECK (number_failure_threshold > 0 AND number_failure_threshold <= 1),
    created_at                      timestamptz NOT NULL DEFAULT now(),
    updated_at                      timestamptz NOT NULL DEFAULT now(),
    CHECK (quiet_hours_start < quiet_hours_end)
);

-- Only a hash of each key is kept; the key itself is shown once, at creation.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (btrim(name) <> ''),
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- Secrets are never stored here, only references to them (seed 004's credentials_ref).
CREATE TABLE provider_accounts (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider             text NOT NULL
                             CHECK (provider IN ('signalhouse', 'twilio', 'signalwire', 'telnyx', 'sandbox')),
    name                 text NOT NULL CHECK (btrim(name) <> ''),
    external_account_id  text,
    signing_secret_ref   text,
    credentials_ref      text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TRIGGER tenants_updated_at BEFORE UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER tenant_config_updated_at BEFORE UPDATE ON tenant_config
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER provider_accounts_updated_at BEFORE UPDATE ON provider_accounts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
