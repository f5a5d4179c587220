//! The outbound side of webhooks: one signed `POST` per attempt, to an address the policy allows.
//!
//! Interface for the worker: build one [`Sender`] from [`SenderConfig`] at start, clone it freely, call
//! [`Sender::send`] per attempt and [`retry_delay`] after a failure; [`Sender::register_metrics`] adds the
//! delivery metrics to a scrape (keep a clone of the sender where `http::metrics::render` can reach it).
//! [`refused_by_dns`] lets creation refuse a name that resolves only to forbidden addresses.
//!
//! Safety against server-side request forgery: the client resolves names only through
//! [`PolicyResolver`], which drops every address the policy forbids, so the address checked is the address
//! connected to (no second lookup between check and connect). Literal addresses never reach a resolver and
//! are checked in [`Sender::send`]. Proxies from the environment are ignored (they would connect on our
//! behalf to anything), redirects are not followed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::domain::webhook::{SigningSecret, TargetError, check_address, signature_header};

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
    /// Anything else (another status, a redirect, a time-out, a connection error): retry later. `error`
    /// is for the owner: the status and the start of the body, or what went wrong.
    Failed { status: Option<u16>, error: String, latency: Duration },
    /// The target is not allowed now (its name resolves to forbidden addresses only, or the URL is not
    /// allowed by the policy): nothing was sent. DNS may change again, so the worker may retry it like a
    /// failure.
    Refused { reason: String },
}

impl Outcome {
    /// The label of the outcome in the metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Failed { .. } => "failed",
            Outcome::Refused { .. } => "refused",
        }
    }
}

/// How the sender behaves; [`SenderConfig::new`] gives the production values.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// `RBN_WEBHOOK_ALLOW_PRIVATE`: loopback and private targets, and plain `http`.
    pub allow_private: bool,
    /// The whole attempt: resolving, connecting, sending, and the response's head (and the part of its
    /// body that is read).
    pub timeout: Duration,
    /// How much of a response body is read at most; the rest is never waited for.
    pub max_response_body: usize,
    /// Attempts in flight per subscription at most; a slow receiver holds back only its own deliveries.
    pub max_in_flight_per_subscription: usize,
}

impl SenderConfig {
    /// The production values: 10 s per attempt, 4 KiB of a response, 4 attempts in flight per subscription.
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
pub struct SenderError(#[from] reqwest::Error);

/// The `user-agent` of deliveries.
const USER_AGENT: &str = concat!("rbn-registry/", env!("CARGO_PKG_VERSION"), " (webhooks)");

/// How much of a failed answer's body goes into [`Outcome::Failed`]'s `error`.
const ERROR_EXCERPT_CHARS: usize = 200;

/// Sends deliveries; cheap to clone (everything is shared).
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    config: Arc<SenderConfig>,
    limits: Arc<Mutex<HashMap<Uuid, Arc<Semaphore>>>>,
    metrics: Arc<DeliveryMetrics>,
}

impl Sender {
    pub fn new(config: SenderConfig) -> Result<Self, SenderError> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(PolicyResolver { allow_private: config.allow_private }))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!config.allow_private)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(USER_AGENT)
            .build()?;
        Ok(Sender { client, config: Arc::new(config), limits: Arc::default(), metrics: Arc::default() })
    }

    /// Makes one attempt: waits for a free slot of the subscription's concurrency limit, then sends, all
    /// within the configured time-out (the wait for the slot is not counted). Counts the outcome in the
    /// metrics.
    pub async fn send(&self, msg: &Outgoing) -> Outcome {
        let _slot = self.slot(msg.subscription).await;
        // A guard, so that an attempt whose future is dropped (shutdown) leaves the gauge right.
        let _in_flight = InFlight::enter(&self.metrics.in_flight);
        let outcome = self.attempt(msg).await;
        self.metrics.record(&outcome);
        outcome
    }

    async fn attempt(&self, msg: &Outgoing) -> Outcome {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + self.config.timeout);
        if let Err(reason) = self.check_url(&msg.url) {
            return Outcome::Refused { reason };
        }
        let signature = signature_header(&msg.secrets, &msg.message_id, msg.timestamp, &msg.body);
        let request = self
            .client
            .post(msg.url.clone())
            .header("webhook-id", &msg.message_id)
            .header("webhook-timestamp", msg.timestamp.to_string())
            .header("webhook-signature", signature)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(msg.body.clone());
        let mut response = match tokio::time::timeout_at(deadline, request.send()).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                if let Some(refused) = find_source::<ForbiddenTarget>(&error) {
                    return Outcome::Refused { reason: refused.to_string() };
                }
                return Outcome::Failed { status: None, error: describe(&error), latency: started.elapsed() };
            }
            Err(_) => {
                let error = format!("no answer within {} s", self.config.timeout.as_secs_f64());
                return Outcome::Failed { status: None, error, latency: started.elapsed() };
            }
        };
        let status = response.status();
        let latency = started.elapsed();
        if status.is_success() {
            // The body is not waited for: dropping the response closes a connection whose body is unread.
            return Outcome::Delivered { status: status.as_u16(), latency };
        }
        // The start of the body tells the owner why; it is read up to the limit and the deadline, no further.
        let mut excerpt = Vec::new();
        while excerpt.len() < self.config.max_response_body {
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    let room = self.config.max_response_body - excerpt.len();
                    excerpt.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                _ => break,
            }
        }
        drop(response);
        let excerpt = String::from_utf8_lossy(&excerpt);
        let excerpt: String = excerpt.chars().filter(|c| !c.is_control()).take(ERROR_EXCERPT_CHARS).collect();
        let mut error = format!("HTTP {}", status.as_u16());
        if status.is_redirection() {
            error.push_str(" (redirects are not followed)");
        }
        if !excerpt.trim().is_empty() {
            error.push_str(": ");
            error.push_str(excerpt.trim());
        }
        Outcome::Failed { status: Some(status.as_u16()), error, latency }
    }

    /// What can be checked before a connection: the scheme, and a literal address (the client connects to
    /// those without asking the resolver). Names are left to [`PolicyResolver`], which sees what the
    /// client connects to; checking them here too would be a second, separate lookup.
    fn check_url(&self, url: &url::Url) -> Result<(), String> {
        let allow_private = self.config.allow_private;
        if !(url.scheme() == "https" || (allow_private && url.scheme() == "http")) {
            return Err(format!("target URL {}", TargetError::NotHttps));
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(format!("target URL {}", TargetError::NotHttps)),
        };
        match literal.map(|ip| check_address(ip, allow_private)) {
            Some(Err(error)) => Err(format!("target URL {error}")),
            _ => Ok(()),
        }
    }

    /// A slot of the subscription's concurrency limit; the semaphore of a subscription is dropped when
    /// nobody holds or waits for it, so the map holds only subscriptions with attempts in flight.
    async fn slot(&self, subscription: Uuid) -> Slot {
        let semaphore = {
            let mut limits = self.limits.lock();
            let limit = self.config.max_in_flight_per_subscription.max(1);
            limits.entry(subscription).or_insert_with(|| Arc::new(Semaphore::new(limit))).clone()
        };
        let permit = semaphore.clone().acquire_owned().await.expect("the semaphore is never closed");
        Slot { permit: Some(permit), semaphore, subscription, limits: self.limits.clone() }
    }

    /// Adds the delivery metrics to a scrape's registry: `rbn_webhook_delivery_attempts_total{outcome}`,
    /// `rbn_webhook_delivery_duration_seconds{outcome}` and `rbn_webhook_deliveries_in_flight`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        let metrics = &self.metrics;
        registry.register(
            "rbn_webhook_delivery_attempts",
            "Webhook delivery attempts, by outcome: delivered (2xx), failed (retried later) or refused (target not allowed)",
            metrics.attempts.clone(),
        );
        registry.register_with_unit(
            "rbn_webhook_delivery_duration",
            "Time from the start of an attempt to the answer's status, by outcome (delivered or failed)",
            Unit::Seconds,
            metrics.durations.clone(),
        );
        registry.register(
            "rbn_webhook_deliveries_in_flight",
            "Webhook delivery attempts being made now",
            metrics.in_flight.clone(),
        );
    }
}

/// A held slot; on drop, the subscription's semaphore leaves the map when nobody else uses it.
struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    semaphore: Arc<Semaphore>,
    subscription: Uuid,
    limits: Arc<Mutex<HashMap<Uuid, Arc<Semaphore>>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut limits = self.limits.lock();
        // Clones are taken only under this lock: two references (the map's and ours) mean nobody else
        // holds or waits for it.
        if Arc::strong_count(&self.semaphore) == 2 {
            limits.remove(&self.subscription);
        }
    }
}

/// One attempt counted in `rbn_webhook_deliveries_in_flight` while it lives.
struct InFlight<'a>(&'a Gauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a Gauge) -> Self {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The first error of type `E` in an error's chain of sources.
fn find_source<'a, E: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// A client error for the owner: reqwest's own text names only the stage, the cause is in its sources.
fn describe(error: &reqwest::Error) -> String {
    let stage = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = stage.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Every address a name resolved to was forbidden by the policy.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to no address that may receive webhooks ({reason})")]
pub struct ForbiddenTarget {
    host: String,
    reason: String,
}

/// The client's only resolver: the system's lookup, less the addresses the policy forbids.
#[derive(Debug, Clone, Copy)]
pub struct PolicyResolver {
    pub allow_private: bool,
}

impl PolicyResolver {
    /// The allowed addresses of `host` (port 0: the client puts in the URL's), or why there are none.
    pub async fn lookup(self, host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        Ok(self.filter(host, resolved)?)
    }

    /// The allowed ones of the addresses `host` resolved to; an error when there were some and none is.
    fn filter(self, host: &str, resolved: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, ForbiddenTarget> {
        let mut allowed = Vec::new();
        let mut first_refusal: Option<TargetError> = None;
        for addr in resolved {
            match check_address(addr.ip(), self.allow_private) {
                Ok(()) => allowed.push(addr),
                Err(error) => {
                    first_refusal.get_or_insert(error);
                }
            }
        }
        match first_refusal {
            Some(error) if allowed.is_empty() => {
                Err(ForbiddenTarget { host: host.to_string(), reason: error.to_string() })
            }
            _ => Ok(allowed),
        }
    }
}

/// For creation and patches: why the name of `url` is refused by what it resolves to now (every address
/// forbidden by the policy), or `None` when it may be tried (an allowed address, a literal address, which
/// [`crate::domain::webhook::check_target_url`] judges, or a name that does not resolve yet). Delivery
/// checks again, as the resolver of every connection.
pub async fn refused_by_dns(url: &url::Url, allow_private: bool) -> Option<ForbiddenTarget> {
    let Some(url::Host::Domain(name)) = url.host() else { return None };
    // A slow resolver must not hold up the request (a client gives up after seconds): a name that is not
    // resolved in time counts as not resolving yet, and every delivery checks again.
    let lookup = PolicyResolver { allow_private }.lookup(name);
    let error = tokio::time::timeout(CREATION_LOOKUP_LIMIT, lookup).await.ok()?.err()?;
    error.downcast::<ForbiddenTarget>().ok().map(|refused| *refused)
}

/// How long the check at creation waits for DNS.
const CREATION_LOOKUP_LIMIT: Duration = Duration::from_secs(2);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = *self;
        Box::pin(async move {
            let allowed = resolver.lookup(name.as_str()).await?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Latency buckets, seconds: a receiver on the same network to the 10 s limit.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The sender's metrics; labels are the outcome only (never the URL or the subscription: bounded series).
struct DeliveryMetrics {
    attempts: Family<OutcomeLabels, Counter>,
    durations: Family<OutcomeLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
}

impl Default for DeliveryMetrics {
    fn default() -> Self {
        let metrics = DeliveryMetrics {
            attempts: Family::default(),
            durations: Family::new_with_constructor(histogram as fn() -> Histogram),
            in_flight: Gauge::default(),
        };
        // Every series from the start, so a rate of failures is 0 rather than absent.
        for outcome in ["delivered", "failed", "refused"] {
            drop(metrics.attempts.get_or_create(&OutcomeLabels { outcome }));
        }
        metrics
    }
}

impl DeliveryMetrics {
    fn record(&self, outcome: &Outcome) {
        let labels = OutcomeLabels { outcome: outcome.label() };
        self.attempts.get_or_create(&labels).inc();
        match outcome {
            Outcome::Delivered { latency, .. } | Outcome::Failed { latency, .. } => {
                self.durations.get_or_create(&labels).observe(latency.as_secs_f64());
            }
            Outcome::Refused { .. } => {}
        }
    }
}

/// The production base of the back-off: the first retry comes about 5 s after the first failure.
pub const RETRY_BASE: Duration = Duration::from_secs(5);

/// The nominal waits after the 1st, 2nd, … failure, in units of the base: 5 s, 30 s, 2 min, 10 min,
/// 30 min, 1 h, 2 h, 4 h, 8 h, 8 h (about 23.7 h in all at a 5 s base). After the last, the delivery is
/// given up: 11 attempts.
const SCHEDULE: [u32; 10] = [1, 6, 24, 120, 360, 720, 1440, 2880, 5760, 5760];

/// How many attempts a delivery gets at most.
pub const MAX_ATTEMPTS: u32 = SCHEDULE.len() as u32 + 1;

/// The jitter: each wait is its nominal value times a factor in `[1 - JITTER, 1 + JITTER)`. Receivers that
/// come back after an outage are not hit by every retry at once, and the whole schedule still spans about
/// a day (full jitter, a factor in `[0, 1)`, could shrink a day's schedule to minutes).
const JITTER: f64 = 0.25;

/// The wait before the next attempt after `failed_attempts` failed ones (1 after the first), with
/// jitter from `rng_unit` in `[0, 1)`; `None` when the delivery should be given up and marked failed.
pub fn retry_delay(failed_attempts: u32, rng_unit: f64) -> Option<Duration> {
    retry_delay_with_base(RETRY_BASE, failed_attempts, rng_unit)
}

/// [`retry_delay`] with another base, the first nominal wait (tests use milliseconds, as
/// `RBN_WEBHOOK_RETRY_BASE_MS` sets it); the whole schedule scales with it.
pub fn retry_delay_with_base(base: Duration, failed_attempts: u32, rng_unit: f64) -> Option<Duration> {
    let index = usize::try_from(failed_attempts.checked_sub(1)?).ok()?;
    let units = *SCHEDULE.get(index)?;
    let unit = if rng_unit.is_finite() { rng_unit.clamp(0.0, 1.0) } else { 0.5 };
    let factor = 1.0 - JITTER + 2.0 * JITTER * unit;
    Some((base * units).mul_f64(factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(d: Duration) -> f64 {
        d.as_secs_f64() / 3600.0
    }

    #[test]
    fn the_schedule_spans_about_a_day_and_then_gives_up() {
        let total = |unit: f64| (1..MAX_ATTEMPTS).map(|n| retry_delay(n, unit).unwrap()).sum::<Duration>();
        let nominal = total(0.5);
        assert!((23.0..24.5).contains(&hours(nominal)), "{nominal:?}");
        assert!(hours(total(0.0)) > 17.0, "{:?}", total(0.0));
        assert!(hours(total(1.0)) < 30.0, "{:?}", total(1.0));
        assert_eq!(retry_delay(0, 0.5), None, "no failure, no retry");
        assert_eq!(retry_delay(MAX_ATTEMPTS, 0.5), None);
        assert_eq!(retry_delay(u32::MAX, 0.5), None);
        assert_eq!(MAX_ATTEMPTS, 11);
        // It grows: 5 s, 30 s, 2 min, … 8 h.
        assert_eq!(retry_delay(1, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(2, 0.5), Some(Duration::from_secs(30)));
        assert_eq!(retry_delay(4, 0.5), Some(Duration::from_secs(600)));
        assert_eq!(retry_delay(10, 0.5), Some(Duration::from_secs(8 * 3600)));
        for n in 1..MAX_ATTEMPTS - 2 {
            assert!(retry_delay(n + 1, 0.0).unwrap() > retry_delay(n, 0.999).unwrap(), "{n}");
        }
    }

    #[test]
    fn jitter_stays_within_a_quarter_of_the_nominal_wait() {
        for n in 1..MAX_ATTEMPTS {
            let nominal = retry_delay(n, 0.5).unwrap().as_secs_f64();
            for unit in [0.0, 0.1, 0.37, 0.5, 0.9, 0.999_999, 1.0, -3.0, 7.0, f64::NAN, f64::INFINITY] {
                let wait = retry_delay(n, unit).unwrap().as_secs_f64();
                assert!(wait >= nominal * 0.75 - 1e-9 && wait <= nominal * 1.25 + 1e-9, "{n} {unit}: {wait}");
            }
            assert!(retry_delay(n, 0.0).unwrap() < retry_delay(n, 0.99).unwrap());
        }
    }

    #[test]
    fn the_base_scales_the_schedule_for_tests() {
        let base = Duration::from_millis(10);
        assert_eq!(retry_delay_with_base(base, 1, 0.5), Some(Duration::from_millis(10)));
        assert_eq!(retry_delay_with_base(base, 3, 0.5), Some(Duration::from_millis(240)));
        assert_eq!(retry_delay_with_base(base, MAX_ATTEMPTS, 0.5), None);
    }

    #[actix_web::test]
    async fn the_resolver_drops_forbidden_addresses() {
        let strict = PolicyResolver { allow_private: false };
        let error = strict.lookup("localhost").await.unwrap_err();
        assert!(error.downcast_ref::<ForbiddenTarget>().is_some(), "{error}");
        assert!(error.to_string().contains("localhost"), "{error}");
        let lenient = PolicyResolver { allow_private: true };
        let addrs = lenient.lookup("localhost").await.unwrap();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        // The metadata address stays forbidden with private targets allowed.
        let error = lenient.lookup("169.254.169.254").await.unwrap_err();
        assert!(error.downcast_ref::<ForbiddenTarget>().is_some(), "{error}");
    }

    #[test]
    fn a_name_with_public_and_private_addresses_is_reached_only_on_the_public_ones() {
        let addrs = |list: &[&str]| list.iter().map(|ip| SocketAddr::new(ip.parse().unwrap(), 0)).collect::<Vec<_>>();
        let mixed = addrs(&["10.0.0.7", "93.184.216.34", "169.254.169.254", "2a00:1450:4001:82b::200e", "::1"]);
        let strict = PolicyResolver { allow_private: false };
        assert_eq!(strict.filter("h", mixed.clone()).unwrap(), addrs(&["93.184.216.34", "2a00:1450:4001:82b::200e"]));
        let lenient = PolicyResolver { allow_private: true };
        let reached = addrs(&["10.0.0.7", "93.184.216.34", "2a00:1450:4001:82b::200e", "::1"]);
        assert_eq!(lenient.filter("h", mixed).unwrap(), reached);
        let error = strict.filter("h", addrs(&["192.168.1.1", "::ffff:169.254.169.254"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "h resolves to no address that may receive webhooks (must not point to 192.168.1.1: only public addresses receive webhooks)"
        );
        assert!(lenient.filter("h", addrs(&["169.254.169.254", "fd00:ec2::254"])).is_err());
    }

    #[actix_web::test]
    async fn one_subscription_gets_its_own_limit_and_the_map_empties() {
        let sender =
            Sender::new(SenderConfig { max_in_flight_per_subscription: 2, ..SenderConfig::new(true) }).unwrap();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = sender.slot(a).await;
        let second = sender.slot(a).await;
        // A third for `a` waits; one for `b` does not.
        let third = tokio::time::timeout(Duration::from_millis(50), sender.slot(a)).await;
        assert!(third.is_err(), "a third slot of one subscription must wait");
        let other = tokio::time::timeout(Duration::from_millis(50), sender.slot(b)).await;
        assert!(other.is_ok(), "another subscription must not wait");
        drop(other);
        drop(first);
        let third = tokio::time::timeout(Duration::from_millis(50), sender.slot(a)).await.unwrap();
        drop((second, third));
        assert!(sender.limits.lock().is_empty(), "semaphores of idle subscriptions are dropped");
    }
}
