use std::collections::HashMap;

use diesel::prelude::*;
use uuid::Uuid;

use super::reference::network_scope;
use super::rows::{from_json, ids_to_text, naive, parse, timestamp, to_json, uuid};
use super::schema::{contract_handlungsfelder as links, contracts, networks};
use super::table::{Table, Window, apply_window};
use super::{DbConnection, MultiBackend, StoreResult, prepared};
use crate::domain::access::Scope;
use crate::domain::{Contract, ContractFilter, ContractInput, Resource, ResourceKind, Timestamp};

type Row = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

fn assemble(conn: &mut DbConnection, rows: Vec<Row>) -> StoreResult<Vec<Contract>> {
    let ids: Vec<String> = rows.iter().map(|row| row.0.clone()).collect();
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
        .map(|(id, network_id, kind, signed_on, signatories, document_url, notes, sources, created_at, updated_at)| {
            Ok(Contract {
                handlungsfeld_ids: linked.remove(&id).unwrap_or_default(),
                id: uuid(&id)?,
                network_id: uuid(&network_id)?,
                kind: parse(&kind, "contract kind")?,
                signed_on: signed_on.as_deref().map(|d| parse(d, "date")).transpose()?,
                signatories: from_json(&signatories)?,
                document_url,
                notes,
                sources: from_json(&sources)?,
                created_at: timestamp(created_at),
                updated_at: timestamp(updated_at),
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

    fn load(conn: &mut DbConnection, id: Uuid) -> StoreResult<Option<Contract>> {
        Ok(Self::load_many(conn, &[id])?.pop())
    }

    fn load_many(conn: &mut DbConnection, ids: &[Uuid]) -> StoreResult<Vec<Contract>> {
        let rows: Vec<Row> = contracts::table
            .filter(contracts::id.eq_any(ids_to_text(ids)))
            .select(contracts::all_columns)
            .order(contracts::id)
            .load(conn)?;
        assemble(conn, rows)
    }

    fn list(conn: &mut DbConnection, filter: &ContractFilter, window: &Window) -> StoreResult<Vec<Contract>> {
        let mut query = contracts::table.select(contracts::all_columns).into_boxed::<MultiBackend>();
        if let Some(network) = &filter.network {
            let ids = networks::table
                .filter(networks::slug.eq(network.clone()).or(networks::id.eq(network.to_lowercase())))
                .select(networks::id);
            query = query.filter(contracts::network_id.eq_any(ids));
        }
        if let Some(networks) = &filter.networks {
            query = query.filter(contracts::network_id.eq_any(ids_to_text(networks)));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(contracts::kind.eq(kind.as_str()));
        }
        let rows: Vec<Row> = apply_window!(query, contracts, window).load(conn)?;
        assemble(conn, rows)
    }

    fn insert(conn: &mut DbConnection, id: Uuid, input: &ContractInput, now: Timestamp) -> StoreResult<()> {
        diesel::insert_into(contracts::table)
            .values((
                contracts::id.eq(id.to_string()),
                contracts::network_id.eq(input.network_id.to_string()),
                contracts::kind.eq(input.kind.as_str()),
                contracts::signed_on.eq(input.signed_on.map(|d| d.to_string())),
                contracts::signatories.eq(to_json(&input.signatories)),
                contracts::document_url.eq(&input.document_url),
                contracts::notes.eq(&input.notes),
                contracts::sources.eq(to_json(&input.sources)),
                contracts::created_at.eq(naive(now)),
                contracts::updated_at.eq(naive(now)),
            ))
            .execute(conn)?;
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
            (
                contracts::network_id.eq(input.network_id.to_string()),
                contracts::kind.eq(input.kind.as_str()),
                contracts::signed_on.eq(input.signed_on.map(|d| d.to_string())),
                contracts::signatories.eq(to_json(&input.signatories)),
                contracts::document_url.eq(&input.document_url),
                contracts::notes.eq(&input.notes),
                contracts::sources.eq(to_json(&input.sources)),
                contracts::updated_at.eq(naive(now)),
            ),
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
