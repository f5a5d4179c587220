use diesel::dsl::count_star;
use diesel::prelude::*;
use uuid::Uuid;

use super::rows::{contains_pattern, from_json, lower, row_values, stored_row, to_json};
use super::schema::{contract_handlungsfelder, handlungsfelder, network_handlungsfelder};
use super::table::{Proposed, Table, Window, apply_window, row_table};
use super::{DbConnection, MultiBackend, StoreError, StoreResult};
use crate::domain::access::Scope;
use crate::domain::{Handlungsfeld, HandlungsfeldFilter, HandlungsfeldInput, LongText, Name, Slug};

stored_row! {
    /// A Handlungsfeld's columns as stored.
    handlungsfelder: HandlungsfeldRow => Handlungsfeld |row| {
        slug: String => Slug::from_stored(row.slug),
        name: String => Name::from_stored(row.name),
        description: Option<String> => row.description.map(LongText::from_stored),
        sources: String => from_json(&row.sources)?,
    }
}

row_values! {
    handlungsfelder: HandlungsfeldValues<'a>(input: &'a HandlungsfeldInput) {
        slug: &'a str = &input.slug,
        name: &'a str = &input.name,
        description: Option<&'a str> = input.description.as_deref(),
        sources: String = to_json(&input.sources),
    }
}

impl Table for Handlungsfeld {
    type Filter = HandlungsfeldFilter;

    row_table!(handlungsfelder, HandlungsfeldRow, HandlungsfeldValues);

    fn list(conn: &mut DbConnection, filter: &HandlungsfeldFilter, window: &Window) -> StoreResult<Vec<Handlungsfeld>> {
        let mut query = handlungsfelder::table.select(HandlungsfeldRow::as_select()).into_boxed::<MultiBackend>();
        if let Some(network) = filter.network {
            let linked = network_handlungsfelder::table
                .filter(network_handlungsfelder::network_id.eq(network.to_string()))
                .select(network_handlungsfelder::handlungsfeld_id);
            query = query.filter(handlungsfelder::id.eq_any(linked));
        }
        if let Some(q) = &filter.q {
            let pattern = contains_pattern(q);
            query = query.filter(
                lower(handlungsfelder::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(handlungsfelder::slug.like(pattern).escape('\\')),
            );
        }
        let rows: Vec<HandlungsfeldRow> = apply_window!(query, handlungsfelder, window).load(conn)?;
        rows.into_iter().map(Handlungsfeld::try_from).collect()
    }

    /// The shared vocabulary belongs to no network: only admins may change it.
    fn scope_of_input(_: &mut DbConnection, _: Option<Uuid>, _: &HandlungsfeldInput) -> StoreResult<Scope> {
        Ok(Scope::default())
    }

    fn scope_of_record(_: &mut DbConnection, _: &Handlungsfeld) -> StoreResult<Scope> {
        Ok(Scope::default())
    }

    fn changes_unique_column(before: &HandlungsfeldInput, after: &HandlungsfeldInput) -> bool {
        before.slug != after.slug
    }

    fn check_conflicts(conn: &mut DbConnection, write: Proposed<'_, Self>) -> StoreResult<()> {
        let Proposed { id, input, before } = write;
        if before.is_some_and(|b| b.slug == input.slug) {
            return Ok(());
        }
        super::unique::slug_free!(conn, handlungsfelder, id, input.slug, "Handlungsfeld")
    }

    fn check_dependents(conn: &mut DbConnection, id: Uuid) -> StoreResult<()> {
        let id = id.to_string();
        let networks: i64 = network_handlungsfelder::table
            .filter(network_handlungsfelder::handlungsfeld_id.eq(&id))
            .select(count_star())
            .first(conn)?;
        let contracts: i64 = contract_handlungsfelder::table
            .filter(contract_handlungsfelder::handlungsfeld_id.eq(&id))
            .select(count_star())
            .first(conn)?;
        if networks + contracts > 0 {
            return Err(StoreError::Conflict(format!(
                "the Handlungsfeld is still named by {networks} network(s) and {contracts} contract(s); remove it there first"
            )));
        }
        Ok(())
    }
}
