use std::collections::HashMap;

use diesel::dsl::count_star;
use diesel::prelude::*;
use uuid::Uuid;

use super::reference::{district_of_region, network_scope};
use super::rows::{contains_pattern, from_json, ids_to_text, lower, parse, row_values, timestamp, to_json, uuid};
use super::schema::{
    bodies, contacts, contracts, handlungsfelder, meetings, network_handlungsfelder as links, networks, regions,
};
use super::table::{Proposed, Table, Window, apply_window, row_table};
use super::{DbConnection, MultiBackend, RowLock, StoreError, StoreResult, lock_row};
use crate::domain::access::Scope;
use crate::domain::network::derive_founded_on;
use crate::domain::{
    ContractKind, LongText, Name, Network, NetworkFilter, NetworkInput, PartialDate, RegionKey, ResourceKind, Slug,
    WebUrl,
};

/// A network's columns as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = networks)]
struct NetworkRow {
    id: String,
    slug: String,
    name: String,
    region_key: String,
    status: String,
    website: Option<String>,
    description: Option<String>,
    sources: String,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

row_values! {
    networks: NetworkValues<'a>(input: &'a NetworkInput) {
        slug: &'a str = &input.slug,
        name: &'a str = &input.name,
        region_key: &'a str = &input.region_key,
        status: &'static str = input.status.as_str(),
        website: Option<&'a str> = input.website.as_deref(),
        description: Option<&'a str> = input.description.as_deref(),
        sources: String = to_json(&input.sources),
    }
}

/// The earliest known `signedOn` of the network's contracts of one kind, as a column of a query of
/// networks: one step in the index `contracts_founded_on`, however many contracts the network has.
macro_rules! earliest_signed {
    ($kind:expr) => {
        contracts::table
            .filter(contracts::network_id.eq(networks::id))
            .filter(contracts::kind.eq($kind.as_str()))
            .select(diesel::dsl::min(contracts::signed_on))
            .single_value()
    };
}

/// What a query of networks selects: the columns, and what `foundedOn` derives from (see [`founded_on`]).
macro_rules! network_columns {
    () => {
        (
            NetworkRow::as_select(),
            contracts::table
                .filter(contracts::network_id.eq(networks::id))
                .filter(contracts::kind.eq(ContractKind::Founding.as_str()))
                .select(contracts::kind)
                .limit(1)
                .single_value(),
            earliest_signed!(ContractKind::Founding),
            earliest_signed!(ContractKind::Resumption),
            earliest_signed!(ContractKind::Renewal),
            earliest_signed!(ContractKind::Amendment),
        )
    };
}

/// A network's row with what its `foundedOn` derives from: whether it has a founding contract, and the
/// earliest known date of each kind of contract (founding, resumption, renewal, amendment).
type Selected = (NetworkRow, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);

/// `foundedOn` from the earliest dates per kind: what `derive_founded_on` gives for all the contracts,
/// since the earliest date of all is the earliest of the earliest per kind.
fn founded_on(selected: &Selected) -> StoreResult<Option<PartialDate>> {
    let (_, has_founding, founding, resumption, renewal, amendment) = selected;
    let mut earliest = Vec::new();
    if has_founding.is_some() {
        earliest.push((ContractKind::Founding, founding.as_deref().map(|d| parse(d, "date")).transpose()?));
    }
    for (kind, date) in
        [(ContractKind::Resumption, resumption), (ContractKind::Renewal, renewal), (ContractKind::Amendment, amendment)]
    {
        if let Some(date) = date {
            earliest.push((kind, Some(parse(date, "date")?)));
        }
    }
    Ok(derive_founded_on(&earliest))
}

/// Builds networks from rows, loading the links to their Handlungsfelder in one query for the whole batch.
fn assemble(conn: &mut DbConnection, rows: Vec<Selected>) -> StoreResult<Vec<Network>> {
    let ids: Vec<String> = rows.iter().map(|row| row.0.id.clone()).collect();
    let mut linked: HashMap<String, Vec<Uuid>> = HashMap::new();
    let link_rows: Vec<(String, String)> = links::table
        .filter(links::network_id.eq_any(&ids))
        .select((links::network_id, links::handlungsfeld_id))
        .order((links::network_id, links::position))
        .load(conn)?;
    for (network, handlungsfeld) in link_rows {
        linked.entry(network).or_default().push(uuid(&handlungsfeld)?);
    }
    rows.into_iter()
        .map(|selected| {
            let founded_on = founded_on(&selected)?;
            let row = selected.0;
            Ok(Network {
                id: uuid(&row.id)?,
                handlungsfeld_ids: linked.remove(&row.id).unwrap_or_default(),
                founded_on,
                slug: Slug::from_stored(row.slug),
                name: Name::from_stored(row.name),
                region_key: RegionKey::from_stored(row.region_key),
                status: parse(&row.status, "network status")?,
                website: row.website.map(WebUrl::from_stored),
                description: row.description.map(LongText::from_stored),
                sources: from_json(&row.sources)?,
                created_at: timestamp(row.created_at),
                updated_at: timestamp(row.updated_at),
            })
        })
        .collect()
}

impl Table for Network {
    type Filter = NetworkFilter;

    fn load_many(conn: &mut DbConnection, ids: &[Uuid]) -> StoreResult<Vec<Network>> {
        let rows: Vec<Selected> = networks::table
            .filter(networks::id.eq_any(ids_to_text(ids)))
            .select(network_columns!())
            .order(networks::id)
            .load(conn)?;
        assemble(conn, rows)
    }

    /// One count: loading a network also reads its Handlungsfelder and contracts.
    fn exists(conn: &mut DbConnection, id: Uuid) -> StoreResult<bool> {
        let count: i64 =
            networks::table.filter(networks::id.eq(id.to_string())).select(diesel::dsl::count_star()).first(conn)?;
        Ok(count > 0)
    }

    fn list(conn: &mut DbConnection, filter: &NetworkFilter, window: &Window) -> StoreResult<Vec<Network>> {
        let mut query = networks::table.select(network_columns!()).into_boxed::<MultiBackend>();
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
        let rows: Vec<Selected> = apply_window!(query, networks, window).load(conn)?;
        assemble(conn, rows)
    }

    row_table!(@linked networks, NetworkValues, links, network_id);

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

    fn check_conflicts(conn: &mut DbConnection, write: Proposed<'_, Self>) -> StoreResult<()> {
        let Proposed { id, input, before } = write;
        if before.is_some_and(|b| b.slug == input.slug && b.region_key == input.region_key) {
            return Ok(());
        }
        super::unique::slug_free!(conn, networks, id, input.slug, "network")?;
        let own = id.map(|id| id.to_string()).unwrap_or_default();
        let region_taken: Option<String> = networks::table
            .filter(networks::region_key.eq(input.region_key.as_str()))
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
        let meetings: i64 = meetings::table.filter(meetings::network_id.eq(&id)).select(count_star()).first(conn)?;
        if meetings > 0 {
            return Err(StoreError::Conflict(format!(
                "the network still has {meetings} meeting(s); delete them first"
            )));
        }
        Ok(())
    }
}
