-- Webhooks (Standard Webhooks 1.0): subscriptions, the outbox every change is written to in its own
-- transaction, and one delivery per event and subscription.

-- The secrets are stored as they are shown (`whsec_…`): signing needs the key itself, so a hash (as for
-- API keys) cannot sign; no representation of a subscription ever includes them.
CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    active INTEGER NOT NULL,
    -- JSON arrays; empty: every type, every network.
    types TEXT NOT NULL,
    network_ids TEXT NOT NULL,
    district_key INTEGER,
    owner_key_id TEXT,
    owner_role TEXT NOT NULL,
    deactivated_reason TEXT,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at TIMESTAMP,
    -- Since when every attempt failed (NULL after a success): decides the deactivation.
    failing_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One row per committed change, written by the triggers below in the transaction of the change; the
-- worker turns each into deliveries and removes it.
CREATE TABLE webhook_outbox (
    seq BIGINT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted INTEGER NOT NULL
);

-- Every path that changes a record writes its change feed row (`rbn_journal`, imports, links): this
-- catches them all. Nothing is written while no subscription is active, so writes cost nothing more
-- without webhooks.
CREATE FUNCTION rbn_webhook_outbox() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active = 1) THEN
        INSERT INTO webhook_outbox (seq, kind, resource_id, updated_at, deleted)
        VALUES (NEW.seq, NEW.kind, NEW.resource_id, NEW.updated_at, NEW.deleted)
        ON CONFLICT (seq) DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_outbox AFTER INSERT OR UPDATE ON changes FOR EACH ROW EXECUTE FUNCTION rbn_webhook_outbox();

-- The last scope each record had, so that a deletion reaches the subscriptions of its network.
CREATE TABLE webhook_scopes (
    resource_id TEXT PRIMARY KEY NOT NULL,
    network_id TEXT,
    district_key INTEGER
);

CREATE TABLE webhook_deliveries (
    -- The `webhook-id`: the same on every attempt.
    id TEXT PRIMARY KEY NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    -- NULL for a ping.
    seq BIGINT,
    resource_id TEXT,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    -- pending, delivered, failed
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    last_latency_ms BIGINT,
    last_attempt_at TIMESTAMP,
    next_attempt_at TIMESTAMP,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_record ON webhook_deliveries (subscription_id, resource_id, status, seq);
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (subscription_id, created_at, id);
