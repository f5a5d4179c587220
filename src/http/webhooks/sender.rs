//! The outbound side of webhooks: one signed `POST` per attempt, to an address the policy allows.
//!
//! Interface for the worker (helper A): build one [`Sender`] from [`SenderConfig`] at start, clone it
//! freely, call [`Sender::send`] per attempt and [`retry_delay`] after a failure.

use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use crate::domain::webhook::SigningSecret;

/// One delivery attempt.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub subscription: Uuid,
    /// `msg_<…>`: the same on every retry of one event, so receivers can drop duplicates.
    pub message_id: String,
    /// Unix seconds of this attempt.
    pub timestamp: i64,
    /// The JSON event.
    pub body: Bytes,
    pub url: url::Url,
    /// The secrets that sign: the current one first, the previous one during its 24 h of overlap.
    pub secrets: Vec<SigningSecret>,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx in time.
    Delivered { status: u16, latency: Duration },
    /// Anything else (status, 3xx, time-out, connection error): retry later.
    Failed { status: Option<u16>, error: String, latency: Duration },
    /// The target's addresses are forbidden now (DNS may change again): nothing was sent.
    Refused { reason: String },
}

/// How the sender behaves; [`SenderConfig::new`] gives the production values.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// `RBN_WEBHOOK_ALLOW_PRIVATE`: loopback and private targets, and plain `http`.
    pub allow_private: bool,
    /// The whole attempt: connect, request, response head and the part of the body that is read.
    pub timeout: Duration,
    /// How much of a response body is read at most (the rest is never waited for).
    pub max_response_body: usize,
    /// Attempts in flight per subscription at most; a slow receiver holds back only its own.
    pub max_in_flight_per_subscription: usize,
}

impl SenderConfig {
    pub fn new(allow_private: bool) -> Self {
        SenderConfig {
            allow_private,
            timeout: Duration::from_secs(10),
            max_response_body: 4096,
            max_in_flight_per_subscription: 4,
        }
    }
}

/// Why a sender could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct SenderError(String);

/// Sends deliveries; cheap to clone (everything is shared).
#[derive(Clone)]
pub struct Sender {
    config: SenderConfig,
}

impl Sender {
    pub fn new(config: SenderConfig) -> Result<Self, SenderError> {
        Ok(Sender { config })
    }

    /// Makes one attempt. Never panics and never takes longer than the configured time-out (plus the wait
    /// for a free slot of the subscription's concurrency limit).
    pub async fn send(&self, msg: &Outgoing) -> Outcome {
        let _ = (&self.config, msg);
        Outcome::Failed { status: None, error: "not implemented yet".into(), latency: Duration::ZERO }
    }
}

/// The production base of the back-off: the first retry comes about 5 s after the first failure.
pub const RETRY_BASE: Duration = Duration::from_secs(5);

/// The wait before the next attempt after `failed_attempts` failures (1 after the first), with jitter from
/// `rng_unit` in `[0, 1)`; `None` when the delivery should be given up and marked failed.
pub fn retry_delay(failed_attempts: u32, rng_unit: f64) -> Option<Duration> {
    retry_delay_with_base(RETRY_BASE, failed_attempts, rng_unit)
}

/// [`retry_delay`] with another base (tests use milliseconds; `RBN_WEBHOOK_RETRY_BASE_MS`).
pub fn retry_delay_with_base(base: Duration, failed_attempts: u32, rng_unit: f64) -> Option<Duration> {
    let _ = (base, failed_attempts, rng_unit);
    None
}
