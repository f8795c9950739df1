-- Suppressions are matched on their phone hash since 0028, but the only index holding it
-- is the partial one of active rows: a search of the list by number (lifted rows too)
-- and an erasure read the tenant's whole list. One index serves both.
CREATE INDEX suppressions_phone_hash ON suppressions (tenant_id, phone_hash);
