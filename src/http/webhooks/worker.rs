//! The delivery worker: started with the server, it turns the outbox into deliveries and makes each
//! attempt with the [`Sender`].
//!
//! It wakes right after every commit (`Db::commits`) and at least once a second (for retries, and for
//! commits of other instances). Attempts run as tasks of their own, at most [`IN_FLIGHT`] at once, so a
//! slow receiver holds back only its own deliveries (the sender limits each subscription further).
//! Nothing here is ever awaited by a request: writes only insert into the outbox. An attempt cut off by
//! the process's end keeps its lease until it expires; then an instance tries again (at least once).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use actix_web::web;
use futures_util::future::select;

use super::sender::{Outcome, Outgoing, Sender, SenderConfig, SenderError, retry_delay_with_base};
use crate::domain::Timestamp;
use crate::http::WebhookConfig;
use crate::storage::{AttemptResult, Claimed, Db};

/// Attempts in flight per process at most.
pub const IN_FLIGHT: usize = 64;
/// How long a claimed delivery stays this instance's: the sender gives up after 10 s, and claims stay within
/// its limit per subscription, so no attempt waits for a slot this long.
const LEASE: Duration = Duration::from_secs(30);
/// How often the worker looks without being woken.
const POLL: Duration = Duration::from_secs(1);
/// How long the deliveries that ended stay visible in `GET /v1/webhooks/{id}/deliveries`.
const KEEP_DELIVERIES: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often the worker forgets older deliveries.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Outbox rows turned into deliveries per transaction.
const FAN_OUT_BATCH: i64 = 200;

/// The queue as the worker last saw it, for `/metrics`.
#[derive(Debug, Default)]
pub struct QueueGauge {
    length: AtomicI64,
    /// Microseconds since 1970 of the oldest waiting event; 0: none waits.
    oldest_micros: AtomicI64,
}

impl QueueGauge {
    /// The queue's length and the age of its oldest event in seconds.
    pub fn read(&self) -> (i64, f64) {
        let oldest = self.oldest_micros.load(Ordering::Relaxed);
        let age =
            if oldest == 0 { 0.0 } else { ((Timestamp::now().0.timestamp_micros() - oldest).max(0) as f64) / 1e6 };
        (self.length.load(Ordering::Relaxed), age)
    }

    fn set(&self, length: i64, oldest: Option<Timestamp>) {
        self.length.store(length, Ordering::Relaxed);
        self.oldest_micros.store(oldest.map_or(0, |at| at.0.timestamp_micros()), Ordering::Relaxed);
    }
}

/// Starts the worker on the current actix runtime; returns its sender (for the delivery metrics).
pub fn start(db: Db, config: WebhookConfig, gauge: Arc<QueueGauge>) -> Result<Sender, SenderError> {
    let sender_config = SenderConfig::new(config.allow_private);
    let per_subscription = sender_config.max_in_flight_per_subscription as i64;
    let sender = Sender::new(sender_config)?;
    actix_web::rt::spawn(run(db, config, sender.clone(), gauge, per_subscription));
    Ok(sender)
}

async fn run(db: Db, config: WebhookConfig, sender: Sender, gauge: Arc<QueueGauge>, per_subscription: i64) {
    let wake = db.commits();
    let owner = uuid::Uuid::now_v7().to_string();
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut pruned = std::time::Instant::now();
    loop {
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = std::time::Instant::now();
            let (pruner, keep) = (db.clone(), chrono::TimeDelta::from_std(KEEP_DELIVERIES).unwrap_or_default());
            if let Ok(Err(error)) =
                web::block(move || pruner.prune_deliveries(Timestamp(Timestamp::now().0 - keep))).await
            {
                tracing::warn!(%error, "could not forget old webhook deliveries");
            }
        }
        let round = Round { db: &db, config: &config, sender: &sender, gauge: &gauge, owner: &owner, slots: &slots };
        if let Err(error) = round.run(per_subscription).await {
            tracing::warn!(%error, "webhook worker");
        }
        let woken = Box::pin(wake.notified());
        let _ = select(woken, Box::pin(actix_web::rt::time::sleep(POLL))).await;
    }
}

/// What one round of the worker works with.
struct Round<'a> {
    db: &'a Db,
    config: &'a WebhookConfig,
    sender: &'a Sender,
    gauge: &'a Arc<QueueGauge>,
    owner: &'a str,
    slots: &'a Arc<tokio::sync::Semaphore>,
}

impl Round<'_> {
    /// One round: fan the outbox out, then claim what is due (at most `per_subscription` in flight for each
    /// subscription, so that no attempt waits in the sender past its lease) and start its attempts.
    async fn run(&self, per_subscription: i64) -> Result<(), String> {
        let Round { db, config, sender, gauge, owner, slots } = *self;
        let reader = db.clone();
        let queue =
            web::block(move || reader.webhook_queue()).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        gauge.set(queue.outbox + queue.pending, queue.oldest);
        if queue.outbox > 0 {
            let fanner = db.clone();
            web::block(move || {
                while fanner.fan_out(FAN_OUT_BATCH)? == FAN_OUT_BATCH as usize {}
                Ok::<_, crate::storage::StoreError>(())
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        } else if queue.pending == 0 {
            return Ok(());
        }
        let free = slots.available_permits();
        if free == 0 {
            return Ok(());
        }
        let (claimer, owner) = (db.clone(), owner.to_string());
        let claimed = web::block(move || claimer.claim_deliveries(&owner, LEASE, free as i64, per_subscription))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        for delivery in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else { return Ok(()) };
            let (db, config, sender) = (db.clone(), config.clone(), sender.clone());
            actix_web::rt::spawn(async move {
                attempt(&db, &config, &sender, delivery).await;
                drop(permit);
                // The record's next event may be due now.
                db.commits().notify_one();
            });
        }
        Ok(())
    }
}

/// Makes one attempt and records it.
async fn attempt(db: &Db, config: &WebhookConfig, sender: &Sender, delivery: Claimed) {
    let result = match url::Url::parse(&delivery.url) {
        Err(error) => failed(config, &delivery, None, format!("not a URL: {error}"), Duration::ZERO),
        Ok(url) => {
            let outgoing = Outgoing {
                subscription: delivery.subscription,
                message_id: delivery.id.clone(),
                timestamp: Timestamp::now().0.timestamp(),
                body: bytes::Bytes::from(delivery.body.clone()),
                url,
                secrets: delivery.secrets.clone(),
            };
            match sender.send(&outgoing).await {
                Outcome::Delivered { status, latency } => AttemptResult::Delivered { status, latency },
                Outcome::Failed { status, error, latency } => failed(config, &delivery, status, error, latency),
                Outcome::Refused { reason } => failed(config, &delivery, None, reason, Duration::ZERO),
            }
        }
    };
    let (db, disable_after, id) = (db.clone(), config.disable_after, delivery.id.clone());
    let recorded = web::block(move || db.record_attempt(&delivery, &result, disable_after)).await;
    // Unrecorded, the lease expires and the attempt is made again: at least once.
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, delivery = %id, "could not record a webhook attempt"),
        Err(error) => tracing::warn!(%error, delivery = %id, "could not record a webhook attempt"),
    }
}

/// A failed attempt, with the time of the next one (none: give up).
fn failed(
    config: &WebhookConfig,
    delivery: &Claimed,
    status: Option<u16>,
    error: String,
    latency: Duration,
) -> AttemptResult {
    let failures = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
    let retry_at = retry_delay_with_base(config.retry_base, failures, unit_random())
        .and_then(|delay| chrono::TimeDelta::from_std(delay).ok())
        .map(|delay| Timestamp(Timestamp::now().0 + delay));
    AttemptResult::Failed { status, error, latency, retry_at }
}

/// A random number in `[0, 1)` for the jitter of retries.
fn unit_random() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
