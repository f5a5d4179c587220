use diesel::dsl::count_star;
use diesel::prelude::*;
use uuid::Uuid;

use super::rows::{contains_pattern, from_json, ids_to_text, lower, naive, timestamp, to_json, uuid};
use super::schema::{contract_handlungsfelder, handlungsfelder, network_handlungsfelder};
use super::table::{Table, Window, apply_window};
use super::{DbConnection, MultiBackend, StoreError, StoreResult, prepared};
use crate::domain::access::Scope;
use crate::domain::{Handlungsfeld, HandlungsfeldFilter, HandlungsfeldInput, Timestamp};

type Row = (String, String, String, Option<String>, String, chrono::NaiveDateTime, chrono::NaiveDateTime);

fn handlungsfeld(row: Row) -> StoreResult<Handlungsfeld> {
    let (id, slug, name, description, sources, created_at, updated_at) = row;
    Ok(Handlungsfeld {
        id: uuid(&id)?,
        slug,
        name,
        description,
        sources: from_json(&sources)?,
        created_at: timestamp(created_at),
        updated_at: timestamp(updated_at),
    })
}

impl Table for Handlungsfeld {
    type Filter = HandlungsfeldFilter;

    fn load(conn: &mut DbConnection, id: Uuid) -> StoreResult<Option<Handlungsfeld>> {
        Ok(Self::load_many(conn, &[id])?.pop())
    }

    fn load_many(conn: &mut DbConnection, ids: &[Uuid]) -> StoreResult<Vec<Handlungsfeld>> {
        let rows: Vec<Row> = handlungsfelder::table
            .filter(handlungsfelder::id.eq_any(ids_to_text(ids)))
            .select(handlungsfelder::all_columns)
            .order(handlungsfelder::id)
            .load(conn)?;
        rows.into_iter().map(handlungsfeld).collect()
    }

    fn list(conn: &mut DbConnection, filter: &HandlungsfeldFilter, window: &Window) -> StoreResult<Vec<Handlungsfeld>> {
        let mut query = handlungsfelder::table.select(handlungsfelder::all_columns).into_boxed::<MultiBackend>();
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
        let rows: Vec<Row> = apply_window!(query, handlungsfelder, window).load(conn)?;
        rows.into_iter().map(handlungsfeld).collect()
    }

    fn insert(conn: &mut DbConnection, id: Uuid, input: &HandlungsfeldInput, now: Timestamp) -> StoreResult<()> {
        diesel::insert_into(handlungsfelder::table)
            .values((
                handlungsfelder::id.eq(id.to_string()),
                handlungsfelder::slug.eq(&input.slug),
                handlungsfelder::name.eq(&input.name),
                handlungsfelder::description.eq(&input.description),
                handlungsfelder::sources.eq(to_json(&input.sources)),
                handlungsfelder::created_at.eq(naive(now)),
                handlungsfelder::updated_at.eq(naive(now)),
            ))
            .execute(conn)?;
        Ok(())
    }

    fn update(
        conn: &mut DbConnection,
        id: Uuid,
        input: &HandlungsfeldInput,
        now: Timestamp,
        version: Timestamp,
    ) -> StoreResult<Option<Self>> {
        let row: Option<Row> = prepared::update(
            handlungsfelder::table,
            (
                handlungsfelder::slug.eq(&input.slug),
                handlungsfelder::name.eq(&input.name),
                handlungsfelder::description.eq(&input.description),
                handlungsfelder::sources.eq(to_json(&input.sources)),
                handlungsfelder::updated_at.eq(naive(now)),
            ),
            handlungsfelder::id.eq(id.to_string()).and(handlungsfelder::updated_at.eq(naive(version))),
        )
        .returning(handlungsfelder::all_columns)
        .get_result(conn)
        .optional()?;
        row.map(handlungsfeld).transpose()
    }

    fn delete(conn: &mut DbConnection, id: Uuid) -> StoreResult<()> {
        diesel::delete(handlungsfelder::table.find(id.to_string())).execute(conn)?;
        Ok(())
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

    fn check_conflicts(
        conn: &mut DbConnection,
        id: Option<Uuid>,
        input: &HandlungsfeldInput,
        before: Option<&HandlungsfeldInput>,
    ) -> StoreResult<()> {
        if before.is_some_and(|b| b.slug == input.slug) {
            return Ok(());
        }
        let own = id.map(|id| id.to_string()).unwrap_or_default();
        let taken: i64 = handlungsfelder::table
            .filter(handlungsfelder::slug.eq(&input.slug))
            .filter(handlungsfelder::id.ne(&own))
            .select(count_star())
            .first(conn)?;
        if taken > 0 {
            let detail = format!("the slug '{}' is already used by another Handlungsfeld", input.slug);
            return Err(super::unique::taken("handlungsfelder", "slug", Some(detail)));
        }
        Ok(())
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
