//! Districts and regions (read-only reference data from the migrations), and lookups other tables share.

use diesel::prelude::*;
use uuid::Uuid;

use super::kinds::{KindVisitor, with_kind};
use super::rows::{parse, stored_row, uuid};
use super::schema::{districts, networks, regions};
use super::table::Table;
use super::{Db, DbConnection, StoreResult};
use crate::domain::access::Scope;
use crate::domain::{District, Region, ResourceKind};

stored_row! {
    /// A district's columns as stored.
    districts: DistrictRow => District |row| {
        key: i32 => row.key,
        name: String => row.name,
        authority: String => row.authority,
    }
}

stored_row! {
    /// A region's columns as stored.
    regions: RegionRow => Region |row| {
        key: String => row.key,
        ars: String => row.ars,
        name: String => row.name,
        kind: String => parse(&row.kind, "region kind")?,
        district_key: i32 => row.district_key,
    }
}

impl Db {
    pub fn districts(&self) -> StoreResult<Vec<District>> {
        self.read(|conn| {
            let rows: Vec<DistrictRow> =
                districts::table.select(DistrictRow::as_select()).order(districts::key).load(conn)?;
            rows.into_iter().map(District::try_from).collect()
        })
    }

    pub fn district(&self, key: i32) -> StoreResult<Option<District>> {
        self.read(|conn| {
            let row: Option<DistrictRow> =
                districts::table.find(key).select(DistrictRow::as_select()).first(conn).optional()?;
            row.map(District::try_from).transpose()
        })
    }

    /// Regions in key order, optionally of one district, after `after` (a key).
    pub fn regions(&self, district_key: Option<i32>, after: Option<&str>, limit: i64) -> StoreResult<Vec<Region>> {
        self.read(|conn| {
            let mut query = regions::table.select(RegionRow::as_select()).into_boxed();
            if let Some(d) = district_key {
                query = query.filter(regions::district_key.eq(d));
            }
            if let Some(after) = after {
                query = query.filter(regions::key.gt(after.to_string()));
            }
            let rows: Vec<RegionRow> = query.order(regions::key).limit(limit).load(conn)?;
            rows.into_iter().map(Region::try_from).collect()
        })
    }

    pub fn region(&self, key: &str) -> StoreResult<Option<Region>> {
        self.read(|conn| {
            let row: Option<RegionRow> =
                regions::table.find(key).select(RegionRow::as_select()).first(conn).optional()?;
            row.map(Region::try_from).transpose()
        })
    }
}

/// Whether the record a reference points to exists.
pub fn exists(conn: &mut DbConnection, kind: ResourceKind, key: &str) -> StoreResult<bool> {
    use diesel::dsl::count_star;
    // MultiConnection has no boolean type, so this counts instead of using EXISTS.
    let count: i64 = match kind {
        ResourceKind::Districts => match key.parse::<i32>() {
            Ok(k) => districts::table.filter(districts::key.eq(k)).select(count_star()).first(conn)?,
            Err(_) => 0,
        },
        ResourceKind::Regions => regions::table.filter(regions::key.eq(key)).select(count_star()).first(conn)?,
        // Every other kind is an editable one: its table is read through the list of kinds.
        editable => {
            struct Exists<'a> {
                conn: &'a mut DbConnection,
                id: Uuid,
                found: StoreResult<bool>,
            }
            impl KindVisitor for Exists<'_> {
                fn visit<R: Table>(&mut self) {
                    self.found = R::exists(self.conn, self.id);
                }
            }
            let Ok(id) = Uuid::parse_str(key) else { return Ok(false) };
            let mut exists = Exists { conn, id, found: Ok(false) };
            with_kind(editable, &mut exists);
            return exists.found;
        }
    };
    Ok(count > 0)
}

/// The district a region belongs to.
pub fn district_of_region(conn: &mut DbConnection, region_key: &str) -> StoreResult<Option<i32>> {
    Ok(regions::table.find(region_key).select(regions::district_key).first(conn).optional()?)
}

/// The scope of a network: itself and its region's district.
pub fn network_scope(conn: &mut DbConnection, network_id: Uuid) -> StoreResult<Scope> {
    let district_key: Option<i32> = networks::table
        .inner_join(regions::table)
        .filter(networks::id.eq(network_id.to_string()))
        .select(regions::district_key)
        .first(conn)
        .optional()?;
    Ok(Scope { network_id: Some(network_id), district_key })
}

/// The ids of the networks a list's `network` filter names: the one with this slug, and the one with this
/// id (both, for a UUID that is another network's slug).
pub fn networks_named(conn: &mut DbConnection, key: &str) -> StoreResult<Vec<String>> {
    Ok(networks::table
        .filter(networks::slug.eq(key).or(networks::id.eq(key.to_lowercase())))
        .select(networks::id)
        .order(networks::id)
        .load(conn)?)
}

/// The id of the record of `$table` (which has a slug) that the UUID or slug `$key` names.
macro_rules! id_by_key {
    ($conn:expr, $table:ident, $key:expr) => {{
        let (conn, key): (&mut DbConnection, &str) = ($conn, $key);
        let id: Option<String> = if crate::domain::validation::parse_uuid(key).is_some() {
            $table::table.find(key.to_lowercase()).select($table::id).first(conn).optional()?
        } else if !crate::domain::validation::is_slug(key) {
            // Not a slug (a NUL byte, an umlaut, a path): no record has it.
            None
        } else {
            $table::table.filter($table::slug.eq(key)).select($table::id).first(conn).optional()?
        };
        id.as_deref().map(uuid).transpose()
    }};
}

/// Resolves a network given by UUID or slug.
pub fn network_id_by_key(conn: &mut DbConnection, key: &str) -> StoreResult<Option<Uuid>> {
    id_by_key!(conn, networks, key)
}
