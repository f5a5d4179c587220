use std::collections::HashMap;

use diesel::prelude::*;
use uuid::Uuid;

use super::reference::network_scope;
use super::rows::{from_json, ids_to_text, naive, parse, timestamp, to_json, uuid};
use super::schema::{contract_handlungsfelder as links, contracts, networks};
use super::table::{Table, Window, apply_window, of_networks};
use super::{DbConnection, MultiBackend, StoreResult, prepared};
use crate::domain::access::Scope;
use crate::domain::{Contract, ContractFilter, ContractInput, LongText, Resource, ResourceKind, Timestamp, WebUrl};

/// A contract's columns as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = contracts)]
struct ContractRow {
    id: String,
    network_id: String,
    kind: String,
    signed_on: Option<String>,
    signatories: String,
    document_url: Option<String>,
    notes: Option<String>,
    sources: String,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

/// The columns a write sets, borrowed from the input: the insert's values, and (without `id` and
/// `createdAt`) the update's changes.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = contracts, treat_none_as_default_value = false, treat_none_as_null = true)]
struct ContractValues<'a> {
    id: String,
    network_id: String,
    kind: &'static str,
    signed_on: Option<String>,
    signatories: String,
    document_url: Option<&'a str>,
    notes: Option<&'a str>,
    sources: String,
    #[diesel(skip_update)]
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl<'a> ContractValues<'a> {
    fn new(id: Uuid, input: &'a ContractInput, now: Timestamp) -> Self {
        ContractValues {
            id: id.to_string(),
            network_id: input.network_id.to_string(),
            kind: input.kind.as_str(),
            signed_on: input.signed_on.map(|d| d.to_string()),
            signatories: to_json(&input.signatories),
            document_url: input.document_url.as_deref(),
            notes: input.notes.as_deref(),
            sources: to_json(&input.sources),
            created_at: naive(now),
            updated_at: naive(now),
        }
    }
}

fn assemble(conn: &mut DbConnection, rows: Vec<ContractRow>) -> StoreResult<Vec<Contract>> {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let link_rows: Vec<(String, String)> = links::table
        .filter(links::contract_id.eq_any(&ids))
        .select((links::contract_id, links::handlungsfeld_id))
        .order((links::contract_id, links::position))
        .load(conn)?;
    let mut linked: HashMap<String, Vec<Uuid>> = HashMap::new();
    for (contract, handlungsfeld) in link_rows {
        linked.entry(contract).or_default().push(uuid(&handlungsfeld)?);
    }
    rows.into_iter()
        .map(|row| {
            Ok(Contract {
                handlungsfeld_ids: linked.remove(&row.id).unwrap_or_default(),
                id: uuid(&row.id)?,
                network_id: uuid(&row.network_id)?,
                kind: parse(&row.kind, "contract kind")?,
                signed_on: row.signed_on.as_deref().map(|d| parse(d, "date")).transpose()?,
                signatories: from_json(&row.signatories)?,
                document_url: row.document_url.map(WebUrl::from_stored),
                notes: row.notes.map(LongText::from_stored),
                sources: from_json(&row.sources)?,
                created_at: timestamp(row.created_at),
                updated_at: timestamp(row.updated_at),
            })
        })
        .collect()
}

fn write_links(conn: &mut DbConnection, id: Uuid, input: &ContractInput) -> StoreResult<()> {
    diesel::delete(links::table.filter(links::contract_id.eq(id.to_string()))).execute(conn)?;
    for (position, handlungsfeld) in input.handlungsfeld_ids.iter().enumerate() {
        diesel::insert_into(links::table)
            .values((
                links::contract_id.eq(id.to_string()),
                links::handlungsfeld_id.eq(handlungsfeld.to_string()),
                links::position.eq(position as i32),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Marks a network changed (its `foundedOn` derives from its contracts): its `updatedAt` moves to `now`,
/// or just past its current one when that is later (a write of the network since this write took its
/// time). Returns the new `updatedAt`; `None` when the network does not exist.
fn touch_network(conn: &mut DbConnection, network: Uuid, now: Timestamp) -> StoreResult<Option<Timestamp>> {
    let id = network.to_string();
    let current = networks::table.find(&id).select(networks::updated_at);
    // Locked as the update below will lock it, so that nobody changes it in between.
    let current: Option<chrono::NaiveDateTime> = match conn {
        DbConnection::Postgres(pg) => current.for_no_key_update().first(pg).optional()?,
        DbConnection::Sqlite(sqlite) => current.first(sqlite).optional()?,
    };
    let Some(current) = current else { return Ok(None) };
    let stamp = now.max(timestamp(current).next());
    prepared::update(networks::table, networks::updated_at.eq(naive(stamp)), networks::id.eq(&id)).execute(conn)?;
    Ok(Some(stamp))
}

impl Table for Contract {
    type Filter = ContractFilter;

    fn load_many(conn: &mut DbConnection, ids: &[Uuid]) -> StoreResult<Vec<Contract>> {
        let rows: Vec<ContractRow> = contracts::table
            .filter(contracts::id.eq_any(ids_to_text(ids)))
            .select(ContractRow::as_select())
            .order(contracts::id)
            .load(conn)?;
        assemble(conn, rows)
    }

    fn list(conn: &mut DbConnection, filter: &ContractFilter, window: &Window) -> StoreResult<Vec<Contract>> {
        let mut query = contracts::table.select(ContractRow::as_select()).into_boxed::<MultiBackend>();
        if let Some(network) = &filter.network {
            let ids = super::reference::networks_named(conn, network)?;
            query = of_networks!(query, contracts::network_id, ids);
        }
        if let Some(networks) = &filter.networks {
            query = query.filter(contracts::network_id.eq_any(ids_to_text(networks)));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(contracts::kind.eq(kind.as_str()));
        }
        let rows: Vec<ContractRow> = apply_window!(query, contracts, window).load(conn)?;
        assemble(conn, rows)
    }

    fn insert(conn: &mut DbConnection, id: Uuid, input: &ContractInput, now: Timestamp) -> StoreResult<()> {
        diesel::insert_into(contracts::table).values(ContractValues::new(id, input, now)).execute(conn)?;
        write_links(conn, id, input)
    }

    fn update(
        conn: &mut DbConnection,
        id: Uuid,
        input: &ContractInput,
        now: Timestamp,
        version: Timestamp,
    ) -> StoreResult<Option<Self>> {
        let rows = prepared::update(
            contracts::table,
            ContractValues::new(id, input, now),
            contracts::id.eq(id.to_string()).and(contracts::updated_at.eq(naive(version))),
        )
        .execute(conn)?;
        if rows != 1 {
            return Ok(None);
        }
        write_links(conn, id, input)?;
        Self::load(conn, id)
    }

    fn delete(conn: &mut DbConnection, id: Uuid) -> StoreResult<()> {
        diesel::delete(links::table.filter(links::contract_id.eq(id.to_string()))).execute(conn)?;
        diesel::delete(contracts::table.find(id.to_string())).execute(conn)?;
        Ok(())
    }

    fn scope_of_input(conn: &mut DbConnection, _id: Option<Uuid>, input: &ContractInput) -> StoreResult<Scope> {
        network_scope(conn, input.network_id)
    }

    fn scope_of_record(conn: &mut DbConnection, record: &Contract) -> StoreResult<Scope> {
        network_scope(conn, record.network_id)
    }

    fn touch_related(
        conn: &mut DbConnection,
        before: Option<&Contract>,
        after: Option<&ContractInput>,
        now: Timestamp,
    ) -> StoreResult<Vec<(ResourceKind, Uuid, Timestamp)>> {
        let mut networks: Vec<Uuid> = before.map(|c| c.network_id).into_iter().collect();
        networks.extend(after.and_then(Contract::network_of));
        // Always in the same order, so that two writers never wait for each other's network.
        networks.sort();
        networks.dedup();
        let mut touched = Vec::new();
        for network in networks {
            if let Some(stamp) = touch_network(conn, network, now)? {
                touched.push((ResourceKind::Networks, network, stamp));
            }
        }
        Ok(touched)
    }
}
