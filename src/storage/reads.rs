//! Reads shared by all resources: one record, a list page, the change feed, the expansion of a network.

use std::collections::HashMap;

use uuid::Uuid;

use super::table::{Table, Window};
use super::{Change, ChangeEntry, Db, DbConnection, StoreResult, changes, reference};
use crate::domain::access::Access;
use crate::domain::{
    Body, BodyFilter, Contact, ContactFilter, Contract, ContractFilter, Expansion, Handlungsfeld, Meeting, Network,
    NetworkFilter, ResourceKind, Timestamp,
};

impl Db {
    /// One record as `access` may see it; `None` when it does not exist or is hidden from the reader.
    pub fn get<R: Table>(&self, id: Uuid, access: &Access) -> StoreResult<Option<R>> {
        self.read(|conn| get_in::<R>(conn, id, access))
    }

    /// A page of records; with `window.since`, tombstones are merged in change order.
    pub fn list<R: Table>(&self, filter: &R::Filter, window: &Window, access: &Access) -> StoreResult<Vec<Change<R>>> {
        self.read(|conn| list_in::<R>(conn, filter, window, access))
    }

    /// A page of networks and, read from the same snapshot, the related records `expand` names of each
    /// network on it: one query per expanded kind for the whole page, not one per network.
    pub fn list_networks_expanded(
        &self,
        filter: &NetworkFilter,
        window: &Window,
        expand: Expansion,
        access: &Access,
    ) -> StoreResult<(Vec<Change<Network>>, RelatedByNetwork)> {
        self.read(|conn| {
            let page = list_in::<Network>(conn, filter, window, access)?;
            let networks: Vec<&Network> = page
                .iter()
                .filter_map(|change| match change {
                    Change::Live(network) => Some(network),
                    Change::Deleted { .. } => None,
                })
                .collect();
            let related = related_in(conn, &networks, expand, access)?;
            Ok((page, related))
        })
    }

    /// Resolves a network given by UUID or slug to its id.
    pub fn network_id(&self, key: &str) -> StoreResult<Option<Uuid>> {
        self.read(|conn| reference::network_id_by_key(conn, key))
    }

    /// The change feed after `after_seq`, each entry with its record as `access` may see it (`None` for
    /// deleted or hidden records).
    pub fn changes(
        &self,
        after_seq: i64,
        kinds: &[ResourceKind],
        since: Option<Timestamp>,
        limit: i64,
        access: &Access,
    ) -> StoreResult<Vec<(ChangeEntry, Option<serde_json::Value>)>> {
        self.read(|conn| {
            let entries = changes::feed(conn, after_seq, kinds, since, limit)?;
            let mut records: HashMap<Uuid, serde_json::Value> = HashMap::new();
            for kind in [
                ResourceKind::Networks,
                ResourceKind::Contracts,
                ResourceKind::Bodies,
                ResourceKind::Handlungsfelder,
                ResourceKind::Contacts,
                ResourceKind::Meetings,
            ] {
                let ids: Vec<Uuid> = entries.iter().filter(|e| e.kind == kind && !e.deleted).map(|e| e.id).collect();
                if ids.is_empty() {
                    continue;
                }
                let values = match kind {
                    ResourceKind::Networks => visible_values::<Network>(conn, &ids, access)?,
                    ResourceKind::Contracts => visible_values::<Contract>(conn, &ids, access)?,
                    ResourceKind::Bodies => visible_values::<Body>(conn, &ids, access)?,
                    ResourceKind::Handlungsfelder => visible_values::<Handlungsfeld>(conn, &ids, access)?,
                    ResourceKind::Meetings => visible_values::<Meeting>(conn, &ids, access)?,
                    _ => visible_values::<Contact>(conn, &ids, access)?,
                };
                records.extend(values);
            }
            Ok(entries
                .into_iter()
                .map(|entry| {
                    let record = records.remove(&entry.id);
                    (entry, record)
                })
                .collect())
        })
    }

    /// The time of the latest change of anything.
    pub fn last_change(&self) -> StoreResult<Option<Timestamp>> {
        self.read(changes::last_change)
    }

    /// A network's related records, for `expand` and the pages: those `expand` names of its contracts,
    /// bodies, linked Handlungsfelder and the contacts `access` may see (the others are left empty).
    pub fn network_related(&self, network: &Network, expand: Expansion, access: &Access) -> StoreResult<Related> {
        let mut related = self.read(|conn| related_in(conn, &[network], expand, access))?;
        Ok(related.remove(&network.id).unwrap_or_default())
    }
}

fn list_in<R: Table>(
    conn: &mut DbConnection,
    filter: &R::Filter,
    window: &Window,
    access: &Access,
) -> StoreResult<Vec<Change<R>>> {
    let records = R::list(conn, filter, window)?;
    let mut page = R::present(conn, records, access)?;
    if window.since.is_some() {
        let tombstones = changes::tombstones(conn, R::KIND, window)?;
        page.extend(tombstones.into_iter().map(|(id, updated_at)| Change::Deleted { id, updated_at }));
        page.sort_by_key(Change::key);
        page.truncate(usize::try_from(window.limit).unwrap_or(usize::MAX));
    }
    Ok(page)
}

/// The related records of `networks` that `expand` names, by network: one query per kind (the IN list of
/// the networks' ids), each kind in id order as the nested lists have it. Every network has an entry.
fn related_in(
    conn: &mut DbConnection,
    networks: &[&Network],
    expand: Expansion,
    access: &Access,
) -> StoreResult<RelatedByNetwork> {
    let mut related: RelatedByNetwork = networks.iter().map(|n| (n.id, Related::default())).collect();
    if networks.is_empty() {
        return Ok(related);
    }
    let everything = Window { limit: i64::MAX, after: None, since: None };
    let ids = Some(networks.iter().map(|n| n.id).collect::<Vec<_>>());
    if expand.contracts {
        let filter = ContractFilter { networks: ids.clone(), ..Default::default() };
        for contract in Contract::list(conn, &filter, &everything)? {
            related.entry(contract.network_id).or_default().contracts.push(contract);
        }
    }
    if expand.bodies {
        let filter = BodyFilter { networks: ids.clone(), ..Default::default() };
        for body in Body::list(conn, &filter, &everything)? {
            related.entry(body.network_id).or_default().bodies.push(body);
        }
    }
    if expand.contacts {
        let filter = ContactFilter { networks: ids.clone(), reach: access.private_reach(), ..Default::default() };
        let contacts = Contact::list(conn, &filter, &everything)?;
        for change in Contact::present(conn, contacts, access)? {
            if let Change::Live(contact) = change
                && let Some(network) = contact.network_id
            {
                related.entry(network).or_default().contacts.push(contact);
            }
        }
    }
    if expand.handlungsfelder {
        let mut linked: Vec<Uuid> = networks.iter().flat_map(|n| n.handlungsfeld_ids.iter().copied()).collect();
        linked.sort();
        linked.dedup();
        let handlungsfelder = Handlungsfeld::load_many(conn, &linked)?;
        for network in networks {
            related.entry(network.id).or_default().handlungsfelder =
                handlungsfelder.iter().filter(|h| network.handlungsfeld_ids.contains(&h.id)).cloned().collect();
        }
    }
    Ok(related)
}

/// The related records of each network of a page, by its id.
pub type RelatedByNetwork = HashMap<Uuid, Related>;

/// The records related to one network.
#[derive(Debug, Clone, Default)]
pub struct Related {
    pub contracts: Vec<Contract>,
    pub bodies: Vec<Body>,
    pub handlungsfelder: Vec<Handlungsfeld>,
    pub contacts: Vec<Contact>,
}

pub(super) fn get_in<R: Table>(conn: &mut DbConnection, id: Uuid, access: &Access) -> StoreResult<Option<R>> {
    let Some(record) = R::load(conn, id)? else {
        return Ok(None);
    };
    Ok(R::present(conn, vec![record], access)?.pop().and_then(|change| match change {
        Change::Live(record) => Some(record),
        Change::Deleted { .. } => None,
    }))
}

fn visible_values<R: Table>(
    conn: &mut DbConnection,
    ids: &[Uuid],
    access: &Access,
) -> StoreResult<Vec<(Uuid, serde_json::Value)>> {
    let records = R::load_many(conn, ids)?;
    Ok(R::present(conn, records, access)?
        .into_iter()
        .filter_map(|change| match change {
            Change::Live(record) => Some((record.id(), serde_json::to_value(&record).unwrap_or_default())),
            Change::Deleted { .. } => None,
        })
        .collect())
}
