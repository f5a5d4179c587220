//! What every handler shares: the database, the settings and the process-local counters.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cache::{Freshness, ReadCache};
pub use super::metrics::Metrics;
use crate::storage::Db;

/// HTTP settings (from the environment, see `config`).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `max-age` of anonymous reads, in seconds.
    pub cache_max_age: u64,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Longest a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// Failed authentications per client and minute before it is answered with 429.
    pub auth_failure_limit: u32,
    /// Reuse anonymous answers while the registry is unchanged (see `cache`).
    pub read_cache: bool,
    /// The most bytes of answers the read cache holds (`RBN_READ_CACHE_BYTES`).
    pub read_cache_bytes: usize,
    /// The service's public base URL, for the pages' canonical links and Open Graph tags.
    pub public_url: String,
    /// How webhooks are delivered (`RBN_WEBHOOK_*`).
    pub webhooks: WebhookConfig,
}

/// Webhook settings (see `http::webhooks`).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `RBN_WEBHOOK_ALLOW_PRIVATE`: loopback and private targets, and plain `http`.
    pub allow_private: bool,
    /// `RBN_WEBHOOK_RETRY_BASE_MS`: the base of the retries' back-off.
    pub retry_base: Duration,
    /// `RBN_WEBHOOK_DISABLE_AFTER`: how long every attempt may fail before the subscription is deactivated.
    pub disable_after: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        use crate::config::defaults;
        WebhookConfig {
            allow_private: defaults::WEBHOOK_ALLOW_PRIVATE,
            retry_base: Duration::from_millis(defaults::WEBHOOK_RETRY_BASE_MS),
            disable_after: Duration::from_secs(defaults::WEBHOOK_DISABLE_AFTER_SECONDS),
        }
    }
}

impl Default for HttpConfig {
    /// The defaults of `config::defaults` (the service's, also without the environment).
    fn default() -> Self {
        use crate::config::defaults;
        HttpConfig {
            cache_max_age: defaults::CACHE_MAX_AGE,
            body_limit: defaults::BODY_LIMIT,
            request_timeout: Duration::from_secs(defaults::REQUEST_TIMEOUT_SECONDS),
            auth_failure_limit: defaults::AUTH_FAILURE_LIMIT,
            read_cache: defaults::READ_CACHE,
            read_cache_bytes: defaults::READ_CACHE_BYTES,
            public_url: format!("http://{}", defaults::LISTEN),
            webhooks: WebhookConfig::default(),
        }
    }
}

/// How many full exports one process streams at once; each reads on a database connection of its own.
pub const CONCURRENT_EXPORTS: usize = 4;

/// The shared state as handlers take it.
pub type State = actix_web::web::Data<AppState>;

pub struct AppState {
    pub db: Db,
    pub shutdown: Arc<Shutdown>,
    pub read_cache: Option<(ReadCache, Arc<Freshness>)>,
    pub config: HttpConfig,
    pub metrics: Metrics,
    pub auth_failures: AuthFailures,
    /// Streamed exports in progress (at most [`CONCURRENT_EXPORTS`]).
    pub exports: Arc<tokio::sync::Semaphore>,
    /// The webhook worker's queue, as `/metrics` shows it.
    pub webhooks: Arc<super::webhooks::worker::QueueGauge>,
    /// The worker's sender, for its delivery metrics (set when the server starts the worker).
    pub webhook_sender: Option<super::webhooks::sender::Sender>,
}

impl AppState {
    pub fn new(db: Db, config: HttpConfig) -> Self {
        let auth_failures = AuthFailures { limit: config.auth_failure_limit, ..AuthFailures::default() };
        let read_cache =
            config.read_cache.then(|| (ReadCache::new(config.read_cache_bytes), Freshness::start(db.clone())));
        let exports = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_EXPORTS));
        AppState {
            db,
            shutdown: Arc::default(),
            read_cache,
            config,
            metrics: Metrics::default(),
            auth_failures,
            exports,
            webhooks: Arc::default(),
            webhook_sender: None,
        }
    }
}

/// Whether the server is draining before it stops, and how many connections are open (see
/// `http::drain_on_signals`).
#[derive(Debug, Default)]
pub struct Shutdown {
    draining: std::sync::atomic::AtomicBool,
    connections: Arc<AtomicU64>,
}

impl Shutdown {
    pub fn begin(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn open_connections(&self) -> u64 {
        self.connections.load(Ordering::Acquire)
    }

    /// Counts a connection while it is open: kept in the connection's data, which goes with it.
    pub fn connection(&self) -> OpenConnection {
        self.connections.fetch_add(1, Ordering::AcqRel);
        OpenConnection(self.connections.clone())
    }
}

/// One open connection (see [`Shutdown::connection`]).
pub struct OpenConnection(Arc<AtomicU64>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Failed authentications per client address: after too many in a minute the client gets 429.
#[derive(Default)]
pub struct AuthFailures {
    by_client: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    limit: u32,
}

pub const AUTH_FAILURE_WINDOW: Duration = Duration::from_secs(60);

impl AuthFailures {
    /// Seconds the client must wait, when it has failed too often.
    pub fn blocked_for(&self, client: IpAddr) -> Option<u64> {
        let map = self.by_client.lock().unwrap_or_else(|e| e.into_inner());
        let (count, since) = map.get(&client)?;
        let elapsed = since.elapsed();
        (*count >= self.limit && elapsed < AUTH_FAILURE_WINDOW)
            .then(|| (AUTH_FAILURE_WINDOW - elapsed).as_secs().max(1))
    }

    pub fn record_failure(&self, client: IpAddr) {
        let mut map = self.by_client.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (_, since)| since.elapsed() < AUTH_FAILURE_WINDOW);
        }
        let entry = map.entry(client).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= AUTH_FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}
