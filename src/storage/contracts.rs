use std::collections::HashMap;

use diesel::prelude::*;
use uuid::Uuid;

use super::rows::{from_json, ids_to_text, naive, parse, row_values, timestamp, to_json, uuid};
use super::schema::{contract_handlungsfelder as links, contracts, networks};
use super::table::{Table, Window, apply_window, of_networks, row_table};
use super::{DbConnection, MultiBackend, StoreResult, prepared};
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

row_values! {
    contracts: ContractValues<'a>(input: &'a ContractInput) {
        network_id: String = input.network_id.to_string(),
        kind: &'static str = input.kind.as_str(),
        signed_on: Option<String> = input.signed_on.map(|d| d.to_string()),
        signatories: String = to_json(&input.signatories),
        document_url: Option<&'a str> = input.document_url.as_deref(),
        notes: Option<&'a str> = input.notes.as_deref(),
        sources: String = to_json(&input.sources),
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
        query = of_networks!(conn, query, contracts::network_id, filter);
        if let Some(kind) = filter.kind {
            query = query.filter(contracts::kind.eq(kind.as_str()));
        }
        let rows: Vec<ContractRow> = apply_window!(query, contracts, window).load(conn)?;
        assemble(conn, rows)
    }

    row_table!(@linked contracts, ContractValues, links, contract_id);

    row_table!(@network_scope);

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
