use std::collections::HashMap;

use diesel::prelude::*;
use uuid::Uuid;

use super::bodies::{address, address_column};
use super::reference::network_scope;
use super::rows::{
    contains_pattern, from_json, ids_to_text, lower, lower_opt, naive, opt_uuid, parse, timestamp, to_json, uuid,
};
use super::schema::{bodies, contacts, networks, regions};
use super::table::{Table, Window, apply_window};
use super::{Change, DbConnection, MultiBackend, StoreError, StoreResult, prepared};
use crate::domain::access::{Access, Scope};
use crate::domain::{Contact, ContactFilter, ContactInput, PrivateReach, Resource, Timestamp, Visibility};

type Row = (
    String,
    Option<String>,
    Option<String>,
    Option<i32>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i32,
    i32,
    String,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

fn contact(row: Row) -> StoreResult<Contact> {
    let (
        id,
        network_id,
        body_id,
        district_key,
        name,
        function,
        organisation,
        email,
        phone,
        address_json,
        visibility,
        is_person,
        publication_consent,
        sources,
        created_at,
        updated_at,
    ) = row;
    Ok(Contact {
        id: uuid(&id)?,
        network_id: opt_uuid(network_id.as_deref())?,
        body_id: opt_uuid(body_id.as_deref())?,
        district_key,
        name,
        function,
        organisation,
        email,
        phone,
        address: address(address_json)?,
        visibility: parse(&visibility, "visibility")?,
        is_person: is_person != 0,
        publication_consent: publication_consent != 0,
        sources: from_json(&sources)?,
        created_at: timestamp(created_at),
        updated_at: timestamp(updated_at),
    })
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
    Scope { network_id: contact.network_id, district_key: network_district.or(contact.district_key) }
}

impl Table for Contact {
    type Filter = ContactFilter;

    fn load(conn: &mut DbConnection, id: Uuid) -> StoreResult<Option<Contact>> {
        Ok(Self::load_many(conn, &[id])?.pop())
    }

    fn load_many(conn: &mut DbConnection, ids: &[Uuid]) -> StoreResult<Vec<Contact>> {
        let rows: Vec<Row> = contacts::table
            .filter(contacts::id.eq_any(ids_to_text(ids)))
            .select(contacts::all_columns)
            .order(contacts::id)
            .load(conn)?;
        rows.into_iter().map(contact).collect()
    }

    fn list(conn: &mut DbConnection, filter: &ContactFilter, window: &Window) -> StoreResult<Vec<Contact>> {
        let mut query = contacts::table.select(contacts::all_columns).into_boxed::<MultiBackend>();
        if let Some(network) = &filter.network {
            let ids = networks::table
                .filter(networks::slug.eq(network.clone()).or(networks::id.eq(network.to_lowercase())))
                .select(networks::id.nullable());
            query = query.filter(contacts::network_id.eq_any(ids));
        }
        if let Some(networks) = &filter.networks {
            query = query.filter(contacts::network_id.eq_any(ids_to_text(networks)));
        }
        if let Some(body) = filter.body {
            query = query.filter(contacts::body_id.eq(body.to_string()));
        }
        if let Some(district) = filter.district {
            let in_district = networks::table
                .inner_join(regions::table)
                .filter(regions::district_key.eq(district))
                .select(networks::id.nullable());
            query = query.filter(contacts::district_key.eq(district).or(contacts::network_id.eq_any(in_district)));
        }
        if let Some(q) = &filter.q {
            let pattern = contains_pattern(q);
            query = query.filter(
                lower(contacts::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower_opt(contacts::function).like(pattern.clone()).escape('\\'))
                    .or(lower_opt(contacts::organisation).like(pattern).escape('\\')),
            );
        }
        // Plain lists leave out what the reader may not see. With `modifiedSince` hidden contacts are kept
        // so that `present` turns them into tombstones and mirrors drop them, unless a text search asks:
        // a tombstone matching `q` would tell what a hidden contact is called.
        if window.since.is_none() || filter.q.is_some() {
            let public = contacts::visibility.eq(Visibility::Public.as_str());
            query = match &filter.reach {
                PrivateReach::Everything => query,
                PrivateReach::Nothing => query.filter(public),
                PrivateReach::Networks(ids) => query.filter(public.or(contacts::network_id.eq_any(ids_to_text(ids)))),
                PrivateReach::District(district) => {
                    let in_district = networks::table
                        .inner_join(regions::table)
                        .filter(regions::district_key.eq(*district))
                        .select(networks::id.nullable());
                    query.filter(
                        public.or(contacts::district_key.eq(*district)).or(contacts::network_id.eq_any(in_district)),
                    )
                }
            };
        }
        let rows: Vec<Row> = apply_window!(query, contacts, window).load(conn)?;
        rows.into_iter().map(contact).collect()
    }

    fn insert(conn: &mut DbConnection, id: Uuid, input: &ContactInput, now: Timestamp) -> StoreResult<()> {
        diesel::insert_into(contacts::table)
            .values((
                contacts::id.eq(id.to_string()),
                contacts::network_id.eq(input.network_id.map(|id| id.to_string())),
                contacts::body_id.eq(input.body_id.map(|id| id.to_string())),
                contacts::district_key.eq(input.district_key),
                contacts::name.eq(&input.name),
                contacts::function.eq(&input.function),
                contacts::organisation.eq(&input.organisation),
                contacts::email.eq(&input.email),
                contacts::phone.eq(&input.phone),
                contacts::address.eq(address_column(&input.address)),
                contacts::visibility.eq(input.visibility.as_str()),
                contacts::is_person.eq(i32::from(input.is_person)),
                contacts::publication_consent.eq(i32::from(input.publication_consent)),
                contacts::sources.eq(to_json(&input.sources)),
                contacts::created_at.eq(naive(now)),
                contacts::updated_at.eq(naive(now)),
            ))
            .execute(conn)?;
        Ok(())
    }

    fn update(
        conn: &mut DbConnection,
        id: Uuid,
        input: &ContactInput,
        now: Timestamp,
        version: Timestamp,
    ) -> StoreResult<Option<Self>> {
        let row: Option<Row> = prepared::update(
            contacts::table,
            (
                contacts::network_id.eq(input.network_id.map(|id| id.to_string())),
                contacts::body_id.eq(input.body_id.map(|id| id.to_string())),
                contacts::district_key.eq(input.district_key),
                contacts::name.eq(&input.name),
                contacts::function.eq(&input.function),
                contacts::organisation.eq(&input.organisation),
                contacts::email.eq(&input.email),
                contacts::phone.eq(&input.phone),
                contacts::address.eq(address_column(&input.address)),
                contacts::visibility.eq(input.visibility.as_str()),
                contacts::is_person.eq(i32::from(input.is_person)),
                contacts::publication_consent.eq(i32::from(input.publication_consent)),
                contacts::sources.eq(to_json(&input.sources)),
                contacts::updated_at.eq(naive(now)),
            ),
            contacts::id.eq(id.to_string()).and(contacts::updated_at.eq(naive(version))),
        )
        .returning(contacts::all_columns)
        .get_result(conn)
        .optional()?;
        row.map(contact).transpose()
    }

    /// Deleting removes the row for real; only the id and time stay, in the change feed's tombstone.
    fn delete(conn: &mut DbConnection, id: Uuid) -> StoreResult<()> {
        diesel::delete(contacts::table.find(id.to_string())).execute(conn)?;
        Ok(())
    }

    fn scope_of_input(conn: &mut DbConnection, _id: Option<Uuid>, input: &ContactInput) -> StoreResult<Scope> {
        match input.network_id {
            Some(network) => network_scope(conn, network),
            None => Ok(Scope { network_id: None, district_key: input.district_key }),
        }
    }

    fn scope_of_record(conn: &mut DbConnection, record: &Contact) -> StoreResult<Scope> {
        match record.network_id {
            Some(network) => network_scope(conn, network),
            None => Ok(Scope { network_id: None, district_key: record.district_key }),
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
    fn check_conflicts(
        conn: &mut DbConnection,
        _id: Option<Uuid>,
        input: &ContactInput,
        before: Option<&ContactInput>,
    ) -> StoreResult<()> {
        if before.is_some_and(|b| {
            (b.network_id, b.body_id, b.district_key) == (input.network_id, input.body_id, input.district_key)
        }) {
            return Ok(());
        }
        let Some(network) = input.network_id else { return Ok(()) };
        if let Some(body) = input.body_id {
            let owner: Option<String> =
                bodies::table.find(body.to_string()).select(bodies::network_id).first(conn).optional()?;
            if owner.is_some_and(|owner| owner != network.to_string()) {
                return Err(StoreError::Conflict("bodyId: the body belongs to another network than networkId".into()));
            }
        }
        if let Some(district) = input.district_key
            && network_scope(conn, network)?.district_key.is_some_and(|own| own != district)
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
