//! The latest change of every record: the change feed and the tombstones of deleted records.

use diesel::prelude::*;
use uuid::Uuid;

use super::prepared::Handwritten;
use super::rows::{naive, timestamp, uuid};
use super::schema::changes::dsl::*;
use super::table::{Cursor, Window};
use super::{DbConnection, StoreResult};
use crate::domain::{ResourceKind, Timestamp};

/// An entry of a list with `modifiedSince`: a record, or the tombstone of a deleted (or hidden) one.
#[derive(Debug, Clone)]
pub enum Change<R> {
    Live(R),
    Deleted { id: Uuid, updated_at: Timestamp },
}

impl<R: crate::domain::Resource> Change<R> {
    pub fn key(&self) -> (Timestamp, Uuid) {
        match self {
            Change::Live(record) => (record.updated_at(), record.id()),
            Change::Deleted { id: deleted_id, updated_at: at } => (*at, *deleted_id),
        }
    }
}

/// A row of the change feed.
#[derive(Debug, Clone)]
pub struct ChangeEntry {
    pub seq: i64,
    pub kind: ResourceKind,
    pub id: Uuid,
    pub updated_at: Timestamp,
    pub deleted: bool,
}

/// Records that `resource` changed at `at` (or was deleted), replacing its previous entry.
pub fn record(
    conn: &mut DbConnection,
    of: ResourceKind,
    resource: Uuid,
    at: Timestamp,
    is_deleted: bool,
) -> StoreResult<()> {
    use diesel::sql_types::{Integer, Text, Timestamp as SqlTimestamp};
    // One statement: writes hold the registry's write lock, so MAX(seq) + 1 is the next number.
    Handwritten {
        head: "INSERT INTO changes (resource_id, kind, updated_at, deleted, seq) SELECT ",
        values: (
            resource.to_string().into_sql::<Text>(),
            of.as_str().into_sql::<Text>(),
            naive(at).into_sql::<SqlTimestamp>(),
            i32::from(is_deleted).into_sql::<Integer>(),
        ),
        tail: ", COALESCE(MAX(seq), 0) + 1 FROM changes WHERE true ON CONFLICT (resource_id) DO UPDATE SET \
            kind = excluded.kind, seq = excluded.seq, updated_at = excluded.updated_at, deleted = excluded.deleted",
    }
    .execute(conn)?;
    Ok(())
}

/// Tombstones of `of` in change order within `window` (which has `since`).
pub fn tombstones(conn: &mut DbConnection, of: ResourceKind, window: &Window) -> StoreResult<Vec<(Uuid, Timestamp)>> {
    let Some(since) = window.since else {
        return Ok(Vec::new());
    };
    let mut query =
        changes.filter(kind.eq(of.as_str())).filter(deleted.eq(1)).filter(updated_at.ge(naive(since))).into_boxed();
    if let Some(Cursor::Changed { at, id }) = &window.after {
        query =
            query.filter(updated_at.gt(naive(*at)).or(updated_at.eq(naive(*at)).and(resource_id.gt(id.to_string()))));
    }
    let rows: Vec<(String, chrono::NaiveDateTime)> = query
        .select((resource_id, updated_at))
        .order((updated_at.asc(), resource_id.asc()))
        .limit(window.limit)
        .load(conn)?;
    rows.into_iter().map(|(text, at)| Ok((uuid(&text)?, timestamp(at)))).collect()
}

/// The change feed after `after_seq`, optionally of some kinds only.
pub fn feed(
    conn: &mut DbConnection,
    after_seq: i64,
    kinds: &[ResourceKind],
    since: Option<Timestamp>,
    limit: i64,
) -> StoreResult<Vec<ChangeEntry>> {
    let mut query = changes.filter(seq.gt(after_seq)).into_boxed();
    if let Some(since) = since {
        query = query.filter(updated_at.ge(naive(since)));
    }
    if !kinds.is_empty() {
        query = query.filter(kind.eq_any(kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()));
    }
    let rows: Vec<(String, String, i64, chrono::NaiveDateTime, i32)> =
        query.select((resource_id, kind, seq, updated_at, deleted)).order(seq.asc()).limit(limit).load(conn)?;
    rows.into_iter()
        .map(|(text, kind_text, number, at, gone)| {
            Ok(ChangeEntry {
                seq: number,
                kind: super::rows::parse(&kind_text, "resource kind")?,
                id: uuid(&text)?,
                updated_at: timestamp(at),
                deleted: gone != 0,
            })
        })
        .collect()
}

/// The time of the last change of anything (for the discovery document).
pub fn last_change(conn: &mut DbConnection) -> StoreResult<Option<Timestamp>> {
    let at: Option<chrono::NaiveDateTime> = changes.select(diesel::dsl::max(updated_at)).first(conn)?;
    Ok(at.map(timestamp))
}
