//! The dataset file: the whole registry in one JSON document, the format of `rbn import`, `rbn export`,
//! `/v1/exports/dataset.json` and the seed data in `data/seed.json`.
//!
//! Records carry their `id` (so a second import of the same file changes nothing) and may refer to
//! networks and Handlungsfelder by slug instead of UUID, which keeps hand-written files readable.

mod writer;

use std::collections::HashMap;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::validation::{FieldError, ValidationErrors};
use super::{
    Body, BodyInput, Contact, ContactInput, Contract, ContractInput, Fact, Handlungsfeld, HandlungsfeldInput, Network,
    NetworkInput, Resource, ResourceKind, Timestamp,
};

pub use writer::DatasetWriter;

pub const FORMAT: &str = "rbn-registry-dataset";
pub const FORMAT_VERSION: i64 = 1;

/// The sections of a dataset, in the order they are written (references point backwards).
pub const SECTIONS: &[ResourceKind] = &[
    ResourceKind::Handlungsfelder,
    ResourceKind::Networks,
    ResourceKind::Bodies,
    ResourceKind::Contracts,
    ResourceKind::Contacts,
];

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
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub handlungsfelder: Vec<Record<HandlungsfeldInput>>,
    pub networks: Vec<Record<NetworkInput>>,
    pub bodies: Vec<Record<BodyInput>>,
    pub contracts: Vec<Record<ContractInput>>,
    pub contacts: Vec<Record<ContactInput>>,
    /// The `facts` section: what the documents state about the networks as a whole. `None` when the file
    /// has none (an import then leaves the stored facts alone).
    pub facts: Option<Vec<Fact>>,
}

/// Looks up records outside the file: the id of a network or Handlungsfeld with this slug.
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
    /// Slug → id of the networks and Handlungsfelder in the file.
    slugs: HashMap<(ResourceKind, String), Uuid>,
    /// File id → id of the stored record with the same slug ("matched by id or slug").
    renamed: HashMap<Uuid, Uuid>,
    existing: &'a dyn Existing,
}

/// Validates a whole dataset, reporting every problem with its location.
pub fn parse(value: &Value, existing: &dyn Existing) -> Result<Dataset, ValidationErrors> {
    let mut parser = Parser { errors: Vec::new(), slugs: HashMap::new(), renamed: HashMap::new(), existing };
    let Some(top) = value.as_object() else {
        return Err(ValidationErrors::single("(file)", "must be a JSON object"));
    };
    let known = [
        "format",
        "formatVersion",
        "licence",
        "handlungsfelder",
        "networks",
        "bodies",
        "contracts",
        "contacts",
        "facts",
    ];
    for key in top.keys() {
        if !known.contains(&key.as_str()) {
            parser.errors.push(FieldError::new(key.clone(), "unknown section"));
        }
    }
    if top.get("format").and_then(Value::as_str) != Some(FORMAT) {
        parser.errors.push(FieldError::new("format", format!("must be \"{FORMAT}\"")));
    }
    if top.get("formatVersion").and_then(Value::as_i64) != Some(FORMAT_VERSION) {
        parser.errors.push(FieldError::new("formatVersion", format!("must be {FORMAT_VERSION}")));
    }
    let empty = Vec::new();
    let section = |name: &str, errors: &mut Vec<FieldError>| -> Vec<Value> {
        match top.get(name) {
            None | Some(Value::Null) => empty.clone(),
            Some(Value::Array(items)) => items.clone(),
            Some(_) => {
                errors.push(FieldError::new(name, "must be an array"));
                Vec::new()
            }
        }
    };
    let handlungsfelder = section("handlungsfelder", &mut parser.errors);
    let networks = section("networks", &mut parser.errors);
    let bodies = section("bodies", &mut parser.errors);
    let contracts = section("contracts", &mut parser.errors);
    let contacts = section("contacts", &mut parser.errors);
    let facts = match top.get("facts") {
        None | Some(Value::Null) => None,
        Some(Value::Array(_)) => Some(section("facts", &mut parser.errors)),
        Some(_) => {
            parser.errors.push(FieldError::new("facts", "must be an array"));
            None
        }
    };

    parser.collect_slugs(ResourceKind::Handlungsfelder, "handlungsfelder", &handlungsfelder);
    parser.collect_slugs(ResourceKind::Networks, "networks", &networks);

    let dataset = Dataset {
        handlungsfelder: parser.records::<Handlungsfeld>("handlungsfelder", handlungsfelder, &[]),
        networks: parser.records::<Network>(
            "networks",
            networks,
            &[("handlungsfeldIds", ResourceKind::Handlungsfelder)],
        ),
        bodies: parser.records::<Body>("bodies", bodies, &[("networkId", ResourceKind::Networks)]),
        contracts: parser.records::<Contract>(
            "contracts",
            contracts,
            &[("networkId", ResourceKind::Networks), ("handlungsfeldIds", ResourceKind::Handlungsfelder)],
        ),
        contacts: parser.records::<Contact>(
            "contacts",
            contacts,
            &[("networkId", ResourceKind::Networks), ("bodyId", ResourceKind::Bodies)],
        ),
        facts: facts.map(|items| parser.facts(items)),
    };
    let mut ids: HashMap<Uuid, String> = HashMap::new();
    let all_ids = dataset
        .handlungsfelder
        .iter()
        .map(|r| (r.id, &r.location))
        .chain(dataset.networks.iter().map(|r| (r.id, &r.location)))
        .chain(dataset.bodies.iter().map(|r| (r.id, &r.location)))
        .chain(dataset.contracts.iter().map(|r| (r.id, &r.location)))
        .chain(dataset.contacts.iter().map(|r| (r.id, &r.location)));
    for (id, location) in all_ids {
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
    fn collect_slugs(&mut self, kind: ResourceKind, section: &str, items: &[Value]) {
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
            Err(_) => {
                self.slugs.get(&(kind, text.to_string())).copied().or_else(|| self.existing.id_by_slug(kind, text))?
            }
        };
        Some(self.renamed.get(&id).copied().unwrap_or(id))
    }

    fn records<R: Resource>(
        &mut self,
        section: &str,
        items: Vec<Value>,
        references: &[(&str, ResourceKind)],
    ) -> Vec<Record<R::Input>> {
        let mut records = Vec::new();
        for (i, mut item) in items.into_iter().enumerate() {
            let location = format!("{section}[{i}]");
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
            for (field, kind) in references {
                self.rewrite(object, field, *kind, &location);
            }
            match R::parse_input(&item) {
                Ok(input) => records.push(Record { id, input, created_at, updated_at, location }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seed_file_is_valid() {
        let value: Value = serde_json::from_str(include_str!("../../data/seed.json")).unwrap();
        let dataset = parse(&value, &()).unwrap();
        assert!(dataset.networks.len() >= 40);
        assert!(dataset.contracts.iter().all(|c| dataset.networks.iter().any(|n| n.id == c.input.network_id)));
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
        let errors = parse(&file, &()).unwrap_err().0;
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["networks[0].regionKey", "networks[1].id", "contracts[0].networkId", "contracts[0].signedOn"]
        );
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

/// Records as CSV for spreadsheets: RFC 4180 (quoted where needed, CRLF), UTF-8 with a byte-order mark so
/// that spreadsheet programs read umlauts correctly. Columns are the records' fields in order; lists and
/// objects are written as JSON.
pub fn to_csv(columns: &[&str], records: &[Value]) -> String {
    let mut out = String::from("\u{feff}");
    let header: Vec<String> = columns.iter().map(|c| csv_field(c)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for record in records {
        let row: Vec<String> = columns
            .iter()
            .map(|column| match record.get(*column) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(text)) => csv_field(text),
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                    csv_field(&items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(";"))
                }
                Some(other @ (Value::Array(_) | Value::Object(_))) => csv_field(&other.to_string()),
                Some(other) => csv_field(&other.to_string()),
            })
            .collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
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
    fn quotes_as_rfc_4180_says() {
        let rows = [json!({"name": "Kreis \"Düren\", Süd", "ids": ["a", "b"], "n": 1, "x": null})];
        let csv = to_csv(&["name", "ids", "n", "x"], &rows);
        assert_eq!(csv, "\u{feff}name,ids,n,x\r\n\"Kreis \"\"Düren\"\", Süd\",\"a;b\",1,\r\n");
        assert_eq!(to_csv(&["f"], &[json!({"f": "=cmd"})]), "\u{feff}f\r\n'=cmd\r\n");
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
