DROP TABLE webhook_deliveries;
DROP TABLE webhook_scopes;
DROP TRIGGER webhook_outbox ON changes;
DROP FUNCTION rbn_webhook_outbox;
DROP TABLE webhook_outbox;
DROP TABLE webhook_subscriptions;
