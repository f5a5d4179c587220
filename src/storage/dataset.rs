//! Import and export of the whole dataset, and seeding an empty database.

use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamp as SqlTimestamp};
use std::io::Write;

use serde_json::Value;
use uuid::Uuid;

use super::kinds::{KindVisitor, for_each_kind, with_kind};
use super::rows::naive;
use super::rows::{from_json, to_json};
use super::schema::{changes, facts, networks};
use super::table::{Proposed, Table, Window};
use super::{Actor, Change, Db, DbConnection, StoreError, StoreResult, audit, check_references};
use crate::domain::dataset::{self, Dataset, DatasetWriter, Existing, Record, SectionVisitor};
use crate::domain::{Access, Fact, FieldError, FromQuery, ResourceKind, Timestamp};

/// The number of networks, the stored facts and the Regierungsbezirke's names by key (see [`Db::facts`]).
pub type StoredFacts = (i64, Vec<Fact>, Vec<(i32, String)>);

/// What an import did, per section.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Whether the file's `facts` section replaced the stored one (`false` when equal or absent).
    pub facts_replaced: bool,
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the dataset is invalid")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(error: diesel::result::Error) -> Self {
        ImportError::Store(error.into())
    }
}

/// The kinds of the dataset file: the editable kinds of [`super::kinds`], handed to the domain's parser,
/// which puts them in the file's order (`Resource::DATASET`). Import and export visit them in that order
/// too ([`dataset::sections`], then [`with_kind`]), so no code here names a kind.
pub struct DatasetKinds;

impl dataset::Kinds for DatasetKinds {
    fn for_each(visitor: &mut impl SectionVisitor) {
        struct Forward<'a, V>(&'a mut V);
        impl<V: SectionVisitor> KindVisitor for Forward<'_, V> {
            fn visit<R: Table>(&mut self) {
                self.0.visit::<R>();
            }
        }
        for_each_kind(&mut Forward(visitor));
    }
}

/// Calls `visitor` with every editable kind, in the order of the dataset file's sections.
fn for_each_section(visitor: &mut impl KindVisitor) {
    for kind in dataset::sections::<DatasetKinds>() {
        with_kind(kind, visitor);
    }
}

/// Slugs already in the database, for files that refer to stored records.
struct Stored<'a>(std::cell::RefCell<&'a mut DbConnection>);

impl Existing for Stored<'_> {
    /// Asked only for kinds known by slug (`Section::by_slug`), whose tables have a `slug` column.
    fn id_by_slug(&self, kind: ResourceKind, slug: &str) -> Option<Uuid> {
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = Text)]
            id: String,
        }
        use crate::domain::validation::{is_slug, parse_uuid};
        // As a reference to a network in a path reads it: a UUID names its id, anything else its slug.
        let (column, key) = match parse_uuid(slug) {
            Some(_) => ("id", slug.to_lowercase()),
            None if is_slug(slug) => ("slug", slug.to_string()),
            None => return None,
        };
        let sql = format!("SELECT id FROM {} WHERE {column} = $1", table_of(kind));
        macro_rules! id_on {
            ($conn:expr) => {
                diesel::sql_query(&sql).bind::<Text, _>(&key).get_result::<Id>($conn).optional()
            };
        }
        let mut conn = self.0.borrow_mut();
        let found = match &mut **conn {
            DbConnection::Postgres(pg) => id_on!(pg),
            DbConnection::Sqlite(lite) => id_on!(lite),
        };
        found.ok().flatten().and_then(|row| Uuid::parse_str(&row.id).ok())
    }
}

impl Db {
    /// Validates the whole file, then writes all of it or nothing, in one transaction. Records are
    /// matched by id (or, for networks and Handlungsfelder, by slug); unchanged ones are not written.
    pub fn import(&self, file: &Value, actor: &Actor) -> Result<ImportReport, ImportError> {
        self.exclusive_transaction(actor, |conn| import_in(conn, file, actor))
    }

    /// Loads `file` when the database has never held any record (first start). Returns whether it did.
    /// The check is part of the import's transaction, so of several instances starting together on one
    /// empty database exactly one loads it.
    pub fn seed_if_empty(&self, file: &Value) -> Result<bool, ImportError> {
        // Whether a row exists, not how many: the change feed of a registry in use holds millions.
        fn written(conn: &mut DbConnection) -> StoreResult<bool> {
            let ever_written: Option<i64> = changes::table.select(changes::seq).first(conn).optional()?;
            let network: Option<String> = networks::table.select(networks::id).first(conn).optional()?;
            Ok(ever_written.is_some() || network.is_some())
        }
        // Usually the database holds data already: then no instance needs to lock anything.
        if self.read(written)? {
            return Ok(false);
        }
        let actor = Actor { key_name: Some("seed".into()), ..Actor::default() };
        self.exclusive_transaction(&actor, |conn| {
            if written(conn)? {
                return Ok(false);
            }
            import_in(conn, file, &actor).map(|_| true)
        })
    }

    /// Writes the whole registry as a dataset file, as `access` may see it, from one snapshot read in pages
    /// of [`EXPORT_PAGE`] records: memory stays flat whatever the registry's size. `export → import →
    /// export` is identical.
    ///
    /// The export reads on a connection of its own, not one of the pool: a client that downloads slowly
    /// holds it for as long as it takes, and the pool's connections stay for the short reads. `begin` is
    /// told the snapshot's version first and returns where to write, or `None` to write nothing (the
    /// client has the version already). Returns the output, or `None` when `begin` declined.
    pub fn export<W: Write>(
        &self,
        access: &Access,
        begin: impl FnOnce(&SnapshotVersion) -> Option<W>,
    ) -> Result<Option<W>, ExportError> {
        let mut conn = self.dedicated_connection()?;
        super::read_on(&mut conn, |conn| Ok(export_in(conn, access, begin)))?
    }

    /// The number of networks the registry holds and the stored facts (what the documents state about the
    /// networks as a whole), on one snapshot: the `facts` of the discovery document.
    /// Also the names of the Regierungsbezirke by key, to say which one a fact is about.
    pub fn facts(&self) -> StoreResult<StoredFacts> {
        use super::schema::districts;
        self.read(|conn| {
            let count: i64 = networks::table.select(count_star()).first(conn)?;
            let names = districts::table.select((districts::key, districts::name)).load(conn)?;
            Ok((count, stored_facts(conn)?, names))
        })
    }

    /// All records of one type as `access` may see them, in id order (for exports).
    pub fn all<R: Table>(&self, filter: &R::Filter, access: &Access) -> StoreResult<Vec<R>> {
        self.read(|conn| {
            let everything = Window { limit: i64::MAX, after: None, since: None };
            let records = R::list(conn, filter, &everything)?;
            Ok(R::present(conn, records, access)?
                .into_iter()
                .filter_map(|c| match c {
                    Change::Live(r) => Some(r),
                    Change::Deleted { .. } => None,
                })
                .collect())
        })
    }
}

/// The stored facts; none before a dataset with a `facts` section was imported.
fn stored_facts(conn: &mut DbConnection) -> StoreResult<Vec<Fact>> {
    let text: Option<String> = facts::table.select(facts::statements).first(conn).optional()?;
    text.map_or(Ok(Vec::new()), |text| from_json(&text))
}

fn write_facts(conn: &mut DbConnection, statements: &[Fact]) -> StoreResult<()> {
    diesel::delete(facts::table).execute(conn)?;
    diesel::insert_into(facts::table)
        .values((facts::id.eq(1), facts::statements.eq(to_json(&statements))))
        .execute(conn)?;
    Ok(())
}

/// The import's work, inside its transaction (see [`Db::import`]).
fn import_in(conn: &mut DbConnection, file: &Value, actor: &Actor) -> Result<ImportReport, ImportError> {
    let dataset = {
        let stored = Stored(std::cell::RefCell::new(conn));
        dataset::parse::<DatasetKinds>(file, &stored).map_err(|e| ImportError::Invalid(e.0))?
    };
    let mut report = ImportReport::default();
    let mut problems = Vec::new();
    // Versions follow the commit order (see `storage::version_time`): a record the import writes
    // keeps the file's time only when that is later than every change committed before, which
    // holds for a file loaded into an empty database; otherwise mirrors would pass it.
    let floor = super::changes::last_change(conn)?;
    let clock = Versions { floor, now: floor.map_or_else(Timestamp::now, Timestamp::now_after) };
    let mut sections = ImportSections {
        conn: &mut *conn,
        dataset: &dataset,
        actor,
        clock,
        report: &mut report,
        problems: &mut problems,
        result: Ok(()),
    };
    for_each_section(&mut sections);
    sections.result?;
    if let Some(wanted) = &dataset.facts
        && stored_facts(conn)? != *wanted
    {
        write_facts(conn, wanted)?;
        audit::append(conn, actor, "facts", Uuid::nil(), "import", &["facts".into()], clock.now)?;
        report.facts_replaced = true;
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    Ok(report)
}

/// Rows an export reads per query.
pub const EXPORT_PAGE: i64 = 500;

/// What identifies the state a snapshot shows: the number of write transactions committed before it (the
/// data version, see `Db::data_version`) and the time of the latest change. Every write that changes
/// what an export holds commits a write transaction, so a different state has a different version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotVersion {
    pub writes: i64,
    pub last_change: Option<Timestamp>,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The output refused the bytes (a client that went away or stopped reading).
    #[error("the export could not be written: {0}")]
    Write(#[from] std::io::Error),
}

/// The export's work, inside its snapshot (see [`Db::export`]).
fn export_in<W: Write>(
    conn: &mut DbConnection,
    access: &Access,
    begin: impl FnOnce(&SnapshotVersion) -> Option<W>,
) -> Result<Option<W>, ExportError> {
    let version =
        SnapshotVersion { writes: super::data_version(conn)?, last_change: super::changes::last_change(conn)? };
    let Some(out) = begin(&version) else { return Ok(None) };
    let mut writer = DatasetWriter::start(out)?;
    let mut sections = ExportSections { conn: &mut *conn, writer: &mut writer, access, result: Ok(()) };
    for_each_section(&mut sections);
    sections.result?;
    Ok(Some(writer.finish(&stored_facts(conn)?)?))
}

/// Writes each section of an export (see [`write_section`]) until one fails.
struct ExportSections<'a, W: Write> {
    conn: &'a mut DbConnection,
    writer: &'a mut DatasetWriter<W>,
    access: &'a Access,
    result: Result<(), ExportError>,
}

impl<W: Write> KindVisitor for ExportSections<'_, W> {
    fn visit<R: Table>(&mut self) {
        if self.result.is_ok() {
            self.result = write_section::<R>(self.conn, self.writer, self.access);
        }
    }
}

/// One section of an export, in its list order (id, or start for meetings), a page at a time: the records
/// `access` may see, with what it may see of them (contacts' private parts).
fn write_section<R: Table>(
    conn: &mut DbConnection,
    writer: &mut DatasetWriter<impl Write>,
    access: &Access,
) -> Result<(), ExportError> {
    let mut filter = R::Filter::default();
    filter.restrict(access);
    let filter = &filter;
    writer.section(R::KIND.as_str())?;
    let mut after = None;
    loop {
        let window = Window { limit: EXPORT_PAGE, after, since: None };
        let records = R::list(conn, filter, &window)?;
        let full = records.len() as i64 == EXPORT_PAGE;
        after = records.last().map(Table::position);
        for change in R::present(conn, records, access)? {
            if let Change::Live(record) = change {
                writer.record(&record)?;
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// The times an import writes with: `now`, after `floor` (the latest change committed before it).
#[derive(Debug, Clone, Copy)]
struct Versions {
    floor: Option<Timestamp>,
    now: Timestamp,
}

/// Imports each section of a dataset (see [`import_section`]) until one fails.
struct ImportSections<'a> {
    conn: &'a mut DbConnection,
    dataset: &'a Dataset,
    actor: &'a Actor,
    clock: Versions,
    report: &'a mut ImportReport,
    problems: &'a mut Vec<FieldError>,
    result: Result<(), ImportError>,
}

impl KindVisitor for ImportSections<'_> {
    fn visit<R: Table>(&mut self) {
        if self.result.is_ok() {
            let records = self.dataset.records::<R>();
            self.result = import_section::<R>(self.conn, records, self.actor, self.clock, self.report, self.problems);
        }
    }
}

fn import_section<R: Table>(
    conn: &mut DbConnection,
    records: &[Record<R::Input>],
    actor: &Actor,
    Versions { floor, now }: Versions,
    report: &mut ImportReport,
    problems: &mut Vec<FieldError>,
) -> Result<(), ImportError> {
    for record in records {
        let at = |e: FieldError| FieldError::new(format!("{}.{}", record.location, e.field), e.message);
        if let Err(e) = check_references(conn, &R::references(&record.input)) {
            match e {
                StoreError::InvalidReferences(errors) => problems.extend(errors.into_iter().map(at)),
                other => return Err(other.into()),
            }
            continue;
        }
        let existing = R::load(conn, record.id)?;
        if let Err(e) = R::check_conflicts(
            conn,
            Proposed { id: existing.as_ref().map(|_| record.id), input: &record.input, before: None },
        ) {
            match e {
                StoreError::Conflict(why) => problems.push(FieldError::new(record.location.clone(), why)),
                StoreError::Taken { error, detail } => problems.push(at(FieldError::new(error.field, detail))),
                StoreError::InvalidReferences(errors) => problems.extend(errors.into_iter().map(at)),
                other => return Err(other.into()),
            }
            continue;
        }
        let wanted = serde_json::to_value(&record.input).unwrap_or_default();
        let stamp_created = record.created_at.unwrap_or(now);
        let stamp_updated = record.updated_at.filter(|at| floor.is_none_or(|floor| *at > floor)).unwrap_or(now);
        match existing {
            Some(current) if current.writable_value() == wanted => {
                report.unchanged += 1;
                continue;
            }
            Some(current) => {
                // A changed record's version only grows, as with every write (`floor` is at least its
                // version): a file's older time (a restored backup, an edited export) would hide the change
                // from mirrors and If-Match. The import holds the tables exclusively: nobody can have changed the record meanwhile.
                if R::update(conn, record.id, &record.input, stamp_updated, current.updated_at())?.is_none() {
                    return Err(
                        StoreError::Corrupt(format!("{} {} changed during the import", R::KIND, record.id)).into()
                    );
                }
                let fields: Vec<String> = R::WRITABLE
                    .iter()
                    .filter(|f| current.writable_value().get(**f) != wanted.get(**f))
                    .map(|f| f.to_string())
                    .collect();
                audit::append(conn, actor, R::KIND.as_str(), record.id, "import", &fields, now)?;
                report.updated += 1;
            }
            None => {
                R::insert(conn, record.id, &record.input, stamp_updated)?;
                audit::append(conn, actor, R::KIND.as_str(), record.id, "import", &[], now)?;
                report.created += 1;
            }
        }
        stamp(conn, R::KIND, record.id, record.created_at.map(|_| stamp_created), stamp_updated)?;
        super::changes::record(conn, R::KIND, record.id, stamp_updated, false)?;
    }
    Ok(())
}

/// The table that holds the records of `kind`: every editable kind's table is named as the kind is in
/// paths (`networks`, see `schema.rs`). The import's two statements that are not a kind's own writes,
/// [`stamp`] and [`Stored::id_by_slug`], use the name, so that the dataset code names no kind; every
/// dataset round trip on both backends runs them for every kind.
fn table_of(kind: ResourceKind) -> &'static str {
    kind.as_str()
}

/// Sets a record's timestamps to those of the file (an import keeps them, so a round trip is identical).
fn stamp(
    conn: &mut DbConnection,
    kind: ResourceKind,
    id: Uuid,
    created: Option<Timestamp>,
    updated: Timestamp,
) -> StoreResult<()> {
    let sql =
        format!("UPDATE {} SET updated_at = $1, created_at = COALESCE($2, created_at) WHERE id = $3", table_of(kind));
    macro_rules! stamp_on {
        ($conn:expr) => {
            diesel::sql_query(&sql)
                .bind::<SqlTimestamp, _>(naive(updated))
                .bind::<Nullable<SqlTimestamp>, _>(created.map(naive))
                .bind::<Text, _>(id.to_string())
                .execute($conn)?
        };
    }
    match conn {
        DbConnection::Postgres(pg) => stamp_on!(pg),
        DbConnection::Sqlite(lite) => stamp_on!(lite),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::domain::dataset::{FORMAT, parse, sections};
    use crate::domain::{Contract, Network};

    /// Each kind has a section of its own, after the kinds it references (an import writes them first),
    /// and today's kinds keep the order files have always had; a new kind may come anywhere after the kinds
    /// it references.
    #[test]
    fn every_kind_has_a_section_after_the_kinds_it_references() {
        struct Places(Vec<(ResourceKind, dataset::Section)>);
        impl SectionVisitor for Places {
            fn visit<R: crate::domain::Resource>(&mut self) {
                self.0.push((R::KIND, R::DATASET));
            }
        }
        let mut places = Places(Vec::new());
        <DatasetKinds as dataset::Kinds>::for_each(&mut places);
        let order = sections::<DatasetKinds>();
        let mut distinct: Vec<u8> = places.0.iter().map(|(_, section)| section.place).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), crate::storage::kinds::editable_kinds().len(), "no two kinds share a place");
        for (kind, section) in &places.0 {
            let at = |k: &ResourceKind| order.iter().position(|o| o == k).unwrap();
            for (field, referenced) in section.references {
                assert!(at(referenced) < at(kind), "{kind}.{field} refers to a later section");
            }
        }
        let known = ["handlungsfelder", "networks", "bodies", "contracts", "contacts", "meetings"];
        let names: Vec<_> = order.iter().map(ResourceKind::as_str).filter(|name| known.contains(name)).collect();
        assert_eq!(names, known);
    }

    #[test]
    fn the_seed_file_is_valid() {
        let value: Value = serde_json::from_str(crate::app::SEED).unwrap();
        let dataset = parse::<DatasetKinds>(&value, &()).unwrap();
        let networks = dataset.records::<Network>();
        assert!(networks.len() >= 40);
        assert!(dataset.records::<Contract>().iter().all(|c| networks.iter().any(|n| n.id == c.input.network_id)));
        assert!(dataset.facts.is_some_and(|facts| !facts.is_empty()));
    }

    #[test]
    fn reports_every_problem_with_its_location() {
        let file = json!({
            "format": FORMAT, "formatVersion": 1,
            "networks": [
                {"id": "0190b7e2-3c4d-7a1b-9f00-000000000001", "slug": "a", "name": "A", "regionKey": "5158"},
                {"slug": "b", "name": "B", "regionKey": "05158"}
            ],
            "contracts": [{"id": "0190b7e2-3c4d-7a1b-9f00-000000000002", "networkId": "nowhere", "kind": "founding", "signedOn": "2019-13"}]
        });
        let errors = parse::<DatasetKinds>(&file, &()).err().expect("the file is invalid").0;
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["networks[0].regionKey", "networks[1].id", "contracts[0].networkId", "contracts[0].signedOn"]
        );
    }
}
