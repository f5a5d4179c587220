use std::collections::HashMap;

use diesel::dsl::count_star;
use diesel::prelude::*;
use uuid::Uuid;

use super::reference::{district_of_region, network_scope};
use super::rows::{contains_pattern, from_json, ids_to_text, lower, naive, parse, timestamp, to_json, uuid};
use super::schema::{
    bodies, contacts, contracts, handlungsfelder, network_handlungsfelder as links, networks, regions,
};
use super::table::{Table, Window, apply_window};
use super::{DbConnection, MultiBackend, RowLock, StoreError, StoreResult, lock_row, prepared};
use crate::domain::access::Scope;
use crate::domain::network::derive_founded_on;
use crate::domain::{ContractKind, Network, NetworkFilter, NetworkInput, PartialDate, ResourceKind, Timestamp};

type Row = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

/// Builds networks from rows, loading their links and contracts in two queries for the whole batch.
fn assemble(conn: &mut DbConnection, rows: Vec<Row>) -> StoreResult<Vec<Network>> {
    let ids: Vec<String> = rows.iter().map(|row| row.0.clone()).collect();
    let mut linked: HashMap<String, Vec<Uuid>> = HashMap::new();
    let link_rows: Vec<(String, String)> = links::table
        .filter(links::network_id.eq_any(&ids))
        .select((links::network_id, links::handlungsfeld_id))
        .order((links::network_id, links::position))
        .load(conn)?;
    for (network, handlungsfeld) in link_rows {
        linked.entry(network).or_default().push(uuid(&handlungsfeld)?);
    }
    let mut dates: HashMap<String, Vec<(ContractKind, Option<PartialDate>)>> = HashMap::new();
    let contract_rows: Vec<(String, String, Option<String>)> = contracts::table
        .filter(contracts::network_id.eq_any(&ids))
        .select((contracts::network_id, contracts::kind, contracts::signed_on))
        .load(conn)?;
    for (network, kind, signed_on) in contract_rows {
        let signed_on = signed_on.as_deref().map(|d| parse(d, "date")).transpose()?;
        dates.entry(network).or_default().push((parse(&kind, "contract kind")?, signed_on));
    }
    rows.into_iter()
        .map(|(id, slug, name, region_key, status, website, description, sources, created_at, updated_at)| {
            Ok(Network {
                id: uuid(&id)?,
                handlungsfeld_ids: linked.remove(&id).unwrap_or_default(),
                founded_on: derive_founded_on(dates.get(&id).map(Vec::as_slice).unwrap_or_default()),
                slug,
                name,
                region_key,
                status: parse(&status, "network status")?,
                website,
                description,
                sources: from_json(&sources)?,
                created_at: timestamp(created_at),
                updated_at: timestamp(updated_at),
            })
        })
        .collect()
}

fn write_links(conn: &mut DbConnection, id: Uuid, input: &NetworkInput) -> StoreResult<()> {
    diesel::delete(links::table.filter(links::network_id.eq(id.to_string()))).execute(conn)?;
    for (position, handlungsfeld) in input.handlungsfeld_ids.iter().enumerate() {
        diesel::insert_into(links::table)
            .values((
                links::network_id.eq(id.to_string()),
                links::handlungsfeld_id.eq(handlungsfeld.to_string()),
                links::position.eq(position as i32),
            ))
            .execute(conn)?;
    }
    Ok(())
}

impl Table for Network {
    type Filter = NetworkFilter;

    fn load(conn: &mut DbConnection, id: Uuid) -> StoreResult<Option<Network>> {
        Ok(Self::load_many(conn, &[id])?.pop())
    }

    fn load_many(conn: &mut DbConnection, ids: &[Uuid]) -> StoreResult<Vec<Network>> {
        let rows: Vec<Row> = networks::table
            .filter(networks::id.eq_any(ids_to_text(ids)))
            .select(networks::all_columns)
            .order(networks::id)
            .load(conn)?;
        assemble(conn, rows)
    }

    fn list(conn: &mut DbConnection, filter: &NetworkFilter, window: &Window) -> StoreResult<Vec<Network>> {
        let mut query = networks::table.select(networks::all_columns).into_boxed::<MultiBackend>();
        if let Some(district) = filter.district {
            query = query.filter(
                networks::region_key
                    .eq_any(regions::table.filter(regions::district_key.eq(district)).select(regions::key)),
            );
        }
        if let Some(region) = &filter.region {
            query = query.filter(networks::region_key.eq(region.clone()));
        }
        if let Some(status) = filter.status {
            query = query.filter(networks::status.eq(status.as_str()));
        }
        if let Some(key) = &filter.handlungsfeld {
            let handlungsfeld = handlungsfelder::table
                .filter(handlungsfelder::slug.eq(key.clone()).or(handlungsfelder::id.eq(key.to_lowercase())))
                .select(handlungsfelder::id);
            query =
                query.filter(networks::id.eq_any(
                    links::table.filter(links::handlungsfeld_id.eq_any(handlungsfeld)).select(links::network_id),
                ));
        }
        if let Some(q) = &filter.q {
            let pattern = contains_pattern(q);
            query = query.filter(
                lower(networks::name).like(pattern.clone()).escape('\\').or(networks::slug.like(pattern).escape('\\')),
            );
        }
        let rows: Vec<Row> = apply_window!(query, networks, window).load(conn)?;
        assemble(conn, rows)
    }

    fn insert(conn: &mut DbConnection, id: Uuid, input: &NetworkInput, now: Timestamp) -> StoreResult<()> {
        diesel::insert_into(networks::table)
            .values((
                networks::id.eq(id.to_string()),
                networks::slug.eq(&input.slug),
                networks::name.eq(&input.name),
                networks::region_key.eq(&input.region_key),
                networks::status.eq(input.status.as_str()),
                networks::website.eq(&input.website),
                networks::description.eq(&input.description),
                networks::sources.eq(to_json(&input.sources)),
                networks::created_at.eq(naive(now)),
                networks::updated_at.eq(naive(now)),
            ))
            .execute(conn)?;
        write_links(conn, id, input)
    }

    fn update(
        conn: &mut DbConnection,
        id: Uuid,
        input: &NetworkInput,
        now: Timestamp,
        version: Timestamp,
    ) -> StoreResult<Option<Self>> {
        let rows = prepared::update(
            networks::table,
            (
                networks::slug.eq(&input.slug),
                networks::name.eq(&input.name),
                networks::region_key.eq(&input.region_key),
                networks::status.eq(input.status.as_str()),
                networks::website.eq(&input.website),
                networks::description.eq(&input.description),
                networks::sources.eq(to_json(&input.sources)),
                networks::updated_at.eq(naive(now)),
            ),
            networks::id.eq(id.to_string()).and(networks::updated_at.eq(naive(version))),
        )
        .execute(conn)?;
        if rows != 1 {
            return Ok(None);
        }
        write_links(conn, id, input)?;
        Self::load(conn, id)
    }

    fn delete(conn: &mut DbConnection, id: Uuid) -> StoreResult<()> {
        diesel::delete(links::table.filter(links::network_id.eq(id.to_string()))).execute(conn)?;
        diesel::delete(networks::table.find(id.to_string())).execute(conn)?;
        Ok(())
    }

    /// Where a network is placed is the Regierungsbezirk's decision: a new network, or one that moves to
    /// another region, belongs for this write to its (new) region's Regierungsbezirk alone, not to itself.
    /// So its editors may not move it (403), and a district key must cover the new region as well as the
    /// old one (whose scope the write is authorised against first).
    fn scope_of_input(conn: &mut DbConnection, id: Option<Uuid>, input: &NetworkInput) -> StoreResult<Scope> {
        let district_key = district_of_region(conn, &input.region_key)?;
        let network_id = match id {
            Some(id) => {
                let region: Option<String> =
                    networks::table.find(id.to_string()).select(networks::region_key).first(conn).optional()?;
                (region.as_deref() == Some(input.region_key.as_str())).then_some(id)
            }
            None => None,
        };
        Ok(Scope { network_id, district_key })
    }

    fn scope_of_record(conn: &mut DbConnection, record: &Network) -> StoreResult<Scope> {
        network_scope(conn, record.id)
    }

    fn changes_unique_column(before: &NetworkInput, after: &NetworkInput) -> bool {
        before.slug != after.slug || before.region_key != after.region_key
    }

    fn check_conflicts(
        conn: &mut DbConnection,
        id: Option<Uuid>,
        input: &NetworkInput,
        before: Option<&NetworkInput>,
    ) -> StoreResult<()> {
        if before.is_some_and(|b| b.slug == input.slug && b.region_key == input.region_key) {
            return Ok(());
        }
        let own = id.map(|id| id.to_string()).unwrap_or_default();
        let slug_taken: i64 = networks::table
            .filter(networks::slug.eq(&input.slug))
            .filter(networks::id.ne(&own))
            .select(count_star())
            .first(conn)?;
        if slug_taken > 0 {
            let detail = format!("the slug '{}' is already used by another network", input.slug);
            return Err(super::unique::taken("networks", "slug", Some(detail)));
        }
        let region_taken: Option<String> = networks::table
            .filter(networks::region_key.eq(&input.region_key))
            .filter(networks::id.ne(&own))
            .select(networks::slug)
            .first(conn)
            .optional()?;
        if let Some(slug) = region_taken {
            let detail = format!(
                "region {} already has a network ('{slug}'): at most one network per Kreis or kreisfreie Stadt",
                input.region_key
            );
            return Err(super::unique::taken("networks", "region_key", Some(detail)));
        }
        // Contacts that name the network's Regierungsbezirk as their district would contradict it after a
        // move into another one.
        if let (Some(id), Some(before)) = (id, before)
            && before.region_key != input.region_key
        {
            let new_district = district_of_region(conn, &input.region_key)?;
            if district_of_region(conn, &before.region_key)? != new_district {
                lock_row(conn, ResourceKind::Networks, id, RowLock::Update)?;
                let contradicting: i64 = contacts::table
                    .filter(contacts::network_id.eq(id.to_string()))
                    .filter(contacts::district_key.is_not_null())
                    .filter(contacts::district_key.ne(new_district.unwrap_or(-1)))
                    .select(count_star())
                    .first(conn)?;
                if contradicting > 0 {
                    return Err(StoreError::Conflict(format!(
                        "regionKey: {contradicting} contact(s) of this network name its current Regierungsbezirk as districtKey; clear or change their districtKey first"
                    )));
                }
            }
        }
        Ok(())
    }

    fn check_dependents(conn: &mut DbConnection, id: Uuid) -> StoreResult<()> {
        let id = id.to_string();
        let contract_count: i64 =
            contracts::table.filter(contracts::network_id.eq(&id)).select(count_star()).first(conn)?;
        let body_count: i64 = bodies::table.filter(bodies::network_id.eq(&id)).select(count_star()).first(conn)?;
        let contact_count: i64 =
            contacts::table.filter(contacts::network_id.eq(&id)).select(count_star()).first(conn)?;
        if contract_count + body_count + contact_count > 0 {
            return Err(StoreError::Conflict(format!(
                "the network still has {contract_count} contract(s), {body_count} body(ies) and {contact_count} contact(s); \
                 delete or move them first (nothing is deleted along with a network)"
            )));
        }
        Ok(())
    }
}
