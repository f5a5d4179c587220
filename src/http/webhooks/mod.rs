//! Webhooks: subscriptions, the outbox and its delivery.

pub mod sender;
