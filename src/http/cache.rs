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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use tokio::sync::{OnceCell, watch};

use super::encoding::{Coding, Effort, compress};
use super::metrics::Metrics;
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
pub(crate) struct DataVersion {
    connection: u64,
    writes: i64,
}

/// Bodies up to this size are compressed for the cache on the async worker (about a millisecond at the
/// cached levels); larger ones on a blocking thread (brotli 9 takes 37 ms for the dataset export).
const COMPRESS_INLINE: usize = 16 * 1024;

/// One cached answer.
pub(crate) struct Entry {
    key: String,
    version: DataVersion,
    headers: HeaderMap,
    body: Bytes,
    /// The body in each content coding (by [`Coding::index`]), made when a client first asks for it;
    /// `None` if the compressor failed.
    encoded: [OnceCell<Option<Bytes>>; 3],
    /// The bytes the cache counts for the entry: its size when it was put, and since then its encoded
    /// bodies. Changed only under the cache's write lock, so that adding and removing agree.
    counted: AtomicUsize,
    /// When it was last used, in [`ReadCache::clock`] ticks: the least recently used go first.
    used: AtomicU64,
    /// The route pattern the answer came from: a hit is answered before routing (see [`RoutePattern`]).
    pub(crate) route: Option<RoutePattern>,
}

/// The route pattern of a request answered from the cache, for the metrics and the log line.
#[derive(Debug, Clone)]
pub struct RoutePattern(pub String);

impl Entry {
    /// An answer to keep: `headers` are those a later request may reuse (see [`reusable_headers`]).
    pub(crate) fn new(
        key: String,
        version: DataVersion,
        headers: HeaderMap,
        body: Bytes,
        route: Option<RoutePattern>,
    ) -> Entry {
        Entry {
            key,
            version,
            headers,
            body,
            encoded: Default::default(),
            counted: AtomicUsize::new(0),
            used: AtomicU64::new(0),
            route,
        }
    }

    /// What the entry costs, roughly: its bodies, headers and key.
    fn size(&self) -> usize {
        let headers: usize = self.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 16).sum();
        let encoded: usize = self.encoded.iter().filter_map(|cell| cell.get()?.as_ref().map(Bytes::len)).sum();
        self.body.len() + encoded + headers + self.key.len() + 128
    }
}

/// A response from the cache (in its extensions): `encoding::serve` takes its encoded bodies from here.
#[derive(Clone)]
pub struct Cached(Arc<Entry>);

impl Cached {
    /// The body in `coding`: compressed once per entry and coding (concurrent readers wait for that one),
    /// then copied; `None` if the compressor failed.
    /// `cache` is the read cache that holds the entry, which recounts its size.
    pub async fn encoded(
        &self,
        coding: Coding,
        metrics: &Metrics,
        cache: Option<&(ReadCache, Arc<Freshness>)>,
    ) -> Option<Bytes> {
        let entry = &self.0;
        let cell = &entry.encoded[coding.index()];
        let made_here = std::cell::Cell::new(false);
        let encoded = cell
            .get_or_init(|| async {
                made_here.set(true);
                let body = entry.body.clone();
                let encoded = if body.len() <= COMPRESS_INLINE {
                    compress(coding, Effort::Cached, &body).ok()
                } else {
                    web::block(move || compress(coding, Effort::Cached, &body)).await.ok().and_then(Result::ok)
                };
                if encoded.is_some() {
                    metrics.count_compression(coding, Effort::Cached);
                }
                encoded
            })
            .await
            .clone();
        if made_here.get()
            && let Some((cache, _)) = cache
        {
            cache.recount(entry);
        }
        encoded
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
    pub(crate) async fn current(&self) -> Option<DataVersion> {
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

    pub(crate) fn get(&self, key: &str, version: DataVersion) -> Option<Arc<Entry>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.by_key.get(key).filter(|entry| entry.version == version)?;
        entry.used.store(self.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        Some(entry.clone())
    }

    /// Keeps `entry`, unless it is too large; whether it was kept.
    /// The largest answer one entry may hold.
    pub(crate) fn entry_cap(&self) -> usize {
        self.budget / MAX_ENTRY_SHARE
    }

    pub(crate) fn put(&self, entry: Arc<Entry>) -> bool {
        let size = entry.size();
        if size > self.budget / MAX_ENTRY_SHARE {
            return false;
        }
        entry.used.store(self.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = entries.by_key.remove(&entry.key) {
            entries.bytes -= old.counted.load(Ordering::Relaxed);
        }
        if entries.bytes + size > self.budget || entries.by_key.len() >= MAX_ENTRIES {
            entries.evict(entry.version, self.budget - size);
        }
        entries.bytes += size;
        entry.counted.store(size, Ordering::Relaxed);
        entries.by_key.insert(entry.key.clone(), entry);
        true
    }

    /// Counts what `entry` has grown by (an encoded body), if the cache still holds it; makes room when
    /// that exceeds the budget.
    fn recount(&self, entry: &Arc<Entry>) {
        let size = entry.size();
        if entry.counted.load(Ordering::Relaxed) == size {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if !entries.by_key.get(&entry.key).is_some_and(|held| Arc::ptr_eq(held, entry)) {
            return;
        }
        let counted = entry.counted.swap(size, Ordering::Relaxed);
        entries.bytes = entries.bytes + size - counted;
        if entries.bytes > self.budget {
            entries.evict(entry.version, self.budget);
        }
    }
}

impl Entries {
    /// Makes room: drops the answers of older versions (they are never served again), then the least
    /// recently used down to three quarters of `room`, so that the next puts need no eviction.
    fn evict(&mut self, version: DataVersion, room: usize) {
        self.by_key.retain(|_, entry| entry.version == version);
        self.bytes = self.by_key.values().map(|entry| entry.counted.load(Ordering::Relaxed)).sum();
        let (target, max_entries) = (room / 4 * 3, MAX_ENTRIES / 4 * 3);
        if self.bytes <= target && self.by_key.len() < max_entries {
            return;
        }
        let mut by_use: Vec<(u64, String, usize)> = self
            .by_key
            .iter()
            .map(|(key, e)| (e.used.load(Ordering::Relaxed), key.clone(), e.counted.load(Ordering::Relaxed)))
            .collect();
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

/// The headers of an answer that a cached copy repeats.
pub(crate) fn reusable_headers(from: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in from.iter().filter(|(name, _)| reusable(name)) {
        headers.append(name.clone(), value.clone());
    }
    headers
}

/// A streamed body that keeps a copy of what passes, up to `cap` bytes, and hands it to `keep` when the
/// stream has ended whole (an error or a larger body drops the copy).
pub(crate) struct Copied {
    body: BoxBody,
    copy: Option<Vec<Bytes>>,
    size: usize,
    cap: usize,
    keep: Option<Box<dyn FnOnce(Bytes)>>,
}

impl Copied {
    pub(crate) fn new(body: BoxBody, cap: usize, keep: impl FnOnce(Bytes) + 'static) -> Copied {
        Copied { body, copy: Some(Vec::new()), size: 0, cap, keep: Some(Box::new(keep)) }
    }
}

impl MessageBody for Copied {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Bytes, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        let next = std::pin::Pin::new(&mut this.body).poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => {
                this.size += chunk.len();
                match &mut this.copy {
                    Some(copy) if this.size <= this.cap => copy.push(chunk.clone()),
                    _ => this.copy = None,
                }
            }
            Poll::Ready(Some(Err(_))) => this.copy = None,
            Poll::Ready(None) => {
                if let (Some(copy), Some(keep)) = (this.copy.take(), this.keep.take()) {
                    keep(copy.concat().into());
                }
            }
            Poll::Pending => {}
        }
        next
    }
}

impl Entry {
    /// The cached answer; `encoding::serve` decides a conditional request and the content coding, and
    /// takes the encoded bodies of an entry the cache holds from it.
    pub(crate) fn answer(self: &Arc<Entry>, kept: bool) -> HttpResponse {
        let mut response = HttpResponse::Ok().body(self.body.clone());
        for (name, value) in self.headers.iter() {
            response.headers_mut().append(name.clone(), value.clone());
        }
        if kept {
            response.extensions_mut().insert(Cached(self.clone()));
        }
        response
    }
}
