//! Webhooks in the database: subscriptions, the outbox, deliveries and their leases.
//!
//! Every change feed row is copied to `webhook_outbox` by a trigger (see the migration), so each event
//! commits with its change, whichever path wrote it. The worker then turns outbox rows into deliveries
//! ([`Db::fan_out`]), one instance at a time and in feed order, and claims due deliveries under a lease
//! ([`Db::claim_deliveries`]) so that on PostgreSQL every attempt is made by exactly one instance.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp as SqlTimestamp};
use serde_json::Value;
use uuid::Uuid;

use super::changes::Change;
use super::kinds::{KindVisitor, with_kind};
use super::rows::{from_json, naive, opt_uuid, timestamp, to_json, uuid};
use super::schema::{webhook_deliveries as d, webhook_outbox as o, webhook_scopes as sc, webhook_subscriptions as s};
use super::{Actor, Db, DbConnection, StoreError, StoreResult, Table, audit};
use crate::domain::access::{Access, Scope};
use crate::domain::subscription::{Delivery, DeliveryStatus, Subscription, SubscriptionInput, action, change_event};
use crate::domain::webhook::SigningSecret;
use crate::domain::{ResourceKind, Timestamp};

/// The audit log's name for webhook subscriptions.
pub const WEBHOOKS: &str = "webhooks";

/// How long the previous secret signs after a rotation.
pub const ROTATION_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The PostgreSQL advisory lock of the fan-out ("rbn-whfo"): one instance turns the outbox into
/// deliveries at a time, so that a record's deliveries are made in the order of its changes.
const FAN_OUT_LOCK: i64 = 0x72626e2d7768666f;

type SubscriptionRow = (
    String,
    String,
    Option<String>,
    i32,
    String,
    String,
    Option<i32>,
    Option<String>,
    Option<chrono::NaiveDateTime>,
    NaiveDateTime,
    NaiveDateTime,
);

/// The columns of a subscription as the API shows it (never the secrets).
macro_rules! subscription_columns {
    () => {
        (
            s::id,
            s::url,
            s::description,
            s::active,
            s::types,
            s::network_ids,
            s::district_key,
            s::deactivated_reason,
            s::previous_secret_expires_at,
            s::created_at,
            s::updated_at,
        )
    };
}

fn subscription(row: SubscriptionRow) -> StoreResult<Subscription> {
    let (id, url, description, active, types, network_ids, district_key, reason, previous_until, created, updated) =
        row;
    Ok(Subscription {
        id: uuid(&id)?,
        url,
        description,
        active: active != 0,
        types: from_json(&types)?,
        network_ids: from_json(&network_ids)?,
        district_key,
        deactivated_reason: reason,
        previous_secret_expires_at: previous_until.map(timestamp),
        created_at: timestamp(created),
        updated_at: timestamp(updated),
    })
}

type DeliveryRow = (
    String,
    String,
    Option<i64>,
    Option<String>,
    String,
    i32,
    Option<i32>,
    Option<String>,
    Option<i64>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    NaiveDateTime,
);

macro_rules! delivery_columns {
    () => {
        (
            d::id,
            d::event_type,
            d::seq,
            d::resource_id,
            d::status,
            d::attempts,
            d::last_status,
            d::last_error,
            d::last_latency_ms,
            d::last_attempt_at,
            d::next_attempt_at,
            d::created_at,
        )
    };
}

fn delivery(row: DeliveryRow) -> StoreResult<Delivery> {
    let (id, event_type, seq, resource, status, attempts, last_status, last_error, latency, last_at, next_at, created) =
        row;
    Ok(Delivery {
        id,
        event_type,
        seq,
        resource_id: opt_uuid(resource.as_deref())?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("not a delivery status: {status}")))?,
        attempts,
        last_status,
        last_error,
        last_latency_ms: latency,
        last_attempt_at: last_at.map(timestamp),
        next_attempt_at: next_at.map(timestamp),
        created_at: timestamp(created),
    })
}

fn load_subscription(conn: &mut DbConnection, id: Uuid) -> StoreResult<Option<Subscription>> {
    let row: Option<SubscriptionRow> =
        s::table.find(id.to_string()).select(subscription_columns!()).first(conn).optional()?;
    row.map(subscription).transpose()
}

fn new_secret() -> StoreResult<SigningSecret> {
    SigningSecret::generate().map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))
}

/// The `webhook-id` of a new delivery.
fn message_id() -> String {
    format!("msg_{}", Uuid::now_v7().simple())
}

/// One delivery the worker claimed: what it needs for one attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub subscription: Uuid,
    pub url: String,
    pub body: String,
    pub attempts: i32,
    /// The current secret first, then the previous one while it still signs.
    pub secrets: Vec<SigningSecret>,
    /// The instance that holds the lease: only it records the attempt.
    pub owner: String,
}

/// What one attempt came to, as the worker records it.
#[derive(Debug, Clone)]
pub enum AttemptResult {
    Delivered {
        status: u16,
        latency: Duration,
    },
    /// `retry_at` `None`: given up, the delivery failed.
    Failed {
        status: Option<u16>,
        error: String,
        latency: Duration,
        retry_at: Option<Timestamp>,
    },
}

/// The outbox and the deliveries not yet made, for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStats {
    /// Changes not yet turned into deliveries.
    pub outbox: i64,
    /// Deliveries not yet made (or given up).
    pub pending: i64,
    /// When the oldest of them was written.
    pub oldest: Option<Timestamp>,
}

/// The columns a subscription's input sets, for its insert and its updates alike.
macro_rules! subscription_content {
    ($input:expr) => {
        (
            s::url.eq(&$input.url),
            s::description.eq(&$input.description),
            s::active.eq(i32::from($input.active)),
            s::types.eq(to_json(&$input.types)),
            s::network_ids.eq(to_json(&$input.network_ids)),
            s::district_key.eq($input.district_key),
        )
    };
}

impl Db {
    /// Runs webhook bookkeeping in a transaction of its own. It does not take the registry's write lock
    /// (records do not change, so read caches stay valid); on SQLite it takes this process's writer
    /// turn and the database's write lock first, as record writes do.
    fn webhook_transaction<T, E>(&self, work: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + From<diesel::result::Error>,
    {
        let _turn = self.writer_turn()?;
        let mut conn = self.conn()?;
        DbConnection::transaction(&mut conn, |conn| {
            if let DbConnection::Sqlite(_) = conn {
                // A write first: the transaction holds SQLite's write lock from here on and never fails
                // late because another connection wrote after it read.
                super::prepared::Handwritten {
                    head: "UPDATE webhook_outbox SET seq = seq WHERE seq < 0",
                    values: (),
                    tail: "",
                }
                .execute(conn)?;
            }
            work(conn)
        })
    }

    /// Creates a subscription owned by the actor's key; returns it with its secret (shown once).
    pub fn create_subscription(
        &self,
        input: &SubscriptionInput,
        owner_role: &str,
        actor: &Actor,
    ) -> StoreResult<(Subscription, SigningSecret)> {
        let secret = new_secret()?;
        let id = Uuid::now_v7();
        let now = Timestamp::now();
        self.transaction(actor, |conn: &mut DbConnection| -> StoreResult<_> {
            diesel::insert_into(s::table)
                .values((
                    s::id.eq(id.to_string()),
                    subscription_content!(input),
                    s::owner_key_id.eq(actor.key_id.map(|k| k.to_string())),
                    s::owner_role.eq(owner_role),
                    s::secret.eq(secret.to_string()),
                    s::created_at.eq(naive(now)),
                    s::updated_at.eq(naive(now)),
                ))
                .execute(conn)?;
            audit::append(conn, actor, WEBHOOKS, id, "create", &[], now)?;
            let created = load_subscription(conn, id)?.ok_or(StoreError::NotFound)?;
            Ok((created, secret))
        })
    }

    pub fn subscription(&self, id: Uuid) -> StoreResult<Option<Subscription>> {
        self.read(|conn| load_subscription(conn, id))
    }

    /// Subscriptions after `after` in id order (creation order) that `visible` lets through, at most `limit`.
    pub fn subscriptions(
        &self,
        after: Option<Uuid>,
        limit: i64,
        visible: impl Fn(&Subscription) -> bool,
    ) -> StoreResult<Vec<Subscription>> {
        let rows: Vec<SubscriptionRow> = self.read(|conn| {
            let mut query = s::table.select(subscription_columns!()).order(s::id.asc()).into_boxed();
            if let Some(after) = after {
                query = query.filter(s::id.gt(after.to_string()));
            }
            Ok(query.load(conn)?)
        })?;
        let mut found = Vec::new();
        for row in rows {
            let item = subscription(row)?;
            if visible(&item) {
                found.push(item);
                if found.len() as i64 >= limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Replaces a subscription's writable fields with what `decide` makes of the current state (it
    /// checks `If-Match` and the caller's scope), in one transaction. Activating it again clears the
    /// reason it was deactivated for and its failures.
    pub fn update_subscription<E>(
        &self,
        id: Uuid,
        actor: &Actor,
        decide: impl FnOnce(&Subscription) -> Result<SubscriptionInput, E>,
    ) -> Result<Subscription, E>
    where
        E: From<StoreError> + From<diesel::result::Error>,
    {
        let now = Timestamp::now();
        self.transaction(actor, |conn| {
            let current = load_subscription(conn, id)?.ok_or(StoreError::NotFound)?;
            let input = decide(&current)?;
            let at = Timestamp::now_after(current.updated_at).max(now);
            let reactivated = input.active && !current.active;
            diesel::update(s::table.find(id.to_string()))
                .set((subscription_content!(input), s::updated_at.eq(naive(at))))
                .execute(conn)?;
            if reactivated {
                diesel::update(s::table.find(id.to_string()))
                    .set((s::deactivated_reason.eq(None::<String>), s::failing_since.eq(None::<NaiveDateTime>)))
                    .execute(conn)?;
            }
            audit::append(conn, actor, WEBHOOKS, id, "patch", &[], at)?;
            Ok(load_subscription(conn, id)?.ok_or(StoreError::NotFound)?)
        })
    }

    /// Deletes a subscription and its deliveries once `check` (If-Match, scope) allows it.
    pub fn delete_subscription<E>(
        &self,
        id: Uuid,
        actor: &Actor,
        check: impl FnOnce(&Subscription) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<StoreError> + From<diesel::result::Error>,
    {
        self.transaction(actor, |conn| {
            let current = load_subscription(conn, id)?.ok_or(StoreError::NotFound)?;
            check(&current)?;
            diesel::delete(d::table.filter(d::subscription_id.eq(id.to_string()))).execute(conn)?;
            diesel::delete(s::table.find(id.to_string())).execute(conn)?;
            audit::append(conn, actor, WEBHOOKS, id, "delete", &[], Timestamp::now())?;
            Ok(())
        })
    }

    /// Gives a subscription a new secret; the current one keeps signing for [`ROTATION_OVERLAP`].
    pub fn rotate_secret<E>(
        &self,
        id: Uuid,
        actor: &Actor,
        check: impl FnOnce(&Subscription) -> Result<(), E>,
    ) -> Result<(Subscription, SigningSecret), E>
    where
        E: From<StoreError> + From<diesel::result::Error>,
    {
        let secret = new_secret()?;
        self.transaction(actor, |conn| {
            let current = load_subscription(conn, id)?.ok_or(StoreError::NotFound)?;
            check(&current)?;
            let old: String = s::table.find(id.to_string()).select(s::secret).first(conn)?;
            let at = Timestamp::now_after(current.updated_at);
            let until = Timestamp(at.0 + ROTATION_OVERLAP);
            diesel::update(s::table.find(id.to_string()))
                .set((
                    s::secret.eq(secret.to_string()),
                    s::previous_secret.eq(Some(old)),
                    s::previous_secret_expires_at.eq(Some(naive(until))),
                    s::updated_at.eq(naive(at)),
                ))
                .execute(conn)?;
            audit::append(conn, actor, WEBHOOKS, id, "rotate-secret", &[], at)?;
            Ok((load_subscription(conn, id)?.ok_or(StoreError::NotFound)?, secret.clone()))
        })
    }

    /// A subscription's deliveries, newest first, after the delivery `before` (a cursor).
    pub fn deliveries(&self, subscription: Uuid, before: Option<&str>, limit: i64) -> StoreResult<Vec<Delivery>> {
        let rows: Vec<DeliveryRow> = self.read(|conn| {
            let mut query = d::table
                .filter(d::subscription_id.eq(subscription.to_string()))
                .select(delivery_columns!())
                .order(d::id.desc())
                .limit(limit)
                .into_boxed();
            if let Some(before) = before {
                query = query.filter(d::id.lt(before.to_string()));
            }
            Ok(query.load(conn)?)
        })?;
        rows.into_iter().map(delivery).collect()
    }

    /// Queues a ping for a subscription (`POST /v1/webhooks/{id}/test`).
    pub fn queue_ping(&self, subscription: Uuid, body: impl FnOnce(&str) -> Value) -> StoreResult<Delivery> {
        self.webhook_transaction(|conn| {
            let id = message_id();
            let now = naive(Timestamp::now());
            diesel::insert_into(d::table)
                .values((
                    d::id.eq(&id),
                    d::subscription_id.eq(subscription.to_string()),
                    d::event_type.eq("ping"),
                    d::body.eq(body(&id).to_string()),
                    d::status.eq(DeliveryStatus::Pending.as_str()),
                    d::attempts.eq(0),
                    d::next_attempt_at.eq(Some(now)),
                    d::created_at.eq(now),
                ))
                .execute(conn)?;
            let row: DeliveryRow = d::table.find(&id).select(delivery_columns!()).first(conn)?;
            delivery(row)
        })
    }

    /// Turns up to `limit` outbox rows, in feed order, into one delivery per matching active
    /// subscription, each with its body: the change and the record as anonymous readers see it now.
    /// Returns how many outbox rows it took (0 when another instance is at it).
    pub fn fan_out(&self, limit: i64) -> StoreResult<usize> {
        self.webhook_transaction(|conn| {
            if let DbConnection::Postgres(pg) = conn {
                let ours: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                    "pg_try_advisory_xact_lock({FAN_OUT_LOCK})"
                )))
                .get_result(pg)?;
                if !ours {
                    return Ok(0);
                }
            }
            let rows: Vec<(i64, String, String, NaiveDateTime, i32)> = o::table
                .select((o::seq, o::kind, o::resource_id, o::updated_at, o::deleted))
                .order(o::seq.asc())
                .limit(limit)
                .load(conn)?;
            let Some(last) = rows.last().map(|row| row.0) else { return Ok(0) };
            let subscriptions: Vec<SubscriptionRow> =
                s::table.filter(s::active.eq(1)).select(subscription_columns!()).load(conn)?;
            let subscriptions: Vec<Subscription> =
                subscriptions.into_iter().map(subscription).collect::<StoreResult<_>>()?;
            let now = naive(Timestamp::now());
            for (seq, kind_text, resource, at, deleted) in &rows {
                if subscriptions.is_empty() {
                    break;
                }
                let kind: ResourceKind = super::rows::parse(kind_text, "resource kind")?;
                let id = uuid(resource)?;
                let (record, scope) = if *deleted != 0 { (None, None) } else { current(conn, kind, id)? };
                let scope = match scope {
                    Some(scope) => {
                        remember_scope(conn, resource, &scope)?;
                        scope
                    }
                    None => remembered_scope(conn, resource)?,
                };
                let updated_at = timestamp(*at);
                let action = action(*deleted != 0, record.as_ref(), updated_at);
                let event_type = format!("{kind}.{action}");
                let body = change_event(*seq, kind, id, action, updated_at, record).to_string();
                for sub in subscriptions.iter().filter(|sub| sub.wants(kind, scope.network_id, scope.district_key)) {
                    diesel::insert_into(d::table)
                        .values((
                            d::id.eq(message_id()),
                            d::subscription_id.eq(sub.id.to_string()),
                            d::seq.eq(Some(*seq)),
                            d::resource_id.eq(Some(resource)),
                            d::event_type.eq(&event_type),
                            d::body.eq(&body),
                            d::status.eq(DeliveryStatus::Pending.as_str()),
                            d::attempts.eq(0),
                            d::next_attempt_at.eq(Some(now)),
                            d::created_at.eq(now),
                        ))
                        .execute(conn)?;
                }
            }
            diesel::delete(o::table.filter(o::seq.le(last))).execute(conn)?;
            Ok(rows.len())
        })
    }

    /// Claims up to `limit` due deliveries for `owner` until `lease` has passed, at most `per_subscription`
    /// in flight per subscription (counting the leases other instances hold). A delivery is due when its
    /// subscription is active, its next attempt has come, nobody holds a lease on it, and no earlier event
    /// of the same record is still pending for the subscription (events of a record arrive in order). On
    /// PostgreSQL the candidates are locked `FOR UPDATE SKIP LOCKED` until the leases commit, so
    /// instances claiming at once take different deliveries, each exactly once.
    pub fn claim_deliveries(
        &self,
        owner: &str,
        lease: Duration,
        limit: i64,
        per_subscription: i64,
    ) -> StoreResult<Vec<Claimed>> {
        let now = Timestamp::now();
        let until = Timestamp(now.0 + chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::minutes(1)));
        self.webhook_transaction(|conn| {
            #[derive(QueryableByName)]
            struct Candidate {
                #[diesel(sql_type = Text)]
                id: String,
                #[diesel(sql_type = Text)]
                subscription_id: String,
            }
            let locking = match conn {
                DbConnection::Postgres(_) => " FOR UPDATE OF c SKIP LOCKED",
                DbConnection::Sqlite(_) => "",
            };
            let sql = format!(
                "SELECT c.id, c.subscription_id FROM webhook_deliveries c \
                 JOIN webhook_subscriptions s ON s.id = c.subscription_id \
                 WHERE c.status = 'pending' AND s.active = 1 AND c.next_attempt_at <= $1 \
                 AND (c.lease_expires_at IS NULL OR c.lease_expires_at < $1) \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.subscription_id = c.subscription_id \
                 AND e.resource_id = c.resource_id AND e.status = 'pending' AND e.seq < c.seq) \
                 ORDER BY c.next_attempt_at, c.seq LIMIT $2{locking}"
            );
            macro_rules! candidates {
                ($conn:expr) => {
                    diesel::sql_query(&sql)
                        .bind::<SqlTimestamp, _>(naive(now))
                        .bind::<BigInt, _>(limit.saturating_mul(4))
                        .load::<Candidate>($conn)?
                };
            }
            let candidates = match conn {
                DbConnection::Postgres(pg) => candidates!(pg),
                DbConnection::Sqlite(lite) => candidates!(lite),
            };
            if candidates.is_empty() {
                return Ok(Vec::new());
            }
            let leased: Vec<(String, i64)> = d::table
                .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
                .filter(d::lease_expires_at.ge(naive(now)))
                .group_by(d::subscription_id)
                .select((d::subscription_id, diesel::dsl::count_star()))
                .load(conn)?;
            let mut in_flight: std::collections::HashMap<String, i64> = leased.into_iter().collect();
            let mut ids = Vec::new();
            for candidate in candidates {
                let taken = in_flight.entry(candidate.subscription_id).or_default();
                if *taken < per_subscription && (ids.len() as i64) < limit {
                    *taken += 1;
                    ids.push(candidate.id);
                }
            }
            diesel::update(d::table.filter(d::id.eq_any(&ids)))
                .set((d::lease_owner.eq(Some(owner)), d::lease_expires_at.eq(Some(naive(until)))))
                .execute(conn)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            type Row = (String, String, String, String, i32, String, Option<String>, Option<NaiveDateTime>);
            let rows: Vec<Row> = d::table
                .inner_join(s::table)
                .filter(d::id.eq_any(&ids))
                .select((
                    d::id,
                    d::subscription_id,
                    s::url,
                    d::body,
                    d::attempts,
                    s::secret,
                    s::previous_secret,
                    s::previous_secret_expires_at,
                ))
                .load(conn)?;
            rows.into_iter()
                .map(|(id, sub, url, body, attempts, secret, previous, previous_until)| {
                    let mut secrets = vec![parse_secret(&secret)?];
                    if let (Some(previous), Some(until)) = (previous, previous_until)
                        && timestamp(until) > now
                    {
                        secrets.push(parse_secret(&previous)?);
                    }
                    Ok(Claimed {
                        id,
                        subscription: uuid(&sub)?,
                        url,
                        body,
                        attempts,
                        secrets,
                        owner: owner.to_string(),
                    })
                })
                .collect()
        })
    }

    /// Records one attempt of a claimed delivery and what follows from it: delivered, retried later, or
    /// failed; a subscription whose attempts have all failed for `disable_after` is deactivated.
    pub fn record_attempt(
        &self,
        claimed: &Claimed,
        result: &AttemptResult,
        disable_after: Duration,
    ) -> StoreResult<()> {
        let now = Timestamp::now();
        self.webhook_transaction(|conn| {
            // An attempt that outlived its lease is not recorded: the instance that took the delivery over
            // makes (and records) its own, so at worst the receiver sees the event twice.
            let target = d::table.find(&claimed.id).filter(d::lease_owner.eq(&claimed.owner));
            let sub = || s::table.find(claimed.subscription.to_string());
            let attempts = claimed.attempts + 1;
            match result {
                AttemptResult::Delivered { status, latency } => {
                    let recorded = diesel::update(target)
                        .set((
                            d::status.eq(DeliveryStatus::Delivered.as_str()),
                            d::attempts.eq(attempts),
                            d::last_status.eq(Some(i32::from(*status))),
                            d::last_error.eq(None::<String>),
                            d::last_latency_ms.eq(Some(latency.as_millis() as i64)),
                            d::last_attempt_at.eq(Some(naive(now))),
                            d::next_attempt_at.eq(None::<NaiveDateTime>),
                            d::lease_owner.eq(None::<String>),
                            d::lease_expires_at.eq(None::<NaiveDateTime>),
                        ))
                        .execute(conn)?;
                    if recorded == 0 {
                        return Ok(());
                    }
                    diesel::update(sub()).set(s::failing_since.eq(None::<NaiveDateTime>)).execute(conn)?;
                }
                AttemptResult::Failed { status, error, latency, retry_at } => {
                    let state = if retry_at.is_some() { DeliveryStatus::Pending } else { DeliveryStatus::Failed };
                    let recorded = diesel::update(target)
                        .set((
                            d::status.eq(state.as_str()),
                            d::attempts.eq(attempts),
                            d::last_status.eq(status.map(i32::from)),
                            d::last_error.eq(Some(error.chars().take(500).collect::<String>())),
                            d::last_latency_ms.eq(Some(latency.as_millis() as i64)),
                            d::last_attempt_at.eq(Some(naive(now))),
                            d::next_attempt_at.eq(retry_at.map(naive)),
                            d::lease_owner.eq(None::<String>),
                            d::lease_expires_at.eq(None::<NaiveDateTime>),
                        ))
                        .execute(conn)?;
                    if recorded == 0 {
                        return Ok(());
                    }
                    let since: Option<Option<NaiveDateTime>> = sub().select(s::failing_since).first(conn).optional()?;
                    let Some(since) = since else { return Ok(()) };
                    let Some(since) = since else {
                        diesel::update(sub()).set(s::failing_since.eq(Some(naive(now)))).execute(conn)?;
                        return Ok(());
                    };
                    let failing = (now.0 - timestamp(since).0).to_std().unwrap_or_default();
                    if failing >= disable_after {
                        let reason = format!(
                            "Deactivated at {}: every delivery attempt since {} failed (last: {}). \
                             Fix the receiver, then set active to true.",
                            now.to_rfc3339(),
                            timestamp(since).to_rfc3339(),
                            error.chars().take(200).collect::<String>()
                        );
                        diesel::update(sub())
                            .set((
                                s::active.eq(0),
                                s::deactivated_reason.eq(Some(reason)),
                                s::updated_at.eq(naive(now)),
                            ))
                            .execute(conn)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Forgets deliveries that ended (delivered or failed) before `before`; returns how many.
    pub fn prune_deliveries(&self, before: Timestamp) -> StoreResult<usize> {
        self.webhook_transaction(|conn| {
            let ended = d::status.ne(DeliveryStatus::Pending.as_str());
            Ok(diesel::delete(d::table.filter(ended).filter(d::created_at.lt(naive(before)))).execute(conn)?)
        })
    }

    /// How many events wait to be delivered, and since when the oldest does.
    pub fn webhook_queue(&self) -> StoreResult<QueueStats> {
        self.read(|conn| {
            let outbox: i64 = o::table.count().get_result(conn)?;
            let oldest_outbox: Option<NaiveDateTime> = o::table.select(diesel::dsl::min(o::updated_at)).first(conn)?;
            let pending = || d::table.filter(d::status.eq(DeliveryStatus::Pending.as_str()));
            let waiting: i64 = pending().count().get_result(conn)?;
            let oldest_pending: Option<NaiveDateTime> =
                pending().select(diesel::dsl::min(d::created_at)).first(conn)?;
            let oldest = [oldest_outbox, oldest_pending].into_iter().flatten().min().map(timestamp);
            Ok(QueueStats { outbox, pending: waiting, oldest })
        })
    }
}

fn parse_secret(text: &str) -> StoreResult<SigningSecret> {
    SigningSecret::parse(text).map_err(|_| StoreError::Corrupt("a stored webhook secret is not one".into()))
}

/// The record as anonymous readers see it (`None` when it is gone or hidden), and its scope (`None`
/// when it is gone).
fn current(conn: &mut DbConnection, kind: ResourceKind, id: Uuid) -> StoreResult<(Option<Value>, Option<Scope>)> {
    struct Current<'a> {
        conn: &'a mut DbConnection,
        id: Uuid,
        found: StoreResult<(Option<Value>, Option<Scope>)>,
    }
    impl KindVisitor for Current<'_> {
        fn visit<R: Table>(&mut self) {
            self.found = current_of::<R>(self.conn, self.id);
        }
    }
    let mut current = Current { conn, id, found: Ok((None, None)) };
    with_kind(kind, &mut current);
    current.found
}

fn current_of<R: Table>(conn: &mut DbConnection, id: Uuid) -> StoreResult<(Option<Value>, Option<Scope>)> {
    let Some(record) = R::load(conn, id)? else { return Ok((None, None)) };
    let scope = R::scope_of_record(conn, &record)?;
    let shown = R::present(conn, vec![record], &Access::Anonymous)?.into_iter().next();
    let value = match shown {
        Some(Change::Live(record)) => Some(serde_json::to_value(&record).unwrap_or_default()),
        _ => None,
    };
    Ok((value, Some(scope)))
}

fn remember_scope(conn: &mut DbConnection, resource: &str, scope: &Scope) -> StoreResult<()> {
    diesel::delete(sc::table.find(resource)).execute(conn)?;
    diesel::insert_into(sc::table)
        .values((
            sc::resource_id.eq(resource),
            sc::network_id.eq(scope.network_id.map(|n| n.to_string())),
            sc::district_key.eq(scope.district_key),
        ))
        .execute(conn)?;
    Ok(())
}

/// The scope a record had when its last event was made (a deleted record has none of its own).
fn remembered_scope(conn: &mut DbConnection, resource: &str) -> StoreResult<Scope> {
    let row: Option<(Option<String>, Option<i32>)> =
        sc::table.find(resource).select((sc::network_id, sc::district_key)).first(conn).optional()?;
    let Some((network, district)) = row else { return Ok(Scope::default()) };
    Ok(Scope { network_id: opt_uuid(network.as_deref())?, district_key: district })
}
