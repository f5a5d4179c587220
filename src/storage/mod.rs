//! Persistence with diesel on SQLite or PostgreSQL, chosen by the scheme of `DATABASE_URL`.
//!
//! All queries are written once against [`DbConnection`], diesel's `MultiConnection` over both backends.
//! Every write goes through [`Db::create`], [`Db::modify`] or [`Db::transaction`]: they serialise writers
//! (see the `write_lock` table), record the change for the change feed and append to the audit log in the
//! same transaction as the write.

mod audit;
mod bodies;
mod changes;
mod contacts;
mod contracts;
mod dataset;
mod handlungsfelder;
mod keys;
pub mod kinds;
mod meetings;
mod networks;
mod prepared;
mod reads;
mod reference;
mod rows;
pub mod schema;
mod table;
mod unique;
mod webhooks;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use uuid::Uuid;

use crate::domain::{FieldError, Resource, ResourceKind, Timestamp, access::Scope};

pub use audit::{AuditFilter, audited_types};
pub use changes::{Change, ChangeEntry};
pub use dataset::{ExportError, ImportError, ImportReport, SnapshotVersion};
pub use keys::NewKey;
pub use reads::Related;
pub use table::{Cursor, ListOrder, Proposed, Table, Window};
pub use webhooks::{AttemptResult, Claimed, QueueStats, WEBHOOKS};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long every write waits after its commit before it returns, and so before anyone can learn of it.
///
/// Read caches trust a check of the data version for a little less than this after the check was sent
/// (`http::cache`): a read that arrives after a write was acknowledged therefore only ever trusts checks
/// sent after the write committed, on every instance, without a query per read.
pub const COMMIT_WAIT: Duration = Duration::from_millis(5);

/// The PostgreSQL advisory lock that serialises migrations ("rbn-migr" in ASCII).
const MIGRATION_LOCK: i64 = 0x72626e2d6d696772;

/// A connection to either backend; queries written against it run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Why a storage operation failed. Mapped to HTTP statuses once, in `http::problem`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The disk the database writes to is full: nothing was written; reads still work.
    #[error("the database's disk is full: {0}")]
    StorageFull(String),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value that must be unique is taken: the input field and the details.
    #[error("taken: {detail}")]
    Taken { error: FieldError, detail: String },
    #[error("references to records that do not exist")]
    InvalidReferences(Vec<FieldError>),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(DieselError),
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => unique::violation(info.as_ref()),
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                StoreError::Conflict("the change would break a reference between records".into())
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _)
            | DieselError::BrokenTransactionManager => StoreError::Unavailable(error.to_string()),
            DieselError::DatabaseError(_, info) if is_disk_full_message(info.message()) => {
                StoreError::StorageFull(error.to_string())
            }
            DieselError::DatabaseError(_, info) if is_unavailable_message(info.message()) => {
                StoreError::Unavailable(error.to_string())
            }
            _ => StoreError::Query(error),
        }
    }
}

/// SQLite (SQLITE_FULL) and PostgreSQL (ENOSPC while extending or writing a file) say so only in words.
fn is_disk_full_message(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("disk is full") || message.contains("no space left") || message.contains("disk full")
}

/// SQLite reports a locked, read-only or vanished file and PostgreSQL a shutdown only as messages.
fn is_unavailable_message(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "database is locked",
        "readonly database",
        "read-only",
        "disk i/o error",
        "unable to open",
        "terminating connection",
        "shutting down",
        "starting up",
        "server closed the connection",
        "no connection to the server",
        "could not connect",
        "connection refused",
        "canceling statement",
        "lock timeout",
    ]
    .iter()
    .any(|m| message.contains(m))
}

impl From<r2d2::PoolError> for StoreError {
    fn from(error: r2d2::PoolError) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A parsed `DATABASE_URL`: `sqlite://relative/path`, `sqlite:///absolute/path` or `postgres://…`.
#[derive(Debug, Clone)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// The file path (SQLite) or the URL (PostgreSQL) handed to the driver.
    target: String,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> StoreResult<Self> {
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() || path.contains(":memory:") {
                return Err(StoreError::InvalidUrl("SQLite needs a file path, e.g. sqlite://data/rbn.sqlite3".into()));
            }
            return Ok(DatabaseUrl { backend: Backend::Sqlite, target: path.to_string() });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl { backend: Backend::Postgres, target: url.to_string() });
        }
        Err(StoreError::InvalidUrl(format!(
            "{}: the scheme must be sqlite:// or postgres://",
            url.split("://").next().unwrap_or(url)
        )))
    }
}

/// Opens connections of the backend the URL names, never falling back to another one.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    /// How long a statement may wait for locks or run before the database gives up.
    wait: Duration,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.url.backend {
            Backend::Postgres => {
                let mut conn =
                    diesel::PgConnection::establish(&self.url.target).map_err(r2d2::Error::ConnectionError)?;
                // The database gives up before the HTTP request time-out, so a cut-off request never
                // commits after its client was told it failed.
                conn.batch_execute(&format!("SET statement_timeout = {}", self.wait.as_millis()))
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Postgres(conn))
            }
            Backend::Sqlite => {
                let mut conn =
                    diesel::SqliteConnection::establish(&self.url.target).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the one writer; the busy timeout makes a second writer wait
                // instead of failing; secure_delete overwrites erased personal data in the file.
                // Switching a new file to WAL needs it to itself: while another process migrates it, SQLite
                // answers "database is locked" at once, without its busy handler. Such a start waits instead,
                // up to the usual wait.
                let setup = format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
                    self.wait.as_millis()
                );
                let deadline = std::time::Instant::now() + self.wait;
                loop {
                    match conn.batch_execute(&setup) {
                        Ok(()) => break,
                        Err(error) if error.to_string().contains("locked") && std::time::Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(error) => return Err(r2d2::Error::QueryError(error)),
                    }
                }
                // SQLite's own lower() folds only ASCII, so a search for "übergang" would miss "Übergang"
                // (PostgreSQL folds every letter). This connection's lower() is Rust's, as the search
                // term's is; no index or stored value depends on it.
                rows::lower_opt_utils::register_impl(&mut conn, |text: Option<String>| {
                    text.map(|text| text.to_lowercase())
                })
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        r2d2::R2D2Connection::is_broken(conn)
    }
}

/// The database: a pool of connections to one backend.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// Opens connections outside the pool.
    manager: std::sync::Arc<Manager>,
    /// SQLite: this process's writers take turns here rather than in SQLite's busy handler, which
    /// sleeps in growing steps and lets a waiting writer miss its turn again and again.
    sqlite_writers: std::sync::Arc<parking_lot::Mutex<()>>,
    /// How long a SQLite writer waits for its turn.
    turn_wait: Duration,
    /// PostgreSQL: writes commit asynchronously and then flush the log (see
    /// [`durable_postgres_transaction`]), unless the role may not write the flush's logical message.
    commit_then_flush: bool,
    /// How checkouts from the pool went (for `/metrics`).
    checkouts: std::sync::Arc<Checkouts>,
    /// Woken after every commit: the webhook worker then looks at the outbox at once.
    commits: std::sync::Arc<tokio::sync::Notify>,
}

/// Counters of the pool's checkouts.
#[derive(Debug, Default)]
struct Checkouts {
    total: std::sync::atomic::AtomicU64,
    /// Checkouts that waited at least `WAITED` for a connection.
    waited: std::sync::atomic::AtomicU64,
    wait_micros: std::sync::atomic::AtomicU64,
    /// Checkouts that gave up: no connection within the pool's time-out.
    timeouts: std::sync::atomic::AtomicU64,
}

/// A checkout that took this long waited for a connection (rather than taking an idle one).
const WAITED: Duration = Duration::from_millis(1);

/// The pool as `/metrics` reports it.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub max_size: u32,
    pub connections: u32,
    pub idle: u32,
    pub checkouts: u64,
    pub waits: u64,
    pub wait_seconds: f64,
    pub timeouts: u64,
}

pub type Conn = PooledConnection<Manager>;

impl Db {
    /// A page of the audit log after sequence number `after`.
    pub fn audit(
        &self,
        filter: &AuditFilter,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<(i64, crate::domain::AuditEntry)>> {
        self.read(|conn| audit::list(conn, filter, after, limit))
    }

    /// Opens a pool. Fails when the database cannot be reached, saying why.
    pub fn open(url: &str, pool_size: u32) -> StoreResult<Db> {
        Self::open_with_wait(url, pool_size, Duration::from_secs(5))
    }

    /// Opens a pool whose statements wait at most `wait` for locks (PostgreSQL `statement_timeout`; on
    /// SQLite a writer's turn in this process and SQLite's `busy_timeout` together).
    pub fn open_with_wait(url: &str, pool_size: u32, wait: Duration) -> StoreResult<Db> {
        let url = DatabaseUrl::parse(url)?;
        if url.backend == Backend::Sqlite
            && let Some(parent) = Path::new(&url.target).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", parent.display())))?;
        }
        let backend = url.backend;
        // A SQLite writer waits twice, for its turn in this process and then for SQLite's lock (held by
        // other processes): half the time each, so that together they stay within `wait` (plus, as for
        // every statement, the pool's own connection time-out, which only a pool drained by readers costs).
        let (wait, turn_wait) = match backend {
            Backend::Sqlite => (wait / 2, wait / 2),
            Backend::Postgres => (wait, Duration::ZERO),
        };
        let dedicated = std::sync::Arc::new(Manager { url: url.clone(), wait });
        let manager = Manager { url, wait };
        // Fail fast with the driver's own message rather than r2d2's generic time-out.
        let mut first = manager.connect().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        manager.is_valid(&mut first).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let commit_then_flush = backend == Backend::Postgres && may_flush_the_log(&mut first)?;
        if backend == Backend::Postgres && !commit_then_flush {
            tracing::warn!(
                "the database role may not call pg_logical_emit_message: writes commit synchronously, one \
                 flush of the log after the other (allow the role to execute the function for faster writes)"
            );
        }
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(3))
            .test_on_check_out(false)
            .build_unchecked(manager);
        Ok(Db {
            pool,
            backend,
            manager: dedicated,
            sqlite_writers: Default::default(),
            turn_wait,
            commit_then_flush,
            checkouts: Default::default(),
            commits: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool's size and state, and how its checkouts went.
    pub fn pool_stats(&self) -> PoolStats {
        use std::sync::atomic::Ordering::Relaxed;
        let state = self.pool.state();
        PoolStats {
            max_size: self.pool.max_size(),
            connections: state.connections,
            idle: state.idle_connections,
            checkouts: self.checkouts.total.load(Relaxed),
            waits: self.checkouts.waited.load(Relaxed),
            wait_seconds: self.checkouts.wait_micros.load(Relaxed) as f64 / 1e6,
            timeouts: self.checkouts.timeouts.load(Relaxed),
        }
    }

    pub fn conn(&self) -> StoreResult<Conn> {
        use std::sync::atomic::Ordering::Relaxed;
        let started = std::time::Instant::now();
        let checkout = self.pool.get();
        let waited = started.elapsed();
        self.checkouts.total.fetch_add(1, Relaxed);
        if waited >= WAITED {
            self.checkouts.waited.fetch_add(1, Relaxed);
            self.checkouts.wait_micros.fetch_add(waited.as_micros() as u64, Relaxed);
        }
        if checkout.is_err() {
            self.checkouts.timeouts.fetch_add(1, Relaxed);
        }
        let mut conn = checkout?;
        // A connection left broken (its database went away) fails this request with 503; the pool drops
        // it on return (`has_broken`), so the next request gets a fresh one and the service recovers by itself.
        if r2d2::R2D2Connection::is_broken(&mut *conn) {
            return Err(StoreError::Unavailable("connection lost".into()));
        }
        Ok(conn)
    }

    /// Applies the pending migrations of this backend. Instances that start together take turns: the
    /// first migrates, the others then find nothing pending (PostgreSQL: an advisory lock held by a
    /// connection of its own; SQLite: one immediate transaction, which holds the file's write lock).
    pub fn migrate(&self) -> StoreResult<()> {
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
        match self.dedicated_connection()? {
            DbConnection::Sqlite(mut c) => {
                c.immediate_transaction(|c| c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()).map_err(failed))
            }
            DbConnection::Postgres(mut c) => {
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                let migrated = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()).map_err(failed);
                // Ending the session would release the lock too; this hands it on without waiting for that.
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
                migrated
            }
        }
    }

    /// Checks that the database answers (for `/readyz`).
    pub fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1").map_err(StoreError::from)
    }

    /// Runs `work` in one write transaction that holds the write lock from the start: writers are
    /// serialised and every change it records commits together with it. For writes outside the records
    /// (API keys); records are written through [`Db::write`] and imports through `exclusive_transaction`.
    pub fn transaction<T, E>(&self, actor: &Actor, work: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + From<DieselError>,
    {
        self.committed(actor, |conn| {
            lock_writers(conn)?;
            work(conn)
        })
    }

    /// Like [`Db::transaction`] for a write of many records. On PostgreSQL it first waits for the record
    /// writes in progress and keeps new ones out: they lock their rows before the write lock (see
    /// [`Db::write`]), so without this an import could wait for a row whose writer waits for the import.
    fn exclusive_transaction<T, E>(
        &self,
        actor: &Actor,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError> + From<DieselError>,
    {
        self.committed(actor, |conn| {
            if let DbConnection::Postgres(pg) = &mut *conn {
                pg.batch_execute(
                    "LOCK TABLE networks, handlungsfelder, network_handlungsfelder, contracts, \
                     contract_handlungsfelder, bodies, contacts, meetings IN EXCLUSIVE MODE",
                )?;
            }
            lock_writers(conn)?;
            work(conn)
        })
    }

    /// Runs write `work` in one transaction and returns once its commit is durable (see
    /// [`durable_postgres_transaction`]) and visible to every read cache (see [`COMMIT_WAIT`]); the
    /// connection goes back to the pool before the wait. On SQLite the process's writers take turns first
    /// (see `sqlite_writers`). The transaction commits only if the actor's [`CommitGate`] lets it: a
    /// request that was already answered as failed writes nothing.
    fn committed<T, E>(&self, actor: &Actor, work: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + From<DieselError>,
    {
        let turn = self.writer_turn()?;
        let mut conn = self.conn()?;
        let may_commit = || {
            if actor.gate.as_ref().is_some_and(|gate| !gate.enter_commit()) {
                return Err(StoreError::Unavailable("the request timed out before its write committed".into()));
            }
            Ok(())
        };
        let outcome = match self.backend {
            Backend::Sqlite => DbConnection::transaction(&mut conn, |conn| {
                let outcome = work(conn)?;
                may_commit()?;
                Ok(outcome)
            }),
            Backend::Postgres => durable_postgres_transaction(&mut conn, self.commit_then_flush, |conn| {
                let outcome = work(conn)?;
                may_commit()?;
                Ok(outcome)
            }),
        };
        drop((conn, turn));
        if outcome.is_ok() {
            self.commits.notify_one();
            std::thread::sleep(COMMIT_WAIT);
        }
        outcome
    }

    /// SQLite: this process's next writer turn (see `sqlite_writers`); PostgreSQL needs none.
    fn writer_turn(&self) -> StoreResult<Option<parking_lot::MutexGuard<'_, ()>>> {
        match self.backend {
            Backend::Sqlite => self
                .sqlite_writers
                .try_lock_for(self.turn_wait)
                .map(Some)
                .ok_or_else(|| StoreError::Unavailable("the database is still busy with earlier writes".into())),
            Backend::Postgres => Ok(None),
        }
    }

    /// Runs read-only `work` on one consistent snapshot.
    ///
    /// On PostgreSQL that takes `REPEATABLE READ`: under its default isolation every statement sees the
    /// commits made before it began, so a list and the tombstones merged into it could see different
    /// states, and a mirror that stored the largest `updatedAt` of the page could pass a record that
    /// committed between them. SQLite reads one snapshot per transaction anyway.
    pub fn read<T>(&self, work: impl FnOnce(&mut DbConnection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn()?;
        read_on(&mut conn, work)
    }

    /// Runs the write of one record: `work` changes it (and what derives from it) and says what to put
    /// in the change feed and the audit log, which this then writes in the same transaction.
    ///
    /// Writers are serialised by the registry-wide write lock, so change numbers commit in order. Where
    /// it is taken differs: SQLite takes it first, because a transaction that read before another writer
    /// committed can never write (busy snapshot). PostgreSQL takes it last, with the change feed and the
    /// audit entry in one statement ([`journal`]), so writers wait on each other only for that statement
    /// and the commit; meanwhile versioned updates keep each If-Match check and its write one atomic step
    /// (see [`Db::modify`]).
    ///
    /// Returns the version the write committed with: [`version_time`] explains why it may be later than
    /// the one `work` wrote (PostgreSQL), in which case the records written have been restamped with it.
    fn write<'a, T, E>(
        &self,
        actor: &Actor,
        work: impl FnOnce(&mut DbConnection) -> Result<(T, Journal<'a>), E>,
    ) -> Result<(T, Timestamp), E>
    where
        E: From<StoreError> + From<DieselError>,
    {
        self.committed(actor, |conn| {
            if self.backend == Backend::Sqlite {
                lock_writers(conn)?;
            }
            let (outcome, entry) = work(conn)?;
            let at = journal(conn, actor, &entry)?;
            Ok((outcome, at))
        })
    }

    /// Creates a record: checks references (400), `authorize`s its scope (403), checks uniqueness (409),
    /// inserts, records the change and the audit entry. `authorize` is `None` for callers who may write
    /// anywhere: then no scope is looked up.
    pub fn create<R: Table, E>(
        &self,
        input: R::Input,
        actor: &Actor,
        authorize: Option<impl Fn(&Scope) -> Result<(), E>>,
    ) -> Result<R, E>
    where
        E: From<StoreError> + From<DieselError>,
    {
        let (mut created, at) = self.write(actor, |conn| -> Result<(R, Journal), E> {
            check_references(conn, &R::references(&input))?;
            let input = R::complete(conn, input)?;
            if let Some(authorize) = &authorize {
                authorize(&R::scope_of_input(conn, None, &input)?)?;
            }
            let id = Uuid::now_v7();
            R::check_conflicts(conn, Proposed { id: None, input: &input, before: None })?;
            let now = version_time(conn, None)?;
            R::insert(conn, id, &input, now)?;
            let touched = R::touch_related(conn, None, Some(&input), now)?;
            let created = R::load(conn, id)?.ok_or(StoreError::NotFound)?;
            let fields = changed_fields::<R>(None, Some(&created));
            let entry = Journal { kind: R::KIND, id, at: now, action: "create", fields, deleted: false, touched };
            Ok((created, entry))
        })?;
        created.set_version(Some(at), at);
        Ok(created)
    }

    /// Replaces or deletes a record. `decide` sees the current state (after `authorize` approved its
    /// scope; `None` for callers who may write anywhere) and returns the new input, or `None` to delete;
    /// it is where If-Match is checked, so the check and the write are one atomic step.
    ///
    /// The record is read without a lock, and the write applies only while the record is still the
    /// version `decide` saw. When another write came first, the record is locked, read and decided on
    /// again (a stale If-Match then fails as it should): no round trip for a lock in the usual case.
    pub fn modify<R: Table, E>(
        &self,
        id: Uuid,
        actor: &Actor,
        action: &str,
        authorize: Option<impl Fn(&Scope) -> Result<(), E>>,
        decide: impl Fn(&R) -> Result<Option<R::Input>, E>,
    ) -> Result<Option<R>, E>
    where
        E: From<StoreError> + From<DieselError>,
    {
        let (mut outcome, at) = self.write(actor, |conn| -> Result<(Option<R>, Journal), E> {
            let lock = match modify_once(conn, id, action, authorize.as_ref(), &decide)? {
                Attempt::Done(record, entry) => return Ok((record, entry)),
                Attempt::Raced { lock } => lock,
            };
            lock_row(conn, R::KIND, id, lock)?;
            match modify_once(conn, id, action, authorize.as_ref(), &decide)? {
                Attempt::Done(record, entry) => Ok((record, entry)),
                Attempt::Raced { .. } => {
                    Err(StoreError::Corrupt(format!("{} {id} changed while locked", R::KIND)).into())
                }
            }
        })?;
        if let Some(updated) = &mut outcome {
            updated.set_version(None, at);
        }
        if outcome.is_none() && self.backend == Backend::Sqlite && R::KIND == ResourceKind::Contacts {
            // A deleted contact may be a person: move the change out of the write-ahead log into the file,
            // where `secure_delete` has overwritten it. Best effort: a reader may hold the log a moment longer.
            if let Ok(mut conn) = self.conn() {
                let _ = conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)");
            }
        }
        Ok(outcome)
    }
}

/// Runs write `work` in one PostgreSQL transaction and returns once its commit is durable.
///
/// Writers are serialised by the write lock (a row lock, see [`lock_writers`] and `rbn_journal`) until
/// their commit, and a synchronous commit keeps its locks while it waits for the disk: one flush of the
/// write-ahead log per write, one after the other, whatever the number of writers (about 1,000 a second on
/// a disk that flushes in a millisecond). So the transaction commits asynchronously — its locks are
/// released, and its changes visible, as soon as the commit is in the log — and the same round trip then
/// waits until the log is flushed up to there: a transaction of its own writes a logical message to the log
/// (it changes no table) and commits as the session's `synchronous_commit` says, which flushes everything
/// logged before it. Writers that commit meanwhile share that flush. A write is answered only after it, so
/// every acknowledged write is durable; a crash of PostgreSQL in that moment can lose only a write whose
/// request then fails (readers may have seen it: `http::cache` forgets what it read before a crash).
///
/// Without `commit_then_flush` (see [`may_flush_the_log`]) the transaction commits synchronously.
fn durable_postgres_transaction<T, E>(
    conn: &mut DbConnection,
    commit_then_flush: bool,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError> + From<DieselError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    fn postgres(conn: &mut DbConnection) -> StoreResult<&mut diesel::PgConnection> {
        match conn {
            DbConnection::Postgres(pg) => Ok(pg),
            DbConnection::Sqlite(_) => Err(StoreError::Corrupt("a PostgreSQL transaction on SQLite".into())),
        }
    }
    let (begin, commit) = match commit_then_flush {
        true => {
            ("BEGIN; SET LOCAL synchronous_commit = off", "COMMIT; SELECT pg_logical_emit_message(true, 'rbn', '')")
        }
        false => ("BEGIN", "COMMIT"),
    };
    AnsiTransactionManager::begin_transaction_sql(postgres(conn)?, begin)?;
    type Transactions = <DbConnection as Connection>::TransactionManager;
    match work(conn) {
        Ok(value) => {
            // COMMIT ends the transaction (libpq then reports the connection idle, which diesel's
            // transaction manager follows), the flush runs in a transaction of its own; if COMMIT fails,
            // PostgreSQL skips the rest of the batch.
            postgres(conn)?.batch_execute(commit)?;
            Ok(value)
        }
        Err(error) => {
            // A failed rollback leaves the connection broken; the pool drops it (`has_broken`).
            let _ = Transactions::rollback_transaction(conn);
            Err(error)
        }
    }
}

/// Whether this connection's role may call `pg_logical_emit_message` (every role may, unless an
/// administrator revoked it): without it, a write's flush would fail after its commit.
fn may_flush_the_log(conn: &mut DbConnection) -> StoreResult<bool> {
    use diesel::sql_types::Bool;
    // By name: its parameters differ between versions (PostgreSQL 17 added one, with a default).
    Ok(diesel::select(diesel::dsl::sql::<Bool>(
        "(SELECT COALESCE(bool_and(has_function_privilege(oid, 'EXECUTE')), false) FROM pg_catalog.pg_proc \
         WHERE proname = 'pg_logical_emit_message' AND pronamespace = 'pg_catalog'::regnamespace)",
    ))
    .get_result(conn)?)
}

/// What one attempt of [`Db::modify`] came to.
enum Attempt<'a, R> {
    /// The record was updated (`Some`) or deleted (`None`).
    Done(Option<R>, Journal<'a>),
    /// Another write changed the record after this attempt read it; nothing was written (each attempt's
    /// first write is the versioned update, or the delete's versioned lock). `lock` is the row lock that
    /// statement takes, which the next attempt takes first.
    Raced { lock: RowLock },
}

/// One attempt of [`Db::modify`] on the record as it is now.
fn modify_once<'a, R: Table, E>(
    conn: &mut DbConnection,
    id: Uuid,
    action: &'a str,
    authorize: Option<&impl Fn(&Scope) -> Result<(), E>>,
    decide: &impl Fn(&R) -> Result<Option<R::Input>, E>,
) -> Result<Attempt<'a, R>, E>
where
    E: From<StoreError> + From<DieselError>,
{
    let current = R::load(conn, id)?.ok_or(StoreError::NotFound)?;
    if let Some(authorize) = authorize {
        authorize(&R::scope_of_record(conn, &current)?)?;
    }
    let next = decide(&current)?;
    let version = current.updated_at();
    // Strictly after the version it replaces: a record's versions only grow, even if the clock steps back.
    let now = version_time(conn, Some(version))?;
    let Some(input) = next else {
        if !lock_for_delete(conn, R::KIND, id, version)? {
            return Ok(Attempt::Raced { lock: RowLock::Update });
        }
        R::check_dependents(conn, id)?;
        R::delete(conn, id)?;
        let touched = R::touch_related(conn, Some(&current), None, now)?;
        let entry =
            Journal { kind: R::KIND, id, at: now, action: "delete", fields: Vec::new(), deleted: true, touched };
        return Ok(Attempt::Done(None, entry));
    };
    // What the record refers to decides where it belongs; unchanged references need neither another
    // existence check nor another authorisation.
    let before = R::parse_input(&current.writable_value()).ok();
    let before_refs = before.as_ref().map(R::references).unwrap_or_default();
    let refers_to = |refs: &[crate::domain::Reference]| {
        let mut keys: Vec<(ResourceKind, String)> = refs.iter().map(|r| (r.kind, r.key.clone())).collect();
        keys.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
        keys
    };
    let refs = R::references(&input);
    let new_refs: Vec<_> =
        refs.iter().filter(|r| !before_refs.iter().any(|b| b.kind == r.kind && b.key == r.key)).cloned().collect();
    check_references(conn, &new_refs)?;
    let input = R::complete(conn, input)?;
    if let Some(authorize) = authorize
        && refers_to(&refs) != refers_to(&before_refs)
    {
        authorize(&R::scope_of_input(conn, Some(id), &input)?)?;
    }
    R::check_conflicts(conn, Proposed { id: Some(id), input: &input, before: before.as_ref() })?;
    let Some(updated) = R::update(conn, id, &input, now, version)? else {
        let unique_change = before.as_ref().is_none_or(|before| R::changes_unique_column(before, &input));
        return Ok(Attempt::Raced { lock: if unique_change { RowLock::Update } else { RowLock::NoKeyUpdate } });
    };
    let touched = R::touch_related(conn, Some(&current), Some(&input), now)?;
    let fields = changed_fields::<R>(Some(&current), Some(&updated));
    let entry = Journal { kind: R::KIND, id, at: now, action, fields, deleted: false, touched };
    Ok(Attempt::Done(Some(updated), entry))
}

/// Who writes, for the audit log, and until when their write may commit.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub key_id: Option<Uuid>,
    pub key_name: Option<String>,
    pub request_id: Option<String>,
    pub gate: Option<CommitGate>,
}

/// Decides, once, between a write's commit and its request's time-out, so that a client told "503, not
/// written" is never wrong: the write commits only if the request was not cancelled first, and a request
/// whose write is committing is not cancelled but waits for it.
#[derive(Debug, Clone, Default)]
pub struct CommitGate(std::sync::Arc<std::sync::atomic::AtomicU8>);

impl CommitGate {
    const OPEN: u8 = 0;
    const COMMITTING: u8 = 1;
    const CANCELLED: u8 = 2;

    /// The write is about to commit: true unless the request was cancelled.
    pub fn enter_commit(&self) -> bool {
        self.transition(Self::COMMITTING)
    }

    /// The request timed out: true if no write has begun to commit, which now never will.
    pub fn cancel(&self) -> bool {
        self.transition(Self::CANCELLED)
    }

    fn transition(&self, to: u8) -> bool {
        use std::sync::atomic::Ordering::AcqRel;
        match self.0.compare_exchange(Self::OPEN, to, AcqRel, std::sync::atomic::Ordering::Acquire) {
            Ok(_) => true,
            Err(now) => now == to,
        }
    }
}

/// What a write puts in the change feed and the audit log.
struct Journal<'a> {
    kind: ResourceKind,
    id: Uuid,
    at: Timestamp,
    action: &'a str,
    /// The writable fields that changed (names only).
    fields: Vec<String>,
    deleted: bool,
    /// Records whose representation changed with this one, with their new `updatedAt` (see
    /// `Table::touch_related`).
    touched: Vec<(ResourceKind, Uuid, Timestamp)>,
}

/// The statements that lock a record's row on PostgreSQL: by id, and by id at a version. Each editable
/// kind's table is named like the kind; the statements are made once, and are static for the statement
/// cache.
fn row_lock_sql(kind: ResourceKind) -> Option<(&'static str, &'static str)> {
    static STATEMENTS: std::sync::OnceLock<Vec<(ResourceKind, (&'static str, &'static str))>> =
        std::sync::OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
        kinds::editable_kinds()
            .into_iter()
            .map(|kind| {
                let by_id = leak(format!("SELECT 1 FROM {kind} WHERE id = "));
                let at_version = leak(format!("SELECT 1 FROM {kind} WHERE (id, updated_at) = ("));
                (kind, (by_id, at_version))
            })
            .collect()
    });
    statements.iter().find(|(of, _)| *of == kind).map(|(_, sql)| *sql)
}

/// A row lock of PostgreSQL. A write that lost a race takes the lock its own update or delete takes: a
/// transaction that strengthened its lock later could deadlock with writers that hold the row's key
/// share (those that refer to the record) and then change it (a contract touching its network).
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowLock {
    /// What a row that refers to the record takes: keeps the record from being moved or deleted meanwhile.
    KeyShare,
    /// What an update takes that leaves the unique columns alone.
    NoKeyUpdate,
    /// What a delete takes, or an update of a unique column; also what moving a record with dependants
    /// takes, so that it waits for those that are just being made to refer to it.
    Update,
}

/// PostgreSQL: locks a record's row until the transaction ends, so that a write that lost a race to
/// another (see [`Db::modify`]) decides again on a state nobody changes in between. SQLite needs none:
/// its writers hold the write lock from the start.
pub(crate) fn lock_row(conn: &mut DbConnection, kind: ResourceKind, id: Uuid, lock: RowLock) -> StoreResult<()> {
    use diesel::sql_types::Text;
    let (DbConnection::Postgres(pg), Some((head, _))) = (conn, row_lock_sql(kind)) else { return Ok(()) };
    let tail = match lock {
        RowLock::KeyShare => " FOR KEY SHARE",
        RowLock::NoKeyUpdate => " FOR NO KEY UPDATE",
        RowLock::Update => " FOR UPDATE",
    };
    prepared::Handwritten { head, values: (id.to_string().into_sql::<Text>(),), tail }.execute(pg)?;
    Ok(())
}

/// PostgreSQL: takes a delete's lock ([`RowLock::Update`]) on a record's row if the record is still at
/// `version`; false when another write came first.
fn lock_for_delete(conn: &mut DbConnection, kind: ResourceKind, id: Uuid, version: Timestamp) -> StoreResult<bool> {
    use diesel::sql_types::{Text, Timestamp as SqlTimestamp};
    let (DbConnection::Postgres(pg), Some((_, head))) = (conn, row_lock_sql(kind)) else { return Ok(true) };
    let values = (id.to_string().into_sql::<Text>(), rows::naive(version).into_sql::<SqlTimestamp>());
    Ok(prepared::Handwritten { head, values, tail: ") FOR UPDATE" }.execute(pg)? == 1)
}

impl Db {
    /// The number of write transactions ever committed: it changes with every write, on every instance.
    /// Read caches compare it to know whether what they hold is still current.
    pub fn data_version(&self) -> StoreResult<i64> {
        let mut conn = self.conn()?;
        data_version(&mut conn)
    }

    /// Notified after every commit of a write (see `http::webhooks`).
    pub fn commits(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.commits.clone()
    }

    /// A connection of its own, outside the pool, for a long-running task (the read cache's version checks).
    pub fn dedicated_connection(&self) -> StoreResult<DbConnection> {
        self.manager.connect().map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

/// Runs read-only `work` on one consistent snapshot of `conn` (see [`Db::read`]).
fn read_on<T>(conn: &mut DbConnection, work: impl FnOnce(&mut DbConnection) -> StoreResult<T>) -> StoreResult<T> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConnection::Postgres(pg) = conn else {
        return conn.transaction(|conn| work(conn));
    };
    AnsiTransactionManager::begin_transaction_sql(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    // The multi-connection's transaction manager hands these to the PostgreSQL connection's.
    type Transactions = <DbConnection as Connection>::TransactionManager;
    match work(conn) {
        Ok(value) => {
            Transactions::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // A failed rollback leaves the connection broken; the pool drops it (`has_broken`).
            let _ = Transactions::rollback_transaction(conn);
            Err(error)
        }
    }
}

/// The data version, on a given connection (see [`Db::data_version`]).
pub fn data_version(conn: &mut DbConnection) -> StoreResult<i64> {
    use schema::write_lock::dsl::*;
    // The table has exactly one row; a statement without parameters is the cheapest to run often.
    Ok(write_lock.select(writes).get_result(conn)?)
}

/// Takes the registry-wide write lock: the first statement of every write transaction. On PostgreSQL
/// the row lock waits for the previous writer to commit; on SQLite the write upgrades the transaction to
/// a writer at once, so it never fails late with a busy snapshot.
fn lock_writers(conn: &mut DbConnection) -> StoreResult<()> {
    prepared::Handwritten { head: "UPDATE write_lock SET writes = writes + 1 WHERE id = 1", values: (), tail: "" }
        .execute(conn)?;
    Ok(())
}

/// The version a write gives the records it changes, strictly after `after` (the version it replaces).
///
/// Versions follow the commit order, so that a mirror that polls with `modifiedSince=<the largest
/// updatedAt it has seen>` never passes a record that commits later: every write's version is later
/// than that of every change committed before it. SQLite writers hold the write lock from the start, so
/// this is that time. PostgreSQL writers take the lock last (see [`Db::write`]): this is a provisional
/// time, and `rbn_journal` moves it past the latest committed change once it holds the lock.
fn version_time(conn: &mut DbConnection, after: Option<Timestamp>) -> StoreResult<Timestamp> {
    let floor = match conn {
        DbConnection::Sqlite(_) => changes::last_change(conn)?.max(after),
        DbConnection::Postgres(_) => after,
    };
    Ok(floor.map_or_else(Timestamp::now, Timestamp::now_after))
}

/// Ends a record write: records its changes for the change feed and appends its audit entry, and
/// returns the version the write commits with (see [`version_time`]). SQLite holds the write lock
/// already; on PostgreSQL `rbn_journal` (see its migration) takes it, chooses the version and does the
/// rest in the same round trip, so writers wait on each other only for that statement and the commit.
fn journal(conn: &mut DbConnection, actor: &Actor, entry: &Journal) -> StoreResult<Timestamp> {
    let DbConnection::Postgres(pg) = conn else {
        for &(kind, id, at) in &entry.touched {
            changes::record(conn, kind, id, at, false)?;
        }
        changes::record(conn, entry.kind, entry.id, entry.at, entry.deleted)?;
        audit::append(conn, actor, entry.kind.as_str(), entry.id, entry.action, &entry.fields, entry.at)?;
        return Ok(entry.at);
    };
    use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamp as SqlTimestamp};
    // The touched records first, then the record itself: the order of the calls above. The provisional
    // time is the latest the write used (a touched network may have moved past its own version).
    let changed = entry.touched.iter().map(|&(kind, id, at)| (kind, id, at, false));
    let changed = changed.chain([(entry.kind, entry.id, entry.at, entry.deleted)]);
    let (mut ids, mut kinds, mut times, mut deleted) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (kind, id, at, gone) in changed {
        ids.push(id.to_string());
        kinds.push(kind.as_str().to_string());
        times.push(rows::naive(at));
        deleted.push(i32::from(gone));
    }
    let provisional = changed_at_latest(entry);
    let at: chrono::NaiveDateTime = prepared::Handwritten {
        head: "SELECT rbn_journal(",
        values: (
            ids.into_sql::<Array<Text>>(),
            kinds.into_sql::<Array<Text>>(),
            times.into_sql::<Array<SqlTimestamp>>(),
            deleted.into_sql::<Array<Integer>>(),
            rows::naive(provisional).into_sql::<SqlTimestamp>(),
            Uuid::now_v7().to_string().into_sql::<Text>(),
            actor.key_id.map(|id| id.to_string()).into_sql::<Nullable<Text>>(),
            actor.key_name.clone().into_sql::<Nullable<Text>>(),
            actor.request_id.clone().into_sql::<Nullable<Text>>(),
            entry.kind.as_str().into_sql::<Text>(),
            entry.id.to_string().into_sql::<Text>(),
            entry.action.into_sql::<Text>(),
            rows::to_json(&entry.fields).into_sql::<Text>(),
        ),
        tail: ")",
    }
    .returning::<SqlTimestamp>()
    .get_result(pg)?;
    Ok(rows::timestamp(at))
}

/// The latest time a write used for any of its records.
fn changed_at_latest(entry: &Journal) -> Timestamp {
    entry.touched.iter().map(|&(_, _, at)| at).fold(entry.at, Timestamp::max)
}

/// Checks that every referenced record exists; reports all missing ones at once.
fn check_references(conn: &mut DbConnection, references: &[crate::domain::Reference]) -> StoreResult<()> {
    let mut missing = Vec::new();
    for reference in references {
        if !reference::exists(conn, reference.kind, &reference.key)? {
            let what = match reference.kind {
                ResourceKind::Regions => "no region (Kreis or kreisfreie Stadt) has this Kreisschlüssel".to_string(),
                ResourceKind::Districts => "no Regierungsbezirk has this key".to_string(),
                // Every other kind is an editable one, named by the list of kinds.
                editable => {
                    struct Noun(&'static str);
                    impl kinds::KindVisitor for Noun {
                        fn visit<R: Table>(&mut self) {
                            self.0 = R::NOUN;
                        }
                    }
                    let mut noun = Noun("record");
                    kinds::with_kind(editable, &mut noun);
                    format!("no {} has this id", noun.0)
                }
            };
            missing.push(FieldError::new(reference.field.clone(), what));
        }
    }
    if missing.is_empty() { Ok(()) } else { Err(StoreError::InvalidReferences(missing)) }
}

/// The writable fields whose values differ between two states (names only).
fn changed_fields<R: Resource>(before: Option<&R>, after: Option<&R>) -> Vec<String> {
    let before = before.map(Resource::writable_value).unwrap_or_default();
    let after = after.map(Resource::writable_value).unwrap_or_default();
    R::WRITABLE
        .iter()
        .filter(|field| {
            let b = before.get(**field).filter(|v| !v.is_null());
            let a = after.get(**field).filter(|v| !v.is_null());
            b != a
        })
        .map(|field| field.to_string())
        .collect()
}
