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

/// The change feed after `after_seq`, optionally of some kinds only and of changes since a time.
///
/// Each kind is a range of the index (kind, seq), read in sequence order as far as the page needs: several
/// kinds are read one by one and merged, so that no page sorts the feed of a kind.
pub fn feed(
    conn: &mut DbConnection,
    after_seq: i64,
    kinds: &[ResourceKind],
    since: Option<Timestamp>,
    limit: i64,
) -> StoreResult<Vec<ChangeEntry>> {
    if kinds.len() <= 1 {
        return feed_of(conn, after_seq, kinds.first().copied(), since, limit);
    }
    let mut entries = Vec::new();
    for &of in kinds {
        entries.extend(feed_of(conn, after_seq, Some(of), since, limit)?);
    }
    entries.sort_by_key(|entry| entry.seq);
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(entries)
}

/// The most sequence numbers [`feed_of`] collects from the times at once.
const MOST_FROM_TIMES: i64 = 65_536;

/// The feed of one kind (or of all), after `after_seq`.
///
/// With `since`, the entries are those changed at or after it, still in sequence order. Sequence and time
/// agree across write transactions but not within one (an import keeps the times of its file), so no
/// index answers that directly, and either order alone may read the whole feed: the sequence when only
/// the last changes are that recent, the times when most are. So the two take turns with growing
/// budgets, and the one that needs fewer rows ends it: when fewer than the budget of entries after the
/// start changed since `since`, the times name all of them; else the next stretch of the sequence is
/// searched for them.
fn feed_of(
    conn: &mut DbConnection,
    after_seq: i64,
    of: Option<ResourceKind>,
    since: Option<Timestamp>,
    limit: i64,
) -> StoreResult<Vec<ChangeEntry>> {
    let Some(since) = since else { return entries_after(conn, after_seq, None, of, None, limit) };
    let last: Option<i64> = changes.select(diesel::dsl::max(seq)).first(conn)?;
    let last = last.unwrap_or_default();
    let mut found = Vec::new();
    let (mut from, mut stretch, mut from_times) = (after_seq, limit.max(1) * 64, limit.max(1) * 16);
    while from < last && (found.len() as i64) < limit {
        if from_times <= MOST_FROM_TIMES {
            let mut changed = seqs_changed_since(conn, from, of, since, from_times)?;
            if (changed.len() as i64) < from_times {
                changed.sort_unstable();
                changed.truncate(usize::try_from(limit).unwrap_or(usize::MAX) - found.len());
                found.extend(entries_numbered(conn, &changed)?);
                break;
            }
            from_times *= 4;
        }
        let until = from.saturating_add(stretch);
        found.extend(entries_after(conn, from, Some(until), of, Some(since), limit - found.len() as i64)?);
        (from, stretch) = (until, stretch.saturating_mul(2));
    }
    Ok(found)
}

type FeedRow = (String, String, i64, chrono::NaiveDateTime, i32);

fn entry((text, kind_text, number, at, gone): FeedRow) -> StoreResult<ChangeEntry> {
    Ok(ChangeEntry {
        seq: number,
        kind: super::rows::parse(&kind_text, "resource kind")?,
        id: uuid(&text)?,
        updated_at: timestamp(at),
        deleted: gone != 0,
    })
}

/// The next `limit` entries after `after_seq` (up to `until`), of one kind or all, changed since `since`.
fn entries_after(
    conn: &mut DbConnection,
    after_seq: i64,
    until: Option<i64>,
    of: Option<ResourceKind>,
    since: Option<Timestamp>,
    limit: i64,
) -> StoreResult<Vec<ChangeEntry>> {
    let mut query = changes.filter(seq.gt(after_seq)).into_boxed();
    if let Some(until) = until {
        query = query.filter(seq.le(until));
    }
    if let Some(of) = of {
        query = query.filter(kind.eq(of.as_str()));
    }
    if let Some(since) = since {
        query = query.filter(updated_at.ge(naive(since)));
    }
    let rows: Vec<FeedRow> =
        query.select((resource_id, kind, seq, updated_at, deleted)).order(seq.asc()).limit(limit).load(conn)?;
    rows.into_iter().map(entry).collect()
}

/// The sequence numbers after `after_seq` of up to `limit` entries changed at or after `since`, earliest first.
fn seqs_changed_since(
    conn: &mut DbConnection,
    after_seq: i64,
    of: Option<ResourceKind>,
    since: Timestamp,
    limit: i64,
) -> StoreResult<Vec<i64>> {
    let mut query = changes.filter(updated_at.ge(naive(since))).filter(seq.gt(after_seq)).into_boxed();
    if let Some(of) = of {
        query = query.filter(kind.eq(of.as_str()));
    }
    Ok(query.select(seq).order(updated_at.asc()).limit(limit).load(conn)?)
}

/// The entries with these sequence numbers, in sequence order.
fn entries_numbered(conn: &mut DbConnection, numbers: &[i64]) -> StoreResult<Vec<ChangeEntry>> {
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<FeedRow> = changes
        .filter(seq.eq_any(numbers))
        .select((resource_id, kind, seq, updated_at, deleted))
        .order(seq.asc())
        .load(conn)?;
    rows.into_iter().map(entry).collect()
}

/// The time of the last change of anything (for the discovery document).
pub fn last_change(conn: &mut DbConnection) -> StoreResult<Option<Timestamp>> {
    let at: Option<chrono::NaiveDateTime> = changes.select(diesel::dsl::max(updated_at)).first(conn)?;
    Ok(at.map(timestamp))
}
