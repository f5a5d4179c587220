//! `/metrics`: Prometheus text (version 0.0.4) from `prometheus-client`.
//!
//! - `rbn_http_requests_total{method,route,status}`: answers by route pattern (`/v1/networks/{id}`, never
//!   the raw path, so the series stay few) and status;
//! - `rbn_http_request_duration_seconds{method,route}`: a latency histogram per route;
//! - `rbn_http_requests_in_flight`;
//! - `rbn_db_pool_*`: the pool's size, open and idle connections, checkouts, waits and time-outs;
//! - `rbn_read_cache_*`: entries, bytes and hits of the read cache;
//! - `rbn_http_compressions_total{encoding,mode}`: bodies compressed, for the read cache (once per cached
//!   answer and coding) or on the fly;
//! - `rbn_webhook_queue_length`, `rbn_webhook_oldest_undelivered_age_seconds`: webhook events waiting;
//! - `process_resident_memory_bytes` (from `/proc/self/statm`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::http::Method;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::encoding::{Coding, Effort};
use crate::storage::PoolStats;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The route label of a request that matched no route (404s of unknown paths).
pub const UNMATCHED: &str = "(unmatched)";

/// The route of a request that was cut off by the time-out or failed in a middleware: the request, and
/// with it the route it matched, went with its future.
pub const UNKNOWN_ROUTE: &str = "(unknown)";

/// Latency buckets, seconds: from half a millisecond (a cached read) to the request time-out's range.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CompressionLabels {
    encoding: &'static str,
    mode: &'static str,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The process's metrics; counters that other modules bump directly are plain atomics.
pub struct Metrics {
    /// Anonymous reads answered from the read cache.
    pub cache_hits: AtomicU64,
    /// Requests being answered now.
    pub in_flight: AtomicU64,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily,
    compressions: Family<CompressionLabels, Counter>,
}

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            cache_hits: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            requests: Family::default(),
            durations: Family::new_with_constructor(histogram as fn() -> Histogram),
            compressions: Family::default(),
        }
    }
}

impl Metrics {
    /// Counts an answered request of `route` (its pattern, or [`UNMATCHED`]).
    pub fn record(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        // Any token is a method to HTTP: unknown ones share one label, or each would add series forever.
        let known =
            [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS];
        let method = if known.contains(method) { method.as_str() } else { "OTHER" }.to_string();
        let route = route.to_string();
        let labels = RouteLabels { method, route };
        self.durations.get_or_create(&labels).observe(elapsed.as_secs_f64());
        let labels = RequestLabels { method: labels.method, route: labels.route, status };
        self.requests.get_or_create(&labels).inc();
    }
}

impl Metrics {
    /// Counts a body compressed in `coding`.
    pub fn count_compression(&self, coding: Coding, effort: Effort) {
        let mode = match effort {
            Effort::Cached => "cached",
            Effort::OnTheFly => "on_the_fly",
        };
        self.compressions.get_or_create(&CompressionLabels { encoding: coding.token(), mode }).inc();
    }
}

/// What is read at each scrape: the pool, the read cache, the process.
#[derive(Debug)]
struct Snapshot {
    in_flight: u64,
    cache_hits: u64,
    cache: Option<(usize, usize)>,
    pool: PoolStats,
    resident_bytes: Option<u64>,
    /// Webhook events not yet delivered, and the age of the oldest in seconds.
    webhook_queue: (i64, f64),
}

/// `gauge` and `counter`: a constant metric of the value, described and encoded.
macro_rules! constant_metric {
    ($name:ident, $value:path, $metric:ident) => {
        fn $name<N: $value + std::fmt::Debug>(
            encoder: &mut DescriptorEncoder,
            name: &str,
            help: &str,
            unit: Option<&Unit>,
            value: N,
        ) -> Result<(), std::fmt::Error> {
            let metric = $metric::new(value);
            metric.encode(encoder.encode_descriptor(name, help, unit, metric.metric_type())?)
        }
    };
}
constant_metric!(gauge, prometheus_client::encoding::EncodeGaugeValue, ConstGauge);
constant_metric!(counter, prometheus_client::encoding::EncodeCounterValue, ConstCounter);

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        gauge(&mut e, "rbn_http_requests_in_flight", "Requests being answered now.", None, self.in_flight)?;
        counter(&mut e, "rbn_read_cache_hits", "Anonymous reads answered from the read cache.", None, self.cache_hits)?;
        let (entries, bytes) = self.cache.unwrap_or_default();
        gauge(&mut e, "rbn_read_cache_entries", "Answers the read cache holds (0 when it is off).", None, entries)?;
        gauge(&mut e, "rbn_read_cache", "Bytes of the answers the read cache holds.", Some(&Unit::Bytes), bytes)?;
        let pool = &self.pool;
        gauge(&mut e, "rbn_db_pool_max_connections", "Most connections the database pool opens.", None, pool.max_size)?;
        gauge(&mut e, "rbn_db_pool_connections", "Connections the database pool holds open.", None, pool.connections)?;
        gauge(&mut e, "rbn_db_pool_idle_connections", "Open connections nobody uses now.", None, pool.idle)?;
        counter(&mut e, "rbn_db_pool_checkouts", "Connections taken from the pool.", None, pool.checkouts)?;
        counter(&mut e, "rbn_db_pool_waits", "Checkouts that waited 1 ms or more for a connection.", None, pool.waits)?;
        counter(
            &mut e,
            "rbn_db_pool_wait",
            "Time checkouts waited for a connection.",
            Some(&Unit::Seconds),
            pool.wait_seconds,
        )?;
        counter(
            &mut e,
            "rbn_db_pool_timeouts",
            "Checkouts that got no connection in time (503).",
            None,
            pool.timeouts,
        )?;
        let (queued, oldest) = self.webhook_queue;
        gauge(&mut e, "rbn_webhook_queue_length", "Webhook events not yet delivered or given up.", None, queued)?;
        gauge(
            &mut e,
            "rbn_webhook_oldest_undelivered_age",
            "Age of the oldest webhook event not yet delivered (0 when none waits).",
            Some(&Unit::Seconds),
            oldest,
        )?;
        if let Some(bytes) = self.resident_bytes {
            gauge(&mut e, "process_resident_memory", "Resident memory of the process.", Some(&Unit::Bytes), bytes)?;
        }
        Ok(())
    }
}

/// The resident set size, from `/proc/self/statm` (Linux; `None` elsewhere).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the system.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size).ok().filter(|&size| size > 0).unwrap_or(4096))
}

/// The exposition of everything above: these metrics, the read cache's `(entries, bytes)` if there is
/// one, the database pool's statistics, the webhook queue's `(length, age of the oldest in seconds)` and
/// the webhook sender's delivery metrics.
pub fn render(
    metrics: &Metrics,
    cache: Option<(usize, usize)>,
    pool: PoolStats,
    webhook_queue: (i64, f64),
    webhook_sender: Option<&super::webhooks::sender::Sender>,
) -> String {
    let mut registry = Registry::default();
    registry.register(
        "rbn_http_requests",
        "HTTP requests answered, by method, route pattern and status",
        metrics.requests.clone(),
    );
    registry.register_with_unit(
        "rbn_http_request_duration",
        "Time to answer a request, by method and route pattern",
        Unit::Seconds,
        metrics.durations.clone(),
    );
    registry.register(
        "rbn_http_compressions",
        "Bodies compressed, by content coding and mode: cached (once per answer of the read cache and coding) or on_the_fly",
        metrics.compressions.clone(),
    );
    registry.register_collector(Box::new(Snapshot {
        in_flight: metrics.in_flight.load(Ordering::Relaxed),
        cache_hits: metrics.cache_hits.load(Ordering::Relaxed),
        cache,
        pool,
        resident_bytes: resident_bytes(),
        webhook_queue,
    }));
    if let Some(sender) = webhook_sender {
        sender.register_metrics(&mut registry);
    }
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
    text
}
