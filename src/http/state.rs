//! What every handler shares: the database, the settings and the process-local counters.

use std::collections::HashMap;
use std::net::IpAddr;
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
        }
    }
}

pub struct AppState {
    pub db: Db,
    pub read_cache: Option<(ReadCache, Arc<Freshness>)>,
    pub config: HttpConfig,
    pub metrics: Metrics,
    pub auth_failures: AuthFailures,
}

impl AppState {
    pub fn new(db: Db, config: HttpConfig) -> Self {
        let auth_failures = AuthFailures { limit: config.auth_failure_limit, ..AuthFailures::default() };
        let read_cache = config.read_cache.then(|| (ReadCache::default(), Freshness::start(db.clone())));
        AppState { db, read_cache, config, metrics: Metrics::default(), auth_failures }
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
