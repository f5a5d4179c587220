DROP TABLE webhook_deliveries;
DROP TABLE webhook_scopes;
DROP TRIGGER webhook_outbox_update;
DROP TRIGGER webhook_outbox_insert;
DROP TABLE webhook_outbox;
DROP TABLE webhook_subscriptions;
