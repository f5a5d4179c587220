//! The append-only audit log of writes.

use diesel::prelude::*;
use uuid::Uuid;

use super::prepared::Handwritten;
use super::rows::{from_json, naive, opt_uuid, timestamp, to_json, uuid};
use super::schema::audit_log::dsl as a;
use super::{Actor, DbConnection, StoreResult};
use crate::domain::{AuditEntry, Timestamp};

/// The types of records the audit log has entries of: the editable kinds and the API keys.
pub fn audited_types() -> Vec<&'static str> {
    let mut types = super::kinds::editable_names();
    types.extend([API_KEYS, super::webhooks::WEBHOOKS]);
    types
}

/// The audit log's name for API keys, which are no resource kind of the registry's data.
pub const API_KEYS: &str = "api-keys";

/// Filters of the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub resource_id: Option<Uuid>,
    /// One of [`audited_types`].
    pub resource_type: Option<String>,
    /// Entries written at or after this time.
    pub since: Option<Timestamp>,
    pub key_id: Option<Uuid>,
    pub action: Option<String>,
}

/// Appends one entry; called inside the write's transaction.
pub fn append(
    conn: &mut DbConnection,
    actor: &Actor,
    resource_type: &str,
    resource: Uuid,
    action: &str,
    changed_fields: &[String],
    at: Timestamp,
) -> StoreResult<()> {
    use diesel::sql_types::{Nullable, Text, Timestamp as SqlTimestamp};
    // One statement: writes hold the registry's write lock, so MAX(seq) + 1 is the next number.
    Handwritten {
        head: "INSERT INTO audit_log \
            (id, at, key_id, key_name, request_id, kind, resource_id, action, changed_fields, seq) SELECT ",
        values: (
            Uuid::now_v7().to_string().into_sql::<Text>(),
            naive(at).into_sql::<SqlTimestamp>(),
            actor.key_id.map(|id| id.to_string()).into_sql::<Nullable<Text>>(),
            actor.key_name.clone().into_sql::<Nullable<Text>>(),
            actor.request_id.clone().into_sql::<Nullable<Text>>(),
            resource_type.to_string().into_sql::<Text>(),
            resource.to_string().into_sql::<Text>(),
            action.to_string().into_sql::<Text>(),
            to_json(&changed_fields).into_sql::<Text>(),
        ),
        tail: ", COALESCE(MAX(seq), 0) + 1 FROM audit_log",
    }
    .execute(conn)?;
    Ok(())
}

type AuditRow = (
    i64,
    String,
    chrono::NaiveDateTime,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
);

/// A page of the log, newest last, after sequence number `after`.
pub fn list(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    after: i64,
    limit: i64,
) -> StoreResult<Vec<(i64, AuditEntry)>> {
    let mut query = a::audit_log.filter(a::seq.gt(after)).into_boxed();
    if let Some(id) = filter.resource_id {
        query = query.filter(a::resource_id.eq(id.to_string()));
    }
    if let Some(kind) = &filter.resource_type {
        query = query.filter(a::kind.eq(kind.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(a::at.ge(naive(since)));
    }
    if let Some(id) = filter.key_id {
        query = query.filter(a::key_id.eq(id.to_string()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(a::action.eq(action.clone()));
    }
    let rows: Vec<AuditRow> = query
        .select((
            a::seq,
            a::id,
            a::at,
            a::key_id,
            a::key_name,
            a::request_id,
            a::kind,
            a::resource_id,
            a::action,
            a::changed_fields,
        ))
        .order(a::seq.asc())
        .limit(limit)
        .load(conn)?;
    rows.into_iter()
        .map(|(seq, id, at, key_id, key_name, request_id, kind, resource_id, action, fields)| {
            Ok((
                seq,
                AuditEntry {
                    id: uuid(&id)?,
                    at: timestamp(at),
                    key_id: opt_uuid(key_id.as_deref())?,
                    key_name,
                    request_id,
                    resource_type: kind,
                    resource_id: uuid(&resource_id)?,
                    action,
                    changed_fields: from_json(&fields)?,
                },
            ))
        })
        .collect()
}
