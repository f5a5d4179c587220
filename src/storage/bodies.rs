use diesel::dsl::count_star;
use diesel::prelude::*;
use uuid::Uuid;

use super::reference::network_scope;
use super::rows::{from_json, ids_to_text, naive, parse, timestamp, to_json, uuid};
use super::schema::{bodies, contacts, meetings};
use super::table::{Table, Window, apply_window, of_networks};
use super::{DbConnection, MultiBackend, RowLock, StoreError, StoreResult, lock_row, prepared};
use crate::domain::access::Scope;
use crate::domain::{Address, Body, BodyFilter, BodyInput, ResourceKind, Timestamp};

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

/// An address from its JSON column.
pub(super) fn address(column: Option<String>) -> StoreResult<Option<Address>> {
    column.as_deref().map(from_json).transpose()
}

/// The JSON column of an optional address.
pub(super) fn address_column(address: &Option<Address>) -> Option<String> {
    address.as_ref().map(to_json)
}

fn body(row: Row) -> StoreResult<Body> {
    let (
        id,
        network_id,
        body_type,
        name,
        description,
        address_json,
        email,
        phone,
        website,
        sources,
        created_at,
        updated_at,
    ) = row;
    Ok(Body {
        id: uuid(&id)?,
        network_id: uuid(&network_id)?,
        body_type: parse(&body_type, "body type")?,
        name,
        description,
        address: address(address_json)?,
        email,
        phone,
        website,
        sources: from_json(&sources)?,
        created_at: timestamp(created_at),
        updated_at: timestamp(updated_at),
    })
}

impl Table for Body {
    type Filter = BodyFilter;

    fn load(conn: &mut DbConnection, id: Uuid) -> StoreResult<Option<Body>> {
        Ok(Self::load_many(conn, &[id])?.pop())
    }

    fn load_many(conn: &mut DbConnection, ids: &[Uuid]) -> StoreResult<Vec<Body>> {
        let rows: Vec<Row> = bodies::table
            .filter(bodies::id.eq_any(ids_to_text(ids)))
            .select(bodies::all_columns)
            .order(bodies::id)
            .load(conn)?;
        rows.into_iter().map(body).collect()
    }

    fn list(conn: &mut DbConnection, filter: &BodyFilter, window: &Window) -> StoreResult<Vec<Body>> {
        let mut query = bodies::table.select(bodies::all_columns).into_boxed::<MultiBackend>();
        if let Some(network) = &filter.network {
            let ids = super::reference::networks_named(conn, network)?;
            query = of_networks!(query, bodies::network_id, ids);
        }
        if let Some(networks) = &filter.networks {
            query = query.filter(bodies::network_id.eq_any(ids_to_text(networks)));
        }
        if let Some(body_type) = filter.body_type {
            query = query.filter(bodies::body_type.eq(body_type.as_str()));
        }
        let rows: Vec<Row> = apply_window!(query, bodies, window).load(conn)?;
        rows.into_iter().map(body).collect()
    }

    fn insert(conn: &mut DbConnection, id: Uuid, input: &BodyInput, now: Timestamp) -> StoreResult<()> {
        diesel::insert_into(bodies::table)
            .values((
                bodies::id.eq(id.to_string()),
                bodies::network_id.eq(input.network_id.to_string()),
                bodies::body_type.eq(input.body_type.as_str()),
                bodies::name.eq(&input.name),
                bodies::description.eq(&input.description),
                bodies::address.eq(address_column(&input.address)),
                bodies::email.eq(&input.email),
                bodies::phone.eq(&input.phone),
                bodies::website.eq(&input.website),
                bodies::sources.eq(to_json(&input.sources)),
                bodies::created_at.eq(naive(now)),
                bodies::updated_at.eq(naive(now)),
            ))
            .execute(conn)?;
        Ok(())
    }

    fn update(
        conn: &mut DbConnection,
        id: Uuid,
        input: &BodyInput,
        now: Timestamp,
        version: Timestamp,
    ) -> StoreResult<Option<Self>> {
        let row: Option<Row> = prepared::update(
            bodies::table,
            (
                bodies::network_id.eq(input.network_id.to_string()),
                bodies::body_type.eq(input.body_type.as_str()),
                bodies::name.eq(&input.name),
                bodies::description.eq(&input.description),
                bodies::address.eq(address_column(&input.address)),
                bodies::email.eq(&input.email),
                bodies::phone.eq(&input.phone),
                bodies::website.eq(&input.website),
                bodies::sources.eq(to_json(&input.sources)),
                bodies::updated_at.eq(naive(now)),
            ),
            bodies::id.eq(id.to_string()).and(bodies::updated_at.eq(naive(version))),
        )
        .returning(bodies::all_columns)
        .get_result(conn)
        .optional()?;
        row.map(body).transpose()
    }

    fn delete(conn: &mut DbConnection, id: Uuid) -> StoreResult<()> {
        diesel::delete(bodies::table.find(id.to_string())).execute(conn)?;
        Ok(())
    }

    fn scope_of_input(conn: &mut DbConnection, _id: Option<Uuid>, input: &BodyInput) -> StoreResult<Scope> {
        network_scope(conn, input.network_id)
    }

    fn scope_of_record(conn: &mut DbConnection, record: &Body) -> StoreResult<Scope> {
        network_scope(conn, record.network_id)
    }

    /// A body with contacts stays in its network: they belong to that network too, and moving the body
    /// alone would leave them split between two networks (and two sets of editors).
    fn check_conflicts(
        conn: &mut DbConnection,
        id: Option<Uuid>,
        input: &BodyInput,
        before: Option<&BodyInput>,
    ) -> StoreResult<()> {
        let (Some(id), Some(before)) = (id, before) else { return Ok(()) };
        if before.network_id == input.network_id {
            return Ok(());
        }
        lock_row(conn, ResourceKind::Bodies, id, RowLock::Update)?;
        let contacts: i64 =
            contacts::table.filter(contacts::body_id.eq(id.to_string())).select(count_star()).first(conn)?;
        if contacts > 0 {
            return Err(StoreError::Conflict(format!(
                "networkId: {contacts} contact(s) belong to this body and its network; move them or remove their bodyId first"
            )));
        }
        let meetings: i64 =
            meetings::table.filter(meetings::body_id.eq(id.to_string())).select(count_star()).first(conn)?;
        if meetings > 0 {
            return Err(StoreError::Conflict(format!(
                "networkId: {meetings} meeting(s) of this body belong to its network; move them or remove their bodyId first"
            )));
        }
        Ok(())
    }

    fn check_dependents(conn: &mut DbConnection, id: Uuid) -> StoreResult<()> {
        let count: i64 =
            contacts::table.filter(contacts::body_id.eq(id.to_string())).select(count_star()).first(conn)?;
        if count > 0 {
            return Err(StoreError::Conflict(format!(
                "the body still has {count} contact(s); delete them or remove their bodyId first"
            )));
        }
        let meetings: i64 =
            meetings::table.filter(meetings::body_id.eq(id.to_string())).select(count_star()).first(conn)?;
        if meetings > 0 {
            return Err(StoreError::Conflict(format!(
                "the body still has {meetings} meeting(s); delete them or remove their bodyId first"
            )));
        }
        Ok(())
    }
}
