//! The dataset file: the whole registry in one JSON document, the format of `rbn import`, `rbn export`,
//! `/v1/exports/dataset.json` and the seed data in `data/seed.json`.
//!
//! Records carry their `id` (so a second import of the same file changes nothing) and may refer to
//! networks and Handlungsfelder by slug instead of UUID, which keeps hand-written files readable.

mod writer;

use std::any::Any;
use std::collections::HashMap;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::validation::{FieldError, ValidationErrors};
use super::{Fact, Resource, ResourceKind, Timestamp};

pub use writer::DatasetWriter;

pub const FORMAT: &str = "rbn-registry-dataset";
pub const FORMAT_VERSION: i64 = 1;

/// A kind's section of the dataset file (`Resource::DATASET`).
///
/// The file holds one section per editable kind, named as the kind's path (`networks`), in the order of
/// their `place`: referenced kinds first (Handlungsfelder, networks, bodies, contracts, contacts,
/// meetings), so that a reader meets a record before the records that refer to it. That is not the order
/// of the API's list of kinds (`storage::kinds`), which is why each kind states its place here.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// The section's position in the file; no two kinds share one.
    pub place: u8,
    /// The fields whose values may name a record of another kind by slug instead of UUID.
    pub references: &'static [(&'static str, ResourceKind)],
    /// Whether records of the kind are known by slug (other sections may name them so).
    pub by_slug: bool,
}

/// Something done once per kind of record a dataset holds; `R` is the kind's record type.
pub trait SectionVisitor {
    fn visit<R: Resource>(&mut self);
}

/// The kinds a dataset file holds, in any order.
///
/// The domain does not keep the list of editable kinds: storage does (`storage::kinds`, whose record
/// types also know their tables), and hands it to [`parse`] and [`sections`] through this trait. So the
/// dataset code names no kind, and a kind added to that list has its section.
pub trait Kinds {
    fn for_each(visitor: &mut impl SectionVisitor);
}

/// The kinds of `K` in the order of their sections in the file (see [`Section`]).
pub fn sections<K: Kinds>() -> Vec<ResourceKind> {
    struct Places(Vec<(u8, ResourceKind)>);
    impl SectionVisitor for Places {
        fn visit<R: Resource>(&mut self) {
            self.0.push((R::DATASET.place, R::KIND));
        }
    }
    let mut places = Places(Vec::new());
    K::for_each(&mut places);
    places.0.sort_unstable_by_key(|(place, _)| *place);
    places.0.into_iter().map(|(_, kind)| kind).collect()
}

/// One validated record of a dataset.
#[derive(Debug, Clone)]
pub struct Record<I> {
    pub id: Uuid,
    pub input: I,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    /// Where it is in the file, e.g. `networks[3]`.
    pub location: String,
}

/// A validated dataset, references resolved to UUIDs.
#[derive(Default)]
pub struct Dataset {
    /// Each kind's records (a `Vec<Record<R::Input>>` for the kind `R`), by kind; see [`Dataset::records`].
    sections: HashMap<ResourceKind, Box<dyn Any + Send + Sync>>,
    /// The `facts` section: what the documents state about the networks as a whole. `None` when the file
    /// has none (an import then leaves the stored facts alone).
    pub facts: Option<Vec<Fact>>,
}

impl Dataset {
    /// The records of the kind `R`, in the order of the file.
    pub fn records<R: Resource>(&self) -> &[Record<R::Input>] {
        let records = self.sections.get(&R::KIND).and_then(|s| s.downcast_ref::<Vec<Record<R::Input>>>());
        records.map_or(&[], Vec::as_slice)
    }
}

/// Looks up records outside the file: the id of the record of `kind` (one known by slug) with this slug.
pub trait Existing {
    fn id_by_slug(&self, kind: ResourceKind, slug: &str) -> Option<Uuid>;
}

impl Existing for () {
    fn id_by_slug(&self, _: ResourceKind, _: &str) -> Option<Uuid> {
        None
    }
}

struct Parser<'a> {
    errors: Vec<FieldError>,
    /// Slug → id of the records known by slug (networks, Handlungsfelder) in the file.
    slugs: HashMap<(ResourceKind, String), Uuid>,
    /// File id → id of the stored record with the same slug ("matched by id or slug").
    renamed: HashMap<Uuid, Uuid>,
    /// Every record's id and location, in the order of the file.
    ids: Vec<(Uuid, String)>,
    /// The kinds known by slug (`Section::by_slug`): only for them is a reference that is no UUID looked
    /// up, in the file and in the database.
    by_slug: Vec<ResourceKind>,
    existing: &'a dyn Existing,
}

/// One section's work in [`parse`], for the kind it was made for.
struct SectionParser {
    kind: ResourceKind,
    section: Section,
    records: fn(&mut Parser<'_>, Vec<Value>) -> Box<dyn Any + Send + Sync>,
}

impl SectionParser {
    /// Every section of `K`, in the order of the file.
    fn all<K: Kinds>() -> Vec<SectionParser> {
        struct Collect(Vec<SectionParser>);
        impl SectionVisitor for Collect {
            fn visit<R: Resource>(&mut self) {
                fn records<R: Resource>(parser: &mut Parser<'_>, items: Vec<Value>) -> Box<dyn Any + Send + Sync> {
                    Box::new(parser.records::<R>(items))
                }
                self.0.push(SectionParser { kind: R::KIND, section: R::DATASET, records: records::<R> });
            }
        }
        let mut all = Collect(Vec::new());
        K::for_each(&mut all);
        all.0.sort_unstable_by_key(|s| s.section.place);
        all.0
    }
}

/// Validates a whole dataset holding the kinds `K`, reporting every problem with its location.
pub fn parse<K: Kinds>(value: &Value, existing: &dyn Existing) -> Result<Dataset, ValidationErrors> {
    let Some(top) = value.as_object() else {
        return Err(ValidationErrors::single("(file)", "must be a JSON object"));
    };
    let kinds = SectionParser::all::<K>();
    let by_slug = kinds.iter().filter(|s| s.section.by_slug).map(|s| s.kind).collect();
    let mut parser = Parser {
        errors: Vec::new(),
        slugs: HashMap::new(),
        renamed: HashMap::new(),
        ids: Vec::new(),
        by_slug,
        existing,
    };
    let names: Vec<&str> = kinds.iter().map(|s| s.kind.as_str()).collect();
    for key in top.keys() {
        if !["format", "formatVersion", "licence", "facts"].contains(&key.as_str()) && !names.contains(&key.as_str()) {
            parser.errors.push(FieldError::new(key.clone(), "unknown section"));
        }
    }
    if top.get("format").and_then(Value::as_str) != Some(FORMAT) {
        parser.errors.push(FieldError::new("format", format!("must be \"{FORMAT}\"")));
    }
    if top.get("formatVersion").and_then(Value::as_i64) != Some(FORMAT_VERSION) {
        parser.errors.push(FieldError::new("formatVersion", format!("must be {FORMAT_VERSION}")));
    }
    let section = |name: &str, errors: &mut Vec<FieldError>| -> Vec<Value> {
        match top.get(name) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(_) => {
                errors.push(FieldError::new(name, "must be an array"));
                Vec::new()
            }
        }
    };
    let items: Vec<Vec<Value>> = names.iter().map(|name| section(name, &mut parser.errors)).collect();
    let facts = match top.get("facts") {
        None | Some(Value::Null) => None,
        Some(Value::Array(_)) => Some(section("facts", &mut parser.errors)),
        Some(_) => {
            parser.errors.push(FieldError::new("facts", "must be an array"));
            None
        }
    };

    for (kind, items) in kinds.iter().zip(&items) {
        if parser.by_slug.contains(&kind.kind) {
            parser.collect_slugs(kind.kind, items);
        }
    }
    let mut dataset = Dataset::default();
    for (kind, items) in kinds.iter().zip(items) {
        let records = (kind.records)(&mut parser, items);
        dataset.sections.insert(kind.kind, records);
    }
    dataset.facts = facts.map(|items| parser.facts(items));
    let mut ids: HashMap<Uuid, String> = HashMap::new();
    for (id, location) in std::mem::take(&mut parser.ids) {
        if let Some(first) = ids.insert(id, location.clone()) {
            parser.errors.push(FieldError::new(format!("{location}.id"), format!("is also the id of {first}")));
        }
    }
    // An unresolvable reference is also "not a UUID" to the record's own validation: report it once.
    let mut seen = std::collections::HashSet::new();
    parser.errors.retain(|e| seen.insert(e.field.clone()));
    if parser.errors.is_empty() { Ok(dataset) } else { Err(ValidationErrors(parser.errors)) }
}

impl Parser<'_> {
    fn collect_slugs(&mut self, kind: ResourceKind, items: &[Value]) {
        let section = kind.as_str();
        for (i, item) in items.iter().enumerate() {
            let (Some(slug), Some(id)) = (
                item.get("slug").and_then(Value::as_str),
                item.get("id").and_then(Value::as_str).and_then(|id| Uuid::parse_str(id).ok()),
            ) else {
                continue;
            };
            if self.slugs.insert((kind, slug.to_string()), id).is_some() {
                self.errors
                    .push(FieldError::new(format!("{section}[{i}].slug"), "is used by another record of the file"));
            }
            if let Some(stored) = self.existing.id_by_slug(kind, slug)
                && stored != id
            {
                self.renamed.insert(id, stored);
            }
        }
    }

    /// The id a reference (UUID or slug) in the file stands for.
    fn resolve(&self, kind: ResourceKind, text: &str) -> Option<Uuid> {
        let id = match Uuid::parse_str(text) {
            Ok(id) => id,
            Err(_) if self.by_slug.contains(&kind) => {
                self.slugs.get(&(kind, text.to_string())).copied().or_else(|| self.existing.id_by_slug(kind, text))?
            }
            Err(_) => return None,
        };
        Some(self.renamed.get(&id).copied().unwrap_or(id))
    }

    fn records<R: Resource>(&mut self, items: Vec<Value>) -> Vec<Record<R::Input>> {
        let mut records = Vec::new();
        for (i, mut item) in items.into_iter().enumerate() {
            let location = format!("{}[{i}]", R::KIND.as_str());
            let Some(object) = item.as_object_mut() else {
                self.errors.push(FieldError::new(location, "must be a JSON object"));
                continue;
            };
            let id = object.get("id").and_then(Value::as_str).and_then(|id| Uuid::parse_str(id).ok());
            let Some(id) = id else {
                self.errors.push(FieldError::new(
                    format!("{location}.id"),
                    "is required: a UUID, so that a second import finds the record",
                ));
                continue;
            };
            let id = self.renamed.get(&id).copied().unwrap_or(id);
            let created_at = self.timestamp(object, "createdAt", &location);
            let updated_at = self.timestamp(object, "updatedAt", &location);
            for (field, kind) in R::DATASET.references {
                self.rewrite(object, field, *kind, &location);
            }
            match R::parse_input(&item) {
                Ok(input) => {
                    self.ids.push((id, location.clone()));
                    records.push(Record { id, input, created_at, updated_at, location });
                }
                Err(ValidationErrors(errors)) => self
                    .errors
                    .extend(errors.into_iter().map(|e| FieldError::new(format!("{location}.{}", e.field), e.message))),
            }
        }
        records
    }

    fn facts(&mut self, items: Vec<Value>) -> Vec<Fact> {
        let mut facts = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match Fact::parse(item) {
                Ok(fact) => facts.push(fact),
                Err(ValidationErrors(errors)) => self
                    .errors
                    .extend(errors.into_iter().map(|e| FieldError::new(format!("facts[{i}].{}", e.field), e.message))),
            }
        }
        facts
    }

    fn timestamp(&mut self, object: &Map<String, Value>, field: &str, location: &str) -> Option<Timestamp> {
        let value = object.get(field).filter(|v| !v.is_null())?;
        let parsed = value.as_str().and_then(Timestamp::parse);
        if parsed.is_none() {
            self.errors.push(FieldError::new(format!("{location}.{field}"), "must be an RFC 3339 date-time"));
        }
        parsed
    }

    /// Replaces slugs in a reference field (a string or a list of strings) by UUIDs.
    fn rewrite(&mut self, object: &mut Map<String, Value>, field: &str, kind: ResourceKind, location: &str) {
        let Some(value) = object.get_mut(field) else {
            return;
        };
        let resolve_one = |text: &mut Value, path: String, errors: &mut Vec<FieldError>| {
            if let Some(reference) = text.as_str() {
                match self.resolve(kind, reference) {
                    Some(id) => *text = Value::String(id.to_string()),
                    None => errors.push(FieldError::new(path, format!("names no {kind} in the file or the database"))),
                }
            }
        };
        let mut errors = Vec::new();
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    resolve_one(item, format!("{location}.{field}[{i}]"), &mut errors);
                }
            }
            other => resolve_one(other, format!("{location}.{field}"), &mut errors),
        }
        self.errors.extend(errors);
    }
}

/// The licence of the registry's data, stated in the discovery document and every export.
pub fn licence() -> Value {
    serde_json::json!({
        "id": "dl-de/by-2-0",
        "name": "Datenlizenz Deutschland – Namensnennung – Version 2.0",
        "url": "https://www.govdata.de/dl-de/by-2-0",
        "attribution": "Register der Regionalen Bildungsnetzwerke NRW (rbn-registry)"
    })
}

super::common::string_enum! {
    /// The character between the cells of a CSV file: `,` (RFC 4180), or `;`, the list separator of German
    /// spreadsheet programs (Excel opens such a file in columns with a double click).
    CsvSeparator { Comma = "comma", Semicolon = "semicolon" }
}

impl CsvSeparator {
    pub fn as_char(self) -> char {
        match self {
            CsvSeparator::Comma => ',',
            CsvSeparator::Semicolon => ';',
        }
    }
}

/// A column of a CSV export: its header, the record's field it comes from and how that becomes text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvColumn {
    pub header: &'static str,
    pub field: &'static str,
    pub text: CellText,
}

/// How a field's JSON value becomes the text of a cell: readable, never JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellText {
    /// Strings as they are, numbers and booleans as JSON writes them, a list of strings joined with `, `.
    Plain,
    /// One part of an object, e.g. an address's `city` (or `address.city` of a nested one): mail merges and
    /// filters want them in columns.
    Part(&'static str),
    /// Sources as `Title (publisher, date, URL)`, the parts the source has, joined with `; `.
    Sources,
    /// Signatories as `Name (role, party)`, joined with `; `.
    Signatories,
}

impl CsvColumn {
    /// A field in a column of its own name.
    pub const fn plain(field: &'static str) -> CsvColumn {
        CsvColumn { header: field, field, text: CellText::Plain }
    }

    /// The sources of a record, readable.
    pub const SOURCES: CsvColumn = CsvColumn { header: "sources", field: "sources", text: CellText::Sources };

    /// The signatories of a contract, readable.
    pub const SIGNATORIES: CsvColumn =
        CsvColumn { header: "signatories", field: "signatories", text: CellText::Signatories };

    /// An address is three columns: street, postal code, city.
    pub const ADDRESS_STREET: CsvColumn =
        CsvColumn { header: "addressStreet", field: "address", text: CellText::Part("street") };
    pub const ADDRESS_POSTAL_CODE: CsvColumn =
        CsvColumn { header: "addressPostalCode", field: "address", text: CellText::Part("postalCode") };
    pub const ADDRESS_CITY: CsvColumn =
        CsvColumn { header: "addressCity", field: "address", text: CellText::Part("city") };
}

/// A kind's CSV columns (`Resource::CSV_COLUMNS`): `csv_columns![id, name, (SOURCES), createdAt]` is a
/// field in a column of its own name for each name, and the [`CsvColumn`] constant in parentheses for a
/// field that takes several columns or reads as text.
macro_rules! csv_columns {
    (@column ($special:ident)) => {
        $crate::domain::dataset::CsvColumn::$special
    };
    (@column $field:ident) => {
        $crate::domain::dataset::CsvColumn::plain(stringify!($field))
    };
    ($($column:tt),* $(,)?) => {
        &[$($crate::domain::dataset::csv_columns!(@column $column)),*]
    };
}
pub(crate) use csv_columns;

/// Records as CSV for spreadsheets: RFC 4180 (quoted where needed, CRLF) with `separator` between the
/// cells, UTF-8 with a byte-order mark so that spreadsheet programs (German Excel too) read umlauts
/// correctly. Every cell is readable text (see [`CellText`]), and none is a formula.
pub fn to_csv(columns: &[CsvColumn], records: &[Value], separator: CsvSeparator) -> String {
    let separator = separator.as_char().to_string();
    let mut out = String::from("\u{feff}");
    let header: Vec<String> = columns.iter().map(|c| csv_field(c.header)).collect();
    out.push_str(&header.join(&separator));
    out.push_str("\r\n");
    for record in records {
        let row: Vec<String> =
            columns.iter().map(|column| csv_field(&cell_text(record.get(column.field), column.text))).collect();
        out.push_str(&row.join(&separator));
        out.push_str("\r\n");
    }
    out
}

/// The readable text of one field's value.
fn cell_text(value: Option<&Value>, text: CellText) -> String {
    let items = || value.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let string = |item: &Value, key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
    // `Name (detail, detail)`, or `Name` alone when no detail is known.
    let described = |name: Option<String>, details: Vec<Option<String>>| {
        let details: Vec<String> = details.into_iter().flatten().filter(|d| !d.is_empty()).collect();
        let name = name.unwrap_or_default();
        if details.is_empty() { name } else { format!("{name} ({})", details.join(", ")) }
    };
    match text {
        CellText::Plain => match value {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(items)) => {
                items.iter().map(|item| cell_text(Some(item), CellText::Plain)).collect::<Vec<_>>().join(", ")
            }
            Some(other) => other.to_string(),
        },
        // A dotted key reaches into nested objects (a meeting's `location.address.city`).
        CellText::Part(key) => match key.rsplit_once('.') {
            Some((outer, _)) => value.and_then(|v| outer.split('.').try_fold(v, |v, k| v.get(k))),
            None => value,
        }
        .and_then(|object| string(object, key.rsplit('.').next().unwrap_or(key)))
        .unwrap_or_default(),
        CellText::Sources => items()
            .iter()
            .map(|source| {
                let parts = ["publisher", "date", "url"].map(|key| string(source, key));
                described(string(source, "title"), parts.into())
            })
            .collect::<Vec<_>>()
            .join("; "),
        CellText::Signatories => items()
            .iter()
            .map(|signatory| {
                described(string(signatory, "name"), vec![string(signatory, "role"), string(signatory, "party")])
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn csv_field(text: &str) -> String {
    let text = without_formulas(text);
    if text.contains([',', '"', '\r', '\n', ';', '\t']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// The characters that make a spreadsheet cell a formula (OWASP: CSV injection).
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` with a `'` before every character that would start a formula: at the start, and after every
/// character at which a spreadsheet may split the text into cells, after blanks and quotes. Quoting alone
/// is not enough: a spreadsheet whose list separator is `;` (German Excel) splits `"x;=1+1"` into `"x` and
/// a formula `=1+1"`, and a line break can start a row. The `'` makes the cell text and is not shown.
fn without_formulas(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut cell_start = true;
    for c in text.chars() {
        if cell_start && FORMULA_START.contains(&c) {
            out.push('\'');
        }
        out.push(c);
        cell_start = matches!(c, ',' | ';' | '\t' | '\r' | '\n') || (cell_start && matches!(c, ' ' | '"'));
    }
    out
}

#[cfg(test)]
mod csv_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotes_as_rfc_4180_says_with_either_separator() {
        let rows = [json!({"name": "Kreis \"Düren\", Süd", "ids": ["a", "b"], "n": 1, "x": null})];
        let columns = ["name", "ids", "n", "x"].map(CsvColumn::plain);
        let csv = to_csv(&columns, &rows, CsvSeparator::Comma);
        assert_eq!(csv, "\u{feff}name,ids,n,x\r\n\"Kreis \"\"Düren\"\", Süd\",\"a, b\",1,\r\n");
        let csv = to_csv(&columns, &rows, CsvSeparator::Semicolon);
        assert_eq!(csv, "\u{feff}name;ids;n;x\r\n\"Kreis \"\"Düren\"\", Süd\";\"a, b\";1;\r\n");
        let formula = [json!({"f": "=cmd"})];
        assert_eq!(to_csv(&[CsvColumn::plain("f")], &formula, CsvSeparator::Semicolon), "\u{feff}f\r\n'=cmd\r\n");
    }

    #[test]
    fn json_values_become_readable_text() {
        let record = json!({
            "address": {"street": "Musterstraße 1", "postalCode": "40210", "city": "Düsseldorf"},
            "sources": [
                {"document": "004.txt", "title": "Regionale Bildungsnetzwerke", "publisher": "Bezirksregierung Düsseldorf", "date": null},
                {"title": "Pressemitteilung", "publisher": null, "date": "2013-11-19", "url": "https://www.schulministerium.nrw/"}
            ],
            "signatories": [
                {"name": "Sylvia Löhrmann", "role": "Schulministerin", "party": "land"},
                {"name": "Thomas Hendele", "role": null, "party": "kommune"}
            ],
            "handlungsfeldIds": ["0190b7e2-0000-7000-8000-000000000001", "0190b7e2-0000-7000-8000-000000000002"],
            "isPerson": true
        });
        let columns = [
            CsvColumn::ADDRESS_STREET,
            CsvColumn::ADDRESS_POSTAL_CODE,
            CsvColumn::ADDRESS_CITY,
            CsvColumn::SOURCES,
            CsvColumn::SIGNATORIES,
            CsvColumn::plain("handlungsfeldIds"),
            CsvColumn::plain("isPerson"),
        ];
        let cells: Vec<String> = columns.iter().map(|c| cell_text(record.get(c.field), c.text)).collect();
        assert_eq!(
            cells,
            [
                "Musterstraße 1",
                "40210",
                "Düsseldorf",
                "Regionale Bildungsnetzwerke (Bezirksregierung Düsseldorf); Pressemitteilung (2013-11-19, https://www.schulministerium.nrw/)",
                "Sylvia Löhrmann (Schulministerin, land); Thomas Hendele (kommune)",
                "0190b7e2-0000-7000-8000-000000000001, 0190b7e2-0000-7000-8000-000000000002",
                "true",
            ]
        );
        // Readable text is no formula either: the protection applies to the composed cell.
        let hostile =
            json!({"sources": [{"title": "=1+1"}, {"title": "-2", "publisher": "@x"}], "address": {"city": "+1"}});
        let csv = to_csv(&[CsvColumn::SOURCES, CsvColumn::ADDRESS_CITY], &[hostile], CsvSeparator::Semicolon);
        assert_eq!(csv, "\u{feff}sources;addressCity\r\n\"'=1+1; '-2 (@x)\";'+1\r\n");
        // A record without an address or sources has empty cells, not "null".
        let empty: Vec<String> =
            columns.iter().map(|c| cell_text(json!({"address": null}).get(c.field), c.text)).collect();
        assert!(empty.iter().all(String::is_empty), "{empty:?}");
    }

    #[test]
    fn no_cell_is_a_formula_with_either_list_separator() {
        for (text, cell) in [
            ("=1+1", "'=1+1"),
            ("+49 211 1234", "'+49 211 1234"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("x;=1+1", "\"x;'=1+1\""),
            ("x,=1+1", "\"x,'=1+1\""),
            ("x; \"=1+1", "\"x; \"\"'=1+1\""),
            ("a\n-b", "\"a\n'-b\""),
            ("\t=1", "\"'\t'=1\""),
            ("Rhein-Kreis Neuss", "Rhein-Kreis Neuss"),
            ("a; b, c", "\"a; b, c\""),
        ] {
            assert_eq!(csv_field(text), cell, "{text:?}");
        }
    }
}
