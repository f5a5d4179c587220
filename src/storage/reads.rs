//! Reads shared by all resources: one record, a list page, the change feed, the expansion of a network.

use std::collections::HashMap;

use uuid::Uuid;

use super::table::{Table, Window};
use super::{Change, ChangeEntry, Db, DbConnection, StoreResult, changes, reference};
use crate::domain::access::Access;
use crate::domain::{Body, Contact, ContactFilter, Contract, Handlungsfeld, Network, ResourceKind, Timestamp};

impl Db {
    /// One record as `access` may see it; `None` when it does not exist or is hidden from the reader.
    pub fn get<R: Table>(&self, id: Uuid, access: &Access) -> StoreResult<Option<R>> {
        self.read(|conn| get_in::<R>(conn, id, access))
    }

    /// A page of records; with `window.since`, tombstones are merged in change order.
    pub fn list<R: Table>(&self, filter: &R::Filter, window: &Window, access: &Access) -> StoreResult<Vec<Change<R>>> {
        self.read(|conn| {
            let records = R::list(conn, filter, window)?;
            let mut page = R::present(conn, records, access)?;
            if window.since.is_some() {
                let tombstones = changes::tombstones(conn, R::KIND, window)?;
                page.extend(tombstones.into_iter().map(|(id, updated_at)| Change::Deleted { id, updated_at }));
                page.sort_by_key(Change::key);
                page.truncate(usize::try_from(window.limit).unwrap_or(usize::MAX));
            }
            Ok(page)
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

    /// A network's related records, for `expand` and the nested lists: contracts, bodies, the linked
    /// Handlungsfelder and the contacts `access` may see.
    pub fn network_related(&self, network: &Network, access: &Access) -> StoreResult<Related> {
        self.read(|conn| {
            let everything = Window { limit: i64::MAX, after: None, since: None };
            let network_key = Some(network.id.to_string());
            let contracts = Contract::list(
                conn,
                &crate::domain::ContractFilter { network: network_key.clone(), kind: None },
                &everything,
            )?;
            let bodies = Body::list(
                conn,
                &crate::domain::BodyFilter { network: network_key.clone(), body_type: None },
                &everything,
            )?;
            let handlungsfelder = Handlungsfeld::load_many(conn, &network.handlungsfeld_ids)?;
            let filter = ContactFilter { network: network_key, reach: access.private_reach(), ..Default::default() };
            let contacts = Contact::list(conn, &filter, &everything)?;
            let contacts = Contact::present(conn, contacts, access)?
                .into_iter()
                .filter_map(|change| match change {
                    Change::Live(contact) => Some(contact),
                    Change::Deleted { .. } => None,
                })
                .collect();
            Ok(Related { contracts, bodies, handlungsfelder, contacts })
        })
    }
}

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
