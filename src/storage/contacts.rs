use std::collections::HashMap;

use diesel::prelude::*;
use uuid::Uuid;

use super::bodies::{address, address_column};
use super::reference::network_scope;
use super::rows::{
    contains_pattern, from_json, ids_to_text, lower, lower_opt, opt_uuid, parse, row_values, stored_row, to_json, uuid,
};
use super::schema::{bodies, contacts, networks, regions};
use super::table::{Proposed, Table, Window, apply_window, row_table};
use super::{Change, DbConnection, MultiBackend, RowLock, StoreError, StoreResult, lock_row};
use crate::domain::access::{Access, Scope};
use crate::domain::{
    Contact, ContactFilter, ContactInput, DistrictKey, Email, Function, Name, Phone, PrivateReach, Resource,
    ResourceKind, ShortText, Visibility,
};

/// A condition on contacts, built up from the filters of a list.
type Predicate = Box<
    dyn BoxableExpression<contacts::table, MultiBackend, SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>>,
>;

stored_row! {
    /// A contact's columns as stored.
    contacts: ContactRow => Contact |row| {
        network_id: Option<String> => opt_uuid(row.network_id.as_deref())?,
        body_id: Option<String> => opt_uuid(row.body_id.as_deref())?,
        district_key: Option<i32> => row.district_key.map(DistrictKey::from_stored),
        name: String => Name::from_stored(row.name),
        function: Option<String> => row.function.map(Function::from_stored),
        organisation: Option<String> => row.organisation.map(ShortText::from_stored),
        email: Option<String> => row.email.map(Email::from_stored),
        phone: Option<String> => row.phone.map(Phone::from_stored),
        address: Option<String> => address(row.address)?,
        visibility: String => parse(&row.visibility, "visibility")?,
        is_person: i32 => row.is_person != 0,
        publication_consent: i32 => row.publication_consent != 0,
        sources: String => from_json(&row.sources)?,
    }
}

row_values! {
    contacts: ContactValues<'a>(input: &'a ContactInput) {
        network_id: Option<String> = input.network_id.map(|id| id.to_string()),
        body_id: Option<String> = input.body_id.map(|id| id.to_string()),
        district_key: Option<i32> = input.district_key.map(DistrictKey::get),
        name: &'a str = &input.name,
        function: Option<&'a str> = input.function.as_deref(),
        organisation: Option<&'a str> = input.organisation.as_deref(),
        email: Option<&'a str> = input.email.as_deref(),
        phone: Option<&'a str> = input.phone.as_deref(),
        address: Option<String> = address_column(&input.address),
        visibility: &'static str = input.visibility.as_str(),
        is_person: i32 = i32::from(input.is_person),
        publication_consent: i32 = i32::from(input.publication_consent),
        sources: String = to_json(&input.sources),
    }
}

/// The Regierungsbezirk of each of `networks`.
fn districts_of(conn: &mut DbConnection, networks: &[String]) -> StoreResult<HashMap<String, i32>> {
    let rows: Vec<(String, i32)> = networks::table
        .inner_join(regions::table)
        .filter(networks::id.eq_any(networks))
        .select((networks::id, regions::district_key))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

fn scope(contact: &Contact, districts: &HashMap<String, i32>) -> Scope {
    let network_district = contact.network_id.and_then(|id| districts.get(&id.to_string()).copied());
    Scope {
        network_id: contact.network_id,
        district_key: network_district.or(contact.district_key.map(DistrictKey::get)),
    }
}

impl Table for Contact {
    type Filter = ContactFilter;

    row_table!(contacts, ContactRow, ContactValues);

    fn list(conn: &mut DbConnection, filter: &ContactFilter, window: &Window) -> StoreResult<Vec<Contact>> {
        let mut selected: Vec<Predicate> = Vec::new();
        if let Some(network) = &filter.network {
            // Resolved first: one network is an equality, which the index (network_id, id) answers in order.
            let ids = super::reference::networks_named(conn, network)?;
            selected.push(match ids.as_slice() {
                [one] => Box::new(contacts::network_id.eq(one.clone())),
                many => Box::new(contacts::network_id.eq_any(many.to_vec())),
            });
        }
        if let Some(networks) = &filter.networks {
            selected.push(Box::new(contacts::network_id.eq_any(ids_to_text(networks))));
        }
        if let Some(body) = filter.body {
            selected.push(Box::new(contacts::body_id.eq(body.to_string())));
        }
        if let Some(district) = filter.district {
            let in_district = networks::table
                .inner_join(regions::table)
                .filter(regions::district_key.eq(district))
                .select(networks::id.nullable());
            selected.push(Box::new(contacts::district_key.eq(district).or(contacts::network_id.eq_any(in_district))));
        }
        if let Some(q) = &filter.q {
            let pattern = contains_pattern(q);
            selected.push(Box::new(
                lower(contacts::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower_opt(contacts::function).like(pattern.clone()).escape('\\'))
                    .or(lower_opt(contacts::organisation).like(pattern).escape('\\')),
            ));
        }
        // What the reader may see, and (null-safe, as its exact complement) what it may not.
        let public = || contacts::visibility.eq(Visibility::Public.as_str()).nullable();
        let hidden = || contacts::visibility.ne(Visibility::Public.as_str()).nullable();
        let networks_in = |district: i32| {
            networks::table
                .inner_join(regions::table)
                .filter(regions::district_key.eq(district))
                .select(networks::id.nullable())
        };
        let (visible, invisible): (Option<Predicate>, Option<Predicate>) = match &filter.reach {
            PrivateReach::Everything => (None, None),
            PrivateReach::Nothing => (Some(Box::new(public())), Some(Box::new(hidden()))),
            PrivateReach::Networks(ids) => (
                Some(Box::new(public().or(contacts::network_id.eq_any(ids_to_text(ids))))),
                Some(Box::new(
                    hidden().and(contacts::network_id.is_null().or(contacts::network_id.ne_all(ids_to_text(ids)))),
                )),
            ),
            PrivateReach::District(district) => (
                Some(Box::new(
                    public()
                        .or(contacts::district_key.eq(*district))
                        .or(contacts::network_id.eq_any(networks_in(*district))),
                )),
                Some(Box::new(
                    hidden()
                        .and(contacts::district_key.is_null().or(contacts::district_key.ne(*district)))
                        .and(contacts::network_id.is_null().or(contacts::network_id.ne_all(networks_in(*district)))),
                )),
            ),
        };
        let all_of = |predicates: Vec<Predicate>| -> Option<Predicate> {
            predicates.into_iter().reduce(|all, next| Box::new(all.and(next)))
        };
        let mut query = contacts::table.select(ContactRow::as_select()).into_boxed::<MultiBackend>();
        // Plain lists leave out what the reader may not see. With `modifiedSince` every hidden contact
        // changed in the window is kept, whatever the filters, so that `present` turns it into a tombstone and
        // mirrors drop it: selecting hidden contacts by network, body or district would tell an anonymous
        // reader where internal contacts are (deletions are listed unfiltered too). A text search never
        // lists them: a tombstone matching `q` would tell what a hidden contact is called.
        let shown = match (all_of(selected), visible) {
            (Some(selected), Some(visible)) => Some(Box::new(selected.and(visible)) as Predicate),
            (selected, visible) => selected.or(visible),
        };
        let tombstoned = invisible.filter(|_| window.since.is_some() && filter.q.is_none());
        query = match (shown, tombstoned) {
            (Some(shown), Some(hidden)) => query.filter(shown.or(hidden)),
            (Some(shown), None) => query.filter(shown),
            (None, _) => query,
        };
        let rows: Vec<ContactRow> = apply_window!(query, contacts, window).load(conn)?;
        rows.into_iter().map(Contact::try_from).collect()
    }

    /// Deleting removes the row for real; only the id and time stay, in the change feed's tombstone.
    fn scope_of_input(conn: &mut DbConnection, _id: Option<Uuid>, input: &ContactInput) -> StoreResult<Scope> {
        match input.network_id {
            Some(network) => network_scope(conn, network),
            None => Ok(Scope { network_id: None, district_key: input.district_key.map(DistrictKey::get) }),
        }
    }

    fn scope_of_record(conn: &mut DbConnection, record: &Contact) -> StoreResult<Scope> {
        match record.network_id {
            Some(network) => network_scope(conn, network),
            None => Ok(Scope { network_id: None, district_key: record.district_key.map(DistrictKey::get) }),
        }
    }

    fn complete(conn: &mut DbConnection, mut input: ContactInput) -> StoreResult<ContactInput> {
        if let (None, Some(body)) = (input.network_id, input.body_id) {
            let network: Option<String> =
                bodies::table.find(body.to_string()).select(bodies::network_id).first(conn).optional()?;
            input.network_id = network.as_deref().map(uuid).transpose()?;
        }
        Ok(input)
    }

    /// A contact's body must belong to the contact's network, and its district be that network's: a
    /// conflict with where those records are now (409), not a malformed request.
    fn check_conflicts(conn: &mut DbConnection, write: Proposed<'_, Self>) -> StoreResult<()> {
        let Proposed { input, before, .. } = write;
        if before.is_some_and(|b| {
            (b.network_id, b.body_id, b.district_key) == (input.network_id, input.body_id, input.district_key)
        }) {
            return Ok(());
        }
        let Some(network) = input.network_id else { return Ok(()) };
        // Keeps the body and the network where they are until this write commits (a body or network being
        // moved meanwhile waits, then sees this contact).
        lock_row(conn, ResourceKind::Networks, network, RowLock::KeyShare)?;
        if let Some(body) = input.body_id {
            lock_row(conn, ResourceKind::Bodies, body, RowLock::KeyShare)?;
            let owner: Option<String> =
                bodies::table.find(body.to_string()).select(bodies::network_id).first(conn).optional()?;
            if owner.is_some_and(|owner| owner != network.to_string()) {
                return Err(StoreError::Conflict("bodyId: the body belongs to another network than networkId".into()));
            }
        }
        if let Some(district) = input.district_key
            && network_scope(conn, network)?.district_key.is_some_and(|own| own != district.get())
        {
            return Err(StoreError::Conflict(
                "districtKey: the network lies in another Regierungsbezirk; leave districtKey empty or give the network's".into(),
            ));
        }
        Ok(())
    }

    fn present(conn: &mut DbConnection, records: Vec<Contact>, access: &Access) -> StoreResult<Vec<Change<Contact>>> {
        let networks: Vec<String> = records.iter().filter_map(|c| c.network_id.map(|id| id.to_string())).collect();
        let districts = if networks.is_empty() { HashMap::new() } else { districts_of(conn, &networks)? };
        Ok(records
            .into_iter()
            .map(|contact| {
                let view = contact.view_for(access, &scope(&contact, &districts));
                let (id, updated_at) = (contact.id(), contact.updated_at());
                match contact.redacted(view) {
                    Some(visible) => Change::Live(visible),
                    None => Change::Deleted { id, updated_at },
                }
            })
            .collect())
    }
}
