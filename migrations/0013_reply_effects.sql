-- What a reply sets in motion: worker routing, call priority below gold.

-- Seed 002 part 7: each AI worker has numbers of its own; a reply is attributed to the
-- worker of the number it came to, else to its campaign's worker.
ALTER TABLE phone_numbers ADD COLUMN ai_worker ai_worker;
ALTER TABLE messages ADD COLUMN ai_worker ai_worker;

-- Seed 002 part 6: the call queue's priorities come from the tenant, gold (email and
-- mobile both known) and the rest.
ALTER TABLE tenant_config
    ADD COLUMN call_priority integer NOT NULL DEFAULT 50;
