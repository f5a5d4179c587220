use diesel::dsl::count_star;
use diesel::prelude::*;
use uuid::Uuid;

use super::rows::{from_json, parse, row_values, stored_row, to_json, uuid};
use super::schema::{bodies, contacts, meetings};
use super::table::{Proposed, Table, Window, apply_window, of_networks, row_table};
use super::{DbConnection, MultiBackend, RowLock, StoreError, StoreResult, lock_row};
use crate::domain::{Address, Body, BodyFilter, BodyInput, Email, LongText, Name, Phone, ResourceKind, WebUrl};

stored_row! {
    /// A body's columns as stored.
    bodies: BodyRow => Body |row| {
        network_id: String => uuid(&row.network_id)?,
        body_type: String => parse(&row.body_type, "body type")?,
        name: String => Name::from_stored(row.name),
        description: Option<String> => row.description.map(LongText::from_stored),
        address: Option<String> => address(row.address)?,
        email: Option<String> => row.email.map(Email::from_stored),
        phone: Option<String> => row.phone.map(Phone::from_stored),
        website: Option<String> => row.website.map(WebUrl::from_stored),
        sources: String => from_json(&row.sources)?,
    }
}

row_values! {
    bodies: BodyValues<'a>(input: &'a BodyInput) {
        network_id: String = input.network_id.to_string(),
        body_type: &'static str = input.body_type.as_str(),
        name: &'a str = &input.name,
        description: Option<&'a str> = input.description.as_deref(),
        address: Option<String> = address_column(&input.address),
        email: Option<&'a str> = input.email.as_deref(),
        phone: Option<&'a str> = input.phone.as_deref(),
        website: Option<&'a str> = input.website.as_deref(),
        sources: String = to_json(&input.sources),
    }
}

/// An address from its JSON column.
pub(super) fn address(column: Option<String>) -> StoreResult<Option<Address>> {
    column.as_deref().map(from_json).transpose()
}

/// The JSON column of an optional address.
pub(super) fn address_column(address: &Option<Address>) -> Option<String> {
    address.as_ref().map(to_json)
}

/// How many contacts name the body (they keep it in its network, and from being deleted).
fn contacts_of(conn: &mut DbConnection, id: Uuid) -> StoreResult<i64> {
    Ok(contacts::table.filter(contacts::body_id.eq(id.to_string())).select(count_star()).first(conn)?)
}

/// How many meetings name the body (as for contacts).
fn meetings_of(conn: &mut DbConnection, id: Uuid) -> StoreResult<i64> {
    Ok(meetings::table.filter(meetings::body_id.eq(id.to_string())).select(count_star()).first(conn)?)
}

impl Table for Body {
    type Filter = BodyFilter;

    row_table!(bodies, BodyRow, BodyValues);

    fn list(conn: &mut DbConnection, filter: &BodyFilter, window: &Window) -> StoreResult<Vec<Body>> {
        let mut query = bodies::table.select(BodyRow::as_select()).into_boxed::<MultiBackend>();
        query = of_networks!(conn, query, bodies::network_id, filter);
        if let Some(body_type) = filter.body_type {
            query = query.filter(bodies::body_type.eq(body_type.as_str()));
        }
        let rows: Vec<BodyRow> = apply_window!(query, bodies, window).load(conn)?;
        rows.into_iter().map(Body::try_from).collect()
    }

    row_table!(@network_scope);

    /// A body with contacts stays in its network: they belong to that network too, and moving the body
    /// alone would leave them split between two networks (and two sets of editors).
    fn check_conflicts(conn: &mut DbConnection, write: Proposed<'_, Self>) -> StoreResult<()> {
        let Proposed { id, input, before } = write;
        let (Some(id), Some(before)) = (id, before) else { return Ok(()) };
        if before.network_id == input.network_id {
            return Ok(());
        }
        lock_row(conn, ResourceKind::Bodies, id, RowLock::Update)?;
        refuse_if_any(contacts_of(conn, id)?, |n| {
            format!(
                "networkId: {n} contact(s) belong to this body and its network; move them or remove their bodyId first"
            )
        })?;
        refuse_if_any(meetings_of(conn, id)?, |n| {
            format!(
                "networkId: {n} meeting(s) of this body belong to its network; move them or remove their bodyId first"
            )
        })
    }

    fn check_dependents(conn: &mut DbConnection, id: Uuid) -> StoreResult<()> {
        refuse_if_any(contacts_of(conn, id)?, |n| {
            format!("the body still has {n} contact(s); delete them or remove their bodyId first")
        })?;
        refuse_if_any(meetings_of(conn, id)?, |n| {
            format!("the body still has {n} meeting(s); delete them or remove their bodyId first")
        })
    }
}

/// 409 with the message for `count` when records still depend on the body.
fn refuse_if_any(count: i64, message: impl FnOnce(i64) -> String) -> StoreResult<()> {
    if count > 0 { Err(StoreError::Conflict(message(count))) } else { Ok(()) }
}
