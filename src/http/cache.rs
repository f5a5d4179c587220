//! The read cache: anonymous GET responses, reused while the registry has not changed.
//!
//! Websites ask for the same few resources on every page view. Each cached answer carries the registry's
//! data version (the number of committed write transactions, see `Db::data_version`); it is served only
//! while that version is still current. Every read that arrives after a write was acknowledged sees it,
//! on every instance, without a query per read: a check of the version is trusted for a little less than
//! [`COMMIT_WAIT`] after it was sent, and every write waits that long after its commit before it returns,
//! so such a read only trusts checks sent after the write committed. [`Freshness`] keeps a recent check
//! at hand: readers wait for a query only when the last one is too old to trust.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use bytes::Bytes;
use tokio::sync::watch;

use super::conditional::none_match_hits;
use super::state::AppState;
use crate::storage::{COMMIT_WAIT, Db};

/// How many answers the cache holds at most, whatever their size.
const MAX_ENTRIES: usize = 4096;

/// The largest share of the byte budget one answer may take: a few huge answers (a full export, the
/// change feed from the beginning) must not push out the pages websites ask for all the time.
const MAX_ENTRY_SHARE: usize = 8;

/// How long after it was sent a version check is trusted: less than the writers' [`COMMIT_WAIT`], with
/// room for clocks of different machines that run at slightly different rates.
const TRUSTED_FOR: Duration = Duration::from_micros(COMMIT_WAIT.as_micros() as u64 * 9 / 10);
// A check sent after a reader arrived has age zero; with nothing trusted at all, readers would wait forever.
const _: () = assert!(!TRUSTED_FOR.is_zero());

/// The data version a check found, and on which of the poller's connections.
///
/// A database that crashed comes back with its last durable state, which on PostgreSQL can lack the
/// last commits that were visible (see `storage::durable_postgres_transaction`): the counter may then
/// give a number again for another state. A crash ends every connection, the poller's too, so answers
/// cached before the poller had to reconnect are never taken for current afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct DataVersion {
    connection: u64,
    writes: i64,
}

/// One cached answer.
struct Entry {
    version: DataVersion,
    etag: String,
    headers: HeaderMap,
    body: Bytes,
    /// When it was last used, in [`ReadCache::clock`] ticks: the least recently used go first.
    used: AtomicU64,
    /// The route pattern the answer came from: a hit is answered before routing (see [`RoutePattern`]).
    route: Option<RoutePattern>,
}

/// The route pattern of a request answered from the cache, for the metrics and the log line.
#[derive(Debug, Clone)]
pub struct RoutePattern(pub String);

impl Entry {
    /// What the entry costs, roughly: its body, headers and key.
    fn size(&self, key: &str) -> usize {
        let headers: usize = self.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 16).sum();
        self.body.len() + headers + key.len() + self.etag.len() + 128
    }
}

/// One query of the data version: when it was sent and what it found (`None`: the database did not
/// answer).
#[derive(Clone, Copy)]
struct Check {
    sent: Instant,
    version: Option<DataVersion>,
}

/// Keeps a trusted check of the data version at hand for all readers.
pub struct Freshness {
    /// The latest check, `None` before the first.
    latest: watch::Sender<Option<Check>>,
    /// A reader asked for a new check since the poller last started one.
    wanted: AtomicBool,
    poller: Thread,
}

impl Freshness {
    /// Starts the poller thread, which queries only when readers ask.
    pub fn start(db: Db) -> Arc<Freshness> {
        let (latest, _) = watch::channel(None);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Arc<Freshness>>();
        let handle = std::thread::Builder::new()
            .name("rbn-freshness".into())
            .spawn(move || {
                let Ok(freshness) = ready_rx.recv() else { return };
                // A connection of its own: no pool round trip per check, and never starved by busy readers.
                let mut conn = None;
                let mut connection = 0;
                loop {
                    if !freshness.wanted.swap(false, Ordering::AcqRel) {
                        std::thread::park();
                        // Stop when the service is gone (only the poller holds the state then).
                        if Arc::strong_count(&freshness) == 1 {
                            return;
                        }
                        continue;
                    }
                    let sent = Instant::now();
                    if conn.is_none() {
                        conn = db.dedicated_connection().ok();
                        connection += 1;
                    }
                    let version = conn.as_mut().and_then(|c| crate::storage::data_version(c).ok());
                    let version = version.map(|writes| DataVersion { connection, writes });
                    if version.is_none() {
                        conn = None; // reconnect next time: the database may have restarted
                    }
                    freshness.latest.send_replace(Some(Check { sent, version }));
                }
            })
            .expect("start the freshness thread");
        let freshness = Arc::new(Freshness { latest, wanted: AtomicBool::new(false), poller: handle.thread().clone() });
        let _ = ready_tx.send(freshness.clone());
        freshness
    }

    /// The data version as of a moment after every write acknowledged before this call; `None` when the
    /// database does not answer.
    async fn current(&self) -> Option<DataVersion> {
        let arrived = Instant::now();
        if let Some(version) = self.trusted(*self.latest.borrow(), arrived) {
            return version;
        }
        let mut receiver = self.latest.subscribe();
        self.ask();
        loop {
            if let Some(version) = self.trusted(*receiver.borrow_and_update(), arrived) {
                return version;
            }
            if receiver.changed().await.is_err() {
                return None;
            }
        }
    }

    /// What `check` says to a reader that arrived at `arrived`, if it is recent enough to be trusted.
    fn trusted(&self, check: Option<Check>, arrived: Instant) -> Option<Option<DataVersion>> {
        let check = check?;
        let age = arrived.saturating_duration_since(check.sent);
        if age >= TRUSTED_FOR {
            return None;
        }
        // Ask for the next check before this one expires, so that readers under load never wait.
        if age >= TRUSTED_FOR / 2 {
            self.ask();
        }
        Some(check.version)
    }

    /// Wakes the poller, unless someone already asked since its last query.
    fn ask(&self) {
        // A plain load first: readers under load ask often, and a shared write on each would be contended.
        if !self.wanted.load(Ordering::Acquire) && !self.wanted.swap(true, Ordering::AcqRel) {
            self.poller.unpark();
        }
    }
}

impl Drop for Freshness {
    fn drop(&mut self) {
        self.poller.unpark();
    }
}

/// The cached answers, by path and query, within a byte budget (`RBN_READ_CACHE_BYTES`): requests that
/// differ only in their query could otherwise pin any amount of memory.
pub struct ReadCache {
    entries: RwLock<Entries>,
    budget: usize,
    /// Ticks once per use of an entry.
    clock: AtomicU64,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<String, Arc<Entry>>,
    bytes: usize,
}

impl ReadCache {
    pub fn new(budget: usize) -> ReadCache {
        ReadCache { entries: RwLock::default(), budget, clock: AtomicU64::new(0) }
    }

    /// How many answers the cache holds, and their bytes (for `/metrics`).
    pub fn usage(&self) -> (usize, usize) {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        (entries.by_key.len(), entries.bytes)
    }

    fn get(&self, key: &str, version: DataVersion) -> Option<Arc<Entry>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.by_key.get(key).filter(|entry| entry.version == version)?;
        entry.used.store(self.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        Some(entry.clone())
    }

    fn put(&self, key: String, entry: Entry) {
        let size = entry.size(&key);
        if size > self.budget / MAX_ENTRY_SHARE {
            return;
        }
        entry.used.store(self.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = entries.by_key.remove(&key) {
            entries.bytes -= old.size(&key);
        }
        if entries.bytes + size > self.budget || entries.by_key.len() >= MAX_ENTRIES {
            entries.evict(entry.version, self.budget - size);
        }
        entries.bytes += size;
        entries.by_key.insert(key, Arc::new(entry));
    }
}

impl Entries {
    /// Makes room: drops the answers of older versions (they are never served again), then the least
    /// recently used down to three quarters of `room`, so that the next puts need no eviction.
    fn evict(&mut self, version: DataVersion, room: usize) {
        self.by_key.retain(|_, entry| entry.version == version);
        self.bytes = self.by_key.iter().map(|(key, entry)| entry.size(key)).sum();
        let (target, max_entries) = (room / 4 * 3, MAX_ENTRIES / 4 * 3);
        if self.bytes <= target && self.by_key.len() < max_entries {
            return;
        }
        let mut by_use: Vec<(u64, String, usize)> =
            self.by_key.iter().map(|(key, e)| (e.used.load(Ordering::Relaxed), key.clone(), e.size(key))).collect();
        by_use.sort_unstable();
        for (_, key, size) in by_use {
            if self.bytes <= target && self.by_key.len() < max_entries {
                break;
            }
            self.by_key.remove(&key);
            self.bytes -= size;
        }
    }
}

/// Headers that belong to one exchange, not to the cached answer.
fn reusable(name: &header::HeaderName) -> bool {
    !matches!(name.as_str(), "x-request-id" | "date" | "content-length")
}

fn cacheable(req: &ServiceRequest) -> bool {
    req.method() == Method::GET
        && (req.path().starts_with("/v1") || super::pages::is_page(req.path()))
        && !req.headers().contains_key(header::AUTHORIZATION)
        && !req.headers().contains_key(header::IF_MODIFIED_SINCE)
}

/// The `If-None-Match` of a request, all its header lines in one list.
fn if_none_match(headers: &HeaderMap) -> Option<String> {
    let tags: Vec<&str> = headers.get_all(header::IF_NONE_MATCH).filter_map(|v| v.to_str().ok()).collect();
    (!tags.is_empty()).then(|| tags.join(", "))
}

impl Entry {
    /// The cached answer to a request, `304 Not Modified` when its `If-None-Match` holds the ETag.
    fn answer(&self, if_none_match: Option<&str>) -> HttpResponse {
        let not_modified = if_none_match.is_some_and(|tags| none_match_hits(tags, &self.etag));
        let mut response = if not_modified {
            HttpResponse::build(StatusCode::NOT_MODIFIED).finish()
        } else {
            HttpResponse::Ok().body(self.body.clone())
        };
        for (name, value) in self.headers.iter() {
            if !(not_modified && *name == header::CONTENT_TYPE) {
                response.headers_mut().append(name.clone(), value.clone());
            }
        }
        response
    }
}

/// The middleware: answers from the cache while the registry is unchanged, and fills it otherwise.
pub async fn serve(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let Some(state) = state.filter(|s| s.read_cache.is_some() && cacheable(&req)) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let (cache, freshness) = state.read_cache.as_ref().expect("checked above");
    let version = freshness.current().await;
    let revalidating = if_none_match(req.headers());
    let key = req.uri().path_and_query().map_or(req.path(), |pq| pq.as_str());
    if let Some(version) = version
        && let Some(entry) = cache.get(key, version)
    {
        state.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
        let response = entry.answer(revalidating.as_deref());
        if let Some(route) = &entry.route {
            req.extensions_mut().insert(route.clone());
        }
        return Ok(req.into_response(response));
    }
    let key = key.to_string();
    // The handler renders the whole answer, so that it can be cached even when a client revalidates;
    // the revalidation is answered here.
    req.headers_mut().remove(header::IF_NONE_MATCH);
    let response = next.call(req).await?.map_into_boxed_body();
    let etag = response.headers().get(header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (Some(etag), StatusCode::OK) = (etag, response.status()) else { return Ok(response) };
    let route = response.request().match_pattern().map(RoutePattern);
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let Ok(body) = to_bytes(body).await else {
        return Ok(ServiceResponse::new(request, head.set_body(BoxBody::new(Bytes::new()))));
    };
    let mut headers = HeaderMap::new();
    for (name, value) in head.headers().iter().filter(|(name, _)| reusable(name)) {
        headers.append(name.clone(), value.clone());
    }
    // Without a version (the database did not answer) the answer is not kept.
    let entry = Entry { version: version.unwrap_or_default(), etag, headers, body, used: AtomicU64::new(0), route };
    let response = entry.answer(revalidating.as_deref());
    if version.is_some() {
        cache.put(key, entry);
    }
    Ok(ServiceResponse::new(request, response))
}
