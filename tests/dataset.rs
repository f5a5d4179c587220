//! Issue 5: the seed dataset built from the source documents, `rbn import` / `rbn export`, the CSV and
//! HTTP exports, on SQLite and PostgreSQL.
//!
//! The seed is checked against `seed_facts.rs.in`, a table of facts written from the documents in
//! `../shared/seeds/` independently of `data/seed.json`. Import and export run the real `rbn` binary.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, Options, TestApp, TestDatabase, agent, spawn_app, spawn_app_with};
use rbn_registry::domain::Access;
use rbn_registry::storage::{AuditFilter, Db};
use serde_json::{Value, json};

include!("seed_facts.rs.in");

backend_tests!(
    seed_networks_match_the_documents,
    seed_contracts_match_the_documents,
    seed_mettmann_muenster_and_neuss,
    seed_every_network_has_its_three_bodies,
    seed_servicestellen_are_functional_contacts,
    seed_records_carry_their_sources,
    seed_is_loaded_only_into_an_empty_database,
    a_fresh_start_of_the_binary_serves_the_seeded_registry,
    export_import_export_is_identical,
    a_second_identical_import_writes_nothing,
    an_edited_export_moves_the_changed_record_forward,
    import_matches_networks_by_slug,
    a_file_may_name_stored_records_by_slug,
    an_import_with_errors_reports_them_all_and_writes_nothing,
    an_import_that_fails_while_writing_writes_nothing,
    networks_csv_is_utf8_with_bom_crlf_and_rfc4180_quoting,
    csv_of_every_resource_and_unknown_resources,
    csv_with_semicolons_for_german_spreadsheets,
    csv_cells_are_readable_text_not_json,
    http_exports_have_etags_and_only_public_data,
    licence_is_in_discovery_and_exports,
    issue_14_every_body_is_eines_der_drei_gremien,
    issue_14_mettmann_contract_does_not_name_the_handlungsfelder,
    issue_14_bodies_cite_document_001_only_where_it_lists_the_network,
    issue_14_document_000_states_why_its_publisher_is_open,
    issue_14_discovery_states_the_documents_counts_with_their_sources,
    issue_14_importing_the_corrected_seed_changes_exactly_the_corrected_records,
);

// ---------------------------------------------------------------------------------------------------------
// helpers

const DOCUMENTS: &[&str] = &[
    "000_5f1d657e03a14db8.txt",
    "001_d755f9f501a5e988.txt",
    "002_61b0e60347d3e383.txt",
    "003_3fae492b3cd9d830.txt",
    "004_deb2515a6a91da28.txt",
];

fn seeded(backend: &Backend) -> TestApp {
    spawn_app_with(backend, Options { seed: true, ..Default::default() })
}

/// What a run of the `rbn` binary gave.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn stdout_text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    #[track_caller]
    fn success(self) -> Run {
        assert_eq!(self.code, Some(0), "rbn failed ({:?}): {}", self.code, self.stderr);
        self
    }
}

/// Runs `rbn ARGS` against the database `url` (never seeding it).
fn rbn(url: &str, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_rbn"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RBN_SEED", "false")
        .env("RUST_LOG", "warn")
        .env("RBN_LOG_FORMAT", "pretty")
        .stdin(Stdio::null())
        .output()
        .expect("run rbn");
    Run {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `rbn export` (the whole dataset as JSON), bytes as written.
fn export(url: &str) -> Vec<u8> {
    rbn(url, &["export"]).success().stdout
}

fn export_json(url: &str) -> Value {
    serde_json::from_slice(&export(url)).expect("the export is JSON")
}

/// A file in the temporary directory, removed at the end of the test.
struct TempFile(PathBuf);

impl TempFile {
    fn with(contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("rbn-dataset-{}.json", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `rbn import FILE` of `contents`.
fn import(url: &str, contents: &[u8]) -> Run {
    let file = TempFile::with(contents);
    rbn(url, &["import", file.path()])
}

/// The numbers of audit-log entries and change-feed entries in the database: what a write leaves behind.
fn writes(url: &str) -> (usize, usize) {
    let db = Db::open(url, 1).expect("open the database");
    let audit = db.audit(&AuditFilter::default(), 0, 10_000_000).expect("read the audit log").len();
    let changes = db.changes(0, &[], None, 10_000_000, &Access::Anonymous).expect("read the change feed").len();
    (audit, changes)
}

/// `"imported FILE: 3 created, 0 updated, 47 unchanged"` → (3, 0, 47).
#[track_caller]
fn import_report(stderr: &str) -> (usize, usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.contains(" created, ") && l.contains(" updated"))
        .unwrap_or_else(|| panic!("no import report in: {stderr}"));
    let number_before = |word: &str| -> usize {
        let end = line.find(word).unwrap();
        let start = line[..end].trim_end().rfind([' ', ':']).unwrap() + 1;
        line[start..end].trim().parse().unwrap()
    };
    (number_before(" created"), number_before(" updated"), number_before(" unchanged"))
}

fn records_in(dataset: &Value) -> usize {
    ["handlungsfelder", "networks", "bodies", "contracts", "contacts"]
        .iter()
        .map(|s| dataset[*s].as_array().map_or(0, Vec::len))
        .sum()
}

fn by_region(networks: &[Value]) -> HashMap<String, Value> {
    networks.iter().map(|n| (n["regionKey"].as_str().unwrap().to_string(), n.clone())).collect()
}

/// The documents a record's `sources` name.
fn documents_of(record: &Value) -> Vec<String> {
    record["sources"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .filter_map(|s| s["document"].as_str().map(str::to_string))
        .collect()
}

/// What the round-trip tests add to the seed, so that every field type is exported and imported: a network
/// whose description has a comma, quotes and a line break, a contract dated to the month, a body with an
/// address, an internal contact, a person without and a person with publication consent.
struct Variety {
    network_id: String,
    internal_contact_id: String,
    unconsented_id: String,
    consented_id: String,
}

const TRICKY_DESCRIPTION: &str = "a, \"b\"\r\nzweite Zeile; Größe – „Übergang“";
const INTERNAL_EMAIL: &str = "intern.geheim@kreis-viersen.de";
const UNCONSENTED_EMAIL: &str = "erika.mustermann@kreis-viersen.de";
const UNCONSENTED_PHONE: &str = "+49 2162 39-1234";
const CONSENTED_EMAIL: &str = "max.muster@kreis-viersen.de";

fn add_variety(app: &TestApp) -> Variety {
    let admin = app.admin();
    let network = admin.create(
        "networks",
        &json!({
            "slug": "kreis-viersen", "name": "Regionales Bildungsnetzwerk Kreis Viersen", "regionKey": "05166",
            "website": "https://www.kreis-viersen.de/bildung", "description": TRICKY_DESCRIPTION
        }),
    );
    let network_id = network["id"].as_str().unwrap().to_string();
    let inklusion = admin
        .all("/v1/handlungsfelder?limit=500")
        .into_iter()
        .find(|h| h["slug"] == "schulische-inklusion")
        .expect("the seed has the Handlungsfeld schulische-inklusion");
    admin.create(
        "contracts",
        &json!({
            "networkId": network_id, "kind": "founding", "signedOn": "2019-07",
            "signatories": [{"name": "Andreas Coenen", "role": "Landrat", "party": "kommune"}],
            "handlungsfeldIds": [inklusion["id"]], "notes": "Testvertrag, „Juli“"
        }),
    );
    admin.create(
        "bodies",
        &json!({
            "networkId": network_id, "type": "arbeitsgruppe", "name": "AG Übergänge",
            "address": {"street": "Rathausmarkt 3", "postalCode": "41747", "city": "Viersen"}
        }),
    );
    let internal = admin.create(
        "contacts",
        &json!({
            "networkId": network_id, "name": "Interne Koordination", "email": INTERNAL_EMAIL,
            "visibility": "internal"
        }),
    );
    let unconsented = admin.create(
        "contacts",
        &json!({
            "networkId": network_id, "name": "Erika Mustermann", "function": "Leitung Bildungsbüro",
            "email": UNCONSENTED_EMAIL, "phone": UNCONSENTED_PHONE, "isPerson": true, "publicationConsent": false
        }),
    );
    let consented = admin.create(
        "contacts",
        &json!({
            "networkId": network_id, "name": "Max Muster", "email": CONSENTED_EMAIL,
            "isPerson": true, "publicationConsent": true
        }),
    );
    Variety {
        network_id,
        internal_contact_id: internal["id"].as_str().unwrap().to_string(),
        unconsented_id: unconsented["id"].as_str().unwrap().to_string(),
        consented_id: consented["id"].as_str().unwrap().to_string(),
    }
}

/// A strict RFC 4180 parser: fields separated by `separator`, records ended by CRLF (a bare CR or LF
/// outside quotes is an error), fields in double quotes may hold the separator, CRLF and doubled double
/// quotes; a double quote anywhere else is an error.
#[track_caller]
fn parse_csv(text: &str, separator: char) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut chars = text.chars().peekable();
    if chars.peek().is_none() {
        return records;
    }
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => panic!("an unterminated quoted field: {field:?}"),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == separator || c == '\r' || c == '\n' {
                    break;
                }
                assert_ne!(c, '"', "a double quote inside an unquoted field: {field:?}");
                field.push(c);
                chars.next();
            }
        }
        record.push(field);
        match chars.next() {
            Some(c) if c == separator => {}
            Some('\r') => {
                assert_eq!(chars.next(), Some('\n'), "a CR without LF ends a record");
                records.push(std::mem::take(&mut record));
                if chars.peek().is_none() {
                    return records;
                }
            }
            Some('\n') => panic!("a bare LF ends a record: RFC 4180 wants CRLF ({record:?})"),
            Some(c) => panic!("{c:?} after a closing quote ({record:?})"),
            None => panic!("the last record does not end with CRLF ({record:?})"),
        }
    }
}

/// A comma-separated CSV download, see [`read_csv_with`].
#[track_caller]
fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    read_csv_with(bytes, ',')
}

/// A CSV download: checks the BOM, parses it with the `csv` crate (as programs read CSV) and with the
/// strict parser above (which the `csv` crate is too lenient to be: it accepts bare LFs and stray quotes),
/// checks that both read the same and that every record has the header's width, and returns the rows as
/// maps from column to value.
#[track_caller]
fn read_csv_with(bytes: &[u8], separator: char) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "CSV must start with the UTF-8 byte-order mark");
    let text = std::str::from_utf8(&bytes[3..]).expect("CSV is UTF-8");
    assert!(!text.starts_with('\u{feff}'), "one BOM only");
    let records = parse_csv(text, separator);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(u8::try_from(separator).unwrap())
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let parsed: Vec<Vec<String>> = reader
        .records()
        .map(|record| record.expect("the csv crate reads the file").iter().map(str::to_string).collect())
        .collect();
    assert_eq!(parsed, records, "the csv crate and the strict parser read the same records");
    assert!(!records.is_empty(), "a header row");
    let header = records[0].clone();
    for (i, record) in records.iter().enumerate() {
        assert_eq!(
            record.len(),
            header.len(),
            "record {i} has {} fields, the header {}: {record:?}",
            record.len(),
            header.len()
        );
    }
    let rows = records[1..].iter().map(|r| header.iter().cloned().zip(r.iter().cloned()).collect()).collect();
    (header, rows)
}

// ---------------------------------------------------------------------------------------------------------
// 1. The seed against the facts of the documents

fn seed_networks_match_the_documents(backend: Backend) {
    let app = seeded(&backend);
    let anon = app.anonymous();
    let reply = anon.get("/v1/networks?limit=500");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let page = reply.json();
    assert!(page["links"].get("next").is_none_or(Value::is_null), "all networks fit one page of 500");
    let networks = page["data"].as_array().unwrap().clone();
    let networks = by_region(&networks);

    // Every network the documents name, and none they do not name.
    let named: BTreeSet<&str> = NETWORK_FACTS.iter().map(|f| f.region_key).collect();
    assert_eq!(named.len(), NETWORK_FACTS.len(), "the facts name each region once");
    let seeded: BTreeSet<&str> = networks.keys().map(String::as_str).collect();
    let missing: Vec<_> = named.difference(&seeded).collect();
    let invented: Vec<_> = seeded.difference(&named).collect();
    assert!(missing.is_empty(), "networks missing from the seed: {missing:?}");
    assert!(invented.is_empty(), "networks no document names: {invented:?}");

    let regions: HashMap<String, Value> =
        anon.all("/v1/regions?limit=500").into_iter().map(|r| (r["key"].as_str().unwrap().to_string(), r)).collect();
    let mut wrong = Vec::new();
    for fact in NETWORK_FACTS {
        let network = &networks[fact.region_key];
        // Linked to its region, which lies in the fact's Regierungsbezirk.
        let region = regions.get(fact.region_key).unwrap_or_else(|| panic!("no region {}", fact.region_key));
        assert_eq!(region["districtKey"], json!(fact.district_key), "{}: region {}", fact.region, region);
        let expected = fact.founded_on.map_or(Value::Null, |d| json!(d));
        if network["foundedOn"] != expected {
            wrong.push(format!(
                "{} ({}): foundedOn {} but the documents give {}",
                fact.region, fact.region_key, network["foundedOn"], expected
            ));
        }
        assert_eq!(network["status"], "active", "{}", fact.region);
        // The single network of a region is also found by the region filter and by its slug.
        let slug = network["slug"].as_str().unwrap();
        assert_eq!(anon.get(&format!("/v1/networks/{slug}")).json(), *network);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(anon.get("/v1/networks?region=05158").json()["data"][0]["slug"], networks["05158"]["slug"]);
    // Umlauts survive: the names of the regions with umlauts are in the networks' names.
    assert!(networks["05754"]["name"].as_str().unwrap().contains("Gütersloh"));
    assert!(networks["05515"]["name"].as_str().unwrap().contains("Münster"));
}

fn seed_contracts_match_the_documents(backend: Backend) {
    let app = seeded(&backend);
    let anon = app.anonymous();
    let networks = by_region(&anon.all("/v1/networks?limit=500"));
    let mut wrong = Vec::new();
    for fact in CONTRACT_FACTS {
        let network = &networks[fact.region_key];
        let id = network["id"].as_str().unwrap();
        let contracts = anon.all(&format!("/v1/contracts?network={id}&limit=500"));
        assert!(
            contracts.iter().all(|c| c["networkId"] == network["id"]),
            "the network filter returns only the network's contracts"
        );
        // The same through the nested path.
        assert_eq!(anon.all(&format!("/v1/networks/{id}/contracts?limit=500")), contracts);
        let signed_on = fact.signed_on.map_or(Value::Null, |d| json!(d));
        match contracts.iter().find(|c| c["kind"] == fact.kind && c["signedOn"] == signed_on) {
            None => wrong.push(format!(
                "{}: no {} contract signed on {signed_on}; the seed has {:?}",
                fact.region_key,
                fact.kind,
                contracts.iter().map(|c| format!("{} {}", c["kind"], c["signedOn"])).collect::<Vec<_>>()
            )),
            Some(contract) => {
                if !documents_of(contract).iter().any(|d| d == fact.source) {
                    wrong.push(format!(
                        "{}: the {} contract of {signed_on} does not cite {} (cites {:?})",
                        fact.region_key,
                        fact.kind,
                        fact.source,
                        documents_of(contract)
                    ));
                }
            }
        }
    }
    // No contract carries a date that no fact gives: dates are never invented.
    let facts: BTreeSet<(&str, &str, &str)> =
        CONTRACT_FACTS.iter().filter_map(|f| f.signed_on.map(|d| (f.region_key, f.kind, d))).collect();
    let region_of: HashMap<String, String> = networks
        .values()
        .map(|n| (n["id"].as_str().unwrap().to_string(), n["regionKey"].as_str().unwrap().to_string()))
        .collect();
    for contract in anon.all("/v1/contracts?limit=500") {
        let Some(date) = contract["signedOn"].as_str() else {
            continue;
        };
        let region = &region_of[contract["networkId"].as_str().unwrap()];
        let kind = contract["kind"].as_str().unwrap();
        if !facts.contains(&(region.as_str(), kind, date)) {
            wrong.push(format!("{region}: a {kind} contract dated {date} that no document gives"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn seed_mettmann_muenster_and_neuss(backend: Backend) {
    let app = seeded(&backend);
    let anon = app.anonymous();
    let networks = by_region(&anon.all("/v1/networks?limit=500"));

    // Kreis Mettmann: the 50th contract, 2013-11-19, its signatories; the network's three Handlungsfelder.
    let mettmann = &networks["05158"];
    assert_eq!(mettmann["foundedOn"], "2013-11-19");
    let contracts = anon.all(&format!("/v1/contracts?network={}", mettmann["id"].as_str().unwrap()));
    let contract =
        contracts.iter().find(|c| c["signedOn"] == "2013-11-19").expect("Kreis Mettmann's contract of 2013-11-19");
    assert_eq!(contract["kind"], "founding");
    let signatories: Vec<(String, String)> = contract["signatories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s["party"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        signatories,
        [("Sylvia Löhrmann".to_string(), "land".to_string()), ("Thomas Hendele".to_string(), "kommune".to_string())]
    );
    let ids = mettmann["handlungsfeldIds"].as_array().unwrap();
    assert_eq!(ids.len(), 3, "{mettmann}");
    let mut slugs: Vec<String> = ids
        .iter()
        .map(|id| {
            let reply = anon.get(&format!("/v1/handlungsfelder/{}", id.as_str().unwrap()));
            assert_eq!(reply.status, 200, "{}", reply.text());
            reply.json()["slug"].as_str().unwrap().to_string()
        })
        .collect();
    slugs.sort();
    assert_eq!(slugs, ["medienkonzepte-in-schulen", "schulische-inklusion", "uebergang-schule-beruf"]);
    // The Handlungsfelder vocabulary holds the three fields document 000 names.
    let vocabulary: BTreeSet<String> =
        anon.all("/v1/handlungsfelder?limit=500").iter().map(|h| h["slug"].as_str().unwrap().to_string()).collect();
    for slug in &slugs {
        assert!(vocabulary.contains(slug), "{slug} is in the vocabulary");
    }
    assert!(documents_of(contract).iter().any(|d| d == "000_5f1d657e03a14db8.txt"));

    // Stadt Münster: a resumption in 2022, and no founding date, which no document gives.
    let muenster = &networks["05515"];
    let contracts = anon.all(&format!("/v1/contracts?network={}", muenster["id"].as_str().unwrap()));
    assert!(contracts.iter().any(|c| c["kind"] == "resumption" && c["signedOn"] == "2022"), "{contracts:?}");
    assert!(
        contracts.iter().filter(|c| c["kind"] == "founding").all(|c| c["signedOn"].is_null()),
        "no document dates Münster's founding contract: {contracts:?}"
    );
    assert_eq!(muenster["foundedOn"], Value::Null);
    // The kind filter finds the resumption.
    let resumptions =
        anon.all(&format!("/v1/contracts?network={}&kind=resumption", muenster["slug"].as_str().unwrap()));
    assert_eq!(resumptions.len(), 1);

    // Rhein-Kreis Neuss: 2019-07-08, to the day.
    let neuss = &networks["05162"];
    assert_eq!(neuss["foundedOn"], "2019-07-08");
    let contracts = anon.all(&format!("/v1/contracts?network={}", neuss["id"].as_str().unwrap()));
    assert!(contracts.iter().any(|c| c["kind"] == "founding" && c["signedOn"] == "2019-07-08"), "{contracts:?}");
}

fn seed_every_network_has_its_three_bodies(backend: Backend) {
    let app = seeded(&backend);
    let anon = app.anonymous();
    let networks = anon.all("/v1/networks?limit=500");
    let bodies = anon.all("/v1/bodies?limit=500");
    let mut types: HashMap<String, Vec<String>> = HashMap::new();
    for body in &bodies {
        types
            .entry(body["networkId"].as_str().unwrap().to_string())
            .or_default()
            .push(body["type"].as_str().unwrap().to_string());
        assert!(!body["name"].as_str().unwrap().is_empty());
    }
    for network in &networks {
        let id = network["id"].as_str().unwrap();
        let mut found = types.remove(id).unwrap_or_default();
        found.sort();
        assert_eq!(found, ["bildungsbuero", "bildungskonferenz", "lenkungskreis"], "the bodies of {}", network["slug"]);
    }
    assert!(types.is_empty(), "bodies of no listed network: {types:?}");
    assert_eq!(bodies.len(), 3 * networks.len());
    // The nested path agrees for one of them.
    let mettmann = anon.all("/v1/networks/kreis-mettmann/bodies");
    assert_eq!(mettmann.len(), 3);
}

fn seed_servicestellen_are_functional_contacts(backend: Backend) {
    let app = seeded(&backend);
    let anon = app.anonymous();
    let contacts = anon.all("/v1/contacts?limit=500");
    let servicestelle = |district: i64| -> Value {
        let found: Vec<&Value> = contacts
            .iter()
            .filter(|c| c["districtKey"] == json!(district) && c["networkId"].is_null())
            .filter(|c| c["name"].as_str().unwrap().contains("Servicestelle"))
            .collect();
        assert_eq!(found.len(), 1, "one Servicestelle of district {district}: {contacts:?}");
        found[0].clone()
    };

    let duesseldorf = servicestelle(1);
    assert_eq!(duesseldorf["isPerson"], false);
    assert_eq!(duesseldorf["visibility"], "public");
    assert_eq!(duesseldorf["address"]["street"], "Am Bonneshof 35");
    assert_eq!(duesseldorf["address"]["postalCode"], "40474");
    assert_eq!(duesseldorf["address"]["city"], "Düsseldorf");
    assert!(duesseldorf["organisation"].as_str().unwrap().contains("Bezirksregierung Düsseldorf"));
    assert!(documents_of(&duesseldorf).iter().any(|d| d == "004_deb2515a6a91da28.txt"));
    // Document 004 gives no e-mail address or phone number: none is invented.
    assert_eq!(duesseldorf["email"], Value::Null);
    assert_eq!(duesseldorf["phone"], Value::Null);

    let muenster = servicestelle(5);
    assert_eq!(muenster["isPerson"], false);
    assert_eq!(muenster["visibility"], "public");
    assert!(muenster["organisation"].as_str().unwrap().contains("Bezirksregierung Münster"));
    assert!(documents_of(&muenster).iter().any(|d| d == "003_3fae492b3cd9d830.txt"));
    // Document 003 gives no address, e-mail or phone for it.
    assert_eq!(muenster["address"], Value::Null);
    assert_eq!(muenster["email"], Value::Null);
    assert_eq!(muenster["phone"], Value::Null);

    // The district filter finds them.
    let district_5 = anon.all("/v1/contacts?district=5&limit=500");
    assert!(district_5.iter().any(|c| c["id"] == muenster["id"]));
}

fn seed_records_carry_their_sources(backend: Backend) {
    let app = seeded(&backend);
    let dataset = app.anonymous().get("/v1/exports/dataset.json").json();
    let dates: HashMap<&str, &str> =
        [("000_5f1d657e03a14db8.txt", "2013-11-19"), ("001_d755f9f501a5e988.txt", "2010-05-06")].into();
    let mut checked = 0;
    for section in ["handlungsfelder", "networks", "bodies", "contracts", "contacts"] {
        let records = dataset[section].as_array().unwrap();
        assert!(!records.is_empty(), "the seed has {section}");
        for record in records {
            let sources =
                record["sources"].as_array().unwrap_or_else(|| panic!("{section} record without sources: {record}"));
            assert!(!sources.is_empty(), "{section} record without sources: {record}");
            for source in sources {
                let document = source["document"].as_str().unwrap_or("");
                assert!(
                    DOCUMENTS.contains(&document),
                    "{section} {}: source {source} names no seed document",
                    record["id"]
                );
                // A dated document carries its date.
                if let Some(date) = dates.get(document) {
                    assert_eq!(source["date"], json!(date), "{source}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, records_in(&dataset));
}

fn seed_is_loaded_only_into_an_empty_database(backend: Backend) {
    let app = seeded(&backend);
    let url = app.database.url.clone();
    let seed: Value = serde_json::from_str(rbn_registry::app::SEED).unwrap();
    let before = export(&url);
    let writes_before = writes(&url);
    assert!(!app.db.seed_if_empty(&seed).expect("seed_if_empty"), "seeded twice");
    assert_eq!(export(&url), before);
    assert_eq!(writes(&url), writes_before);

    // Never over existing data: a database holding one record (not from the seed) is not seeded...
    let other = spawn_app(&backend);
    other.admin().create(
        "networks",
        &json!({"slug": "kreis-wesel", "name": "Regionales Bildungsnetzwerk Kreis Wesel", "regionKey": "05170"}),
    );
    assert!(!other.db.seed_if_empty(&seed).unwrap());
    assert_eq!(other.anonymous().all("/v1/networks").len(), 1);
    // ...nor one whose records were all deleted again (it has been written to: not a first start).
    let third = spawn_app(&backend);
    let admin = third.admin();
    let created = admin.post(
        "/v1/networks",
        &json!({"slug": "kreis-wesel", "name": "Regionales Bildungsnetzwerk Kreis Wesel", "regionKey": "05170"}),
    );
    assert_eq!(created.status, 201);
    assert_eq!(admin.delete("/v1/networks/kreis-wesel", &created.etag()).status, 204);
    assert!(!third.db.seed_if_empty(&seed).unwrap());
    assert!(third.anonymous().all("/v1/networks").is_empty());
}

/// `rbn serve` on a fresh, empty database with the default configuration loads the seed.
fn a_fresh_start_of_the_binary_serves_the_seeded_registry(backend: Backend) {
    let database = TestDatabase::new(&backend);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbn"))
        .env("DATABASE_URL", &database.url)
        .env_remove("RBN_SEED")
        .env("RBN_LISTEN", format!("127.0.0.1:{port}"))
        .env("RBN_WORKERS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rbn");
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = format!("http://127.0.0.1:{port}");
    let agent = agent();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("rbn exited at start: {status}");
        }
        if let Ok(reply) = agent.get(format!("{base}/readyz")).call()
            && reply.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "rbn did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let child = Stop(child);
    let mut reply = agent.get(format!("{base}/v1/networks?limit=500")).call().expect("GET /v1/networks");
    assert_eq!(reply.status(), 200);
    let page: Value = serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
    let keys: BTreeSet<&str> =
        page["data"].as_array().unwrap().iter().map(|n| n["regionKey"].as_str().unwrap()).collect();
    let named: BTreeSet<&str> = NETWORK_FACTS.iter().map(|f| f.region_key).collect();
    assert_eq!(keys, named);
    drop(child);
}

// ---------------------------------------------------------------------------------------------------------
// 2.–4. Import and export with the binary

fn export_import_export_is_identical(backend: Backend) {
    let source = seeded(&backend);
    add_variety(&source);
    let first = export(&source.database.url);
    let dataset: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(dataset["format"], "rbn-registry-dataset");
    assert_eq!(dataset["formatVersion"], 1);
    // The operator's export holds everything, internal contacts and personal channels included.
    let text = String::from_utf8(first.clone()).unwrap();
    assert!(text.contains(INTERNAL_EMAIL) && text.contains(UNCONSENTED_EMAIL));

    let target = TestDatabase::new(&backend);
    rbn(&target.url, &["migrate"]).success();
    assert_eq!(records_in(&export_json(&target.url)), 0, "migrate seeds nothing");
    let imported = import(&target.url, &first).success();
    assert_eq!(import_report(&imported.stderr), (records_in(&dataset), 0, 0), "{}", imported.stderr);
    let second = export(&target.url);
    assert_eq!(String::from_utf8(second).unwrap(), text, "export → import → export differs");

    // Import also migrates a database that was never migrated.
    let fresh = TestDatabase::new(&backend);
    import(&fresh.url, &first).success();
    assert_eq!(String::from_utf8(export(&fresh.url)).unwrap(), text);

    // The imported database holds what the source serves.
    let sorted = |mut v: Vec<Value>| {
        v.sort_by_key(|n| n["id"].as_str().unwrap().to_string());
        v
    };
    let served = sorted(source.anonymous().all("/v1/networks?limit=500"));
    let db = Db::open(&fresh.url, 2).unwrap();
    let stored = db.all::<rbn_registry::domain::Network>(&Default::default(), &Access::Anonymous).unwrap();
    let stored = sorted(stored.iter().map(|n| serde_json::to_value(n).unwrap()).collect());
    assert_eq!(stored, served);
}

/// Bonus: a dataset exported from SQLite imports into PostgreSQL and back, identically.
#[test]
#[cfg_attr(not(rbn_postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
fn mixed_round_trip_between_sqlite_and_postgres() {
    let Some(postgres) = Backend::postgres() else {
        return;
    };
    let source = seeded(&Backend::Sqlite);
    add_variety(&source);
    let from_sqlite = String::from_utf8(export(&source.database.url)).unwrap();

    let pg = TestDatabase::new(&postgres);
    import(&pg.url, from_sqlite.as_bytes()).success();
    let from_postgres = String::from_utf8(export(&pg.url)).unwrap();
    assert_eq!(from_postgres, from_sqlite, "SQLite → PostgreSQL changes the dataset");

    let back = TestDatabase::new(&Backend::Sqlite);
    import(&back.url, from_postgres.as_bytes()).success();
    assert_eq!(String::from_utf8(export(&back.url)).unwrap(), from_sqlite, "PostgreSQL → SQLite changes the dataset");
}

fn a_second_identical_import_writes_nothing(backend: Backend) {
    let source = seeded(&backend);
    add_variety(&source);
    let file = export(&source.database.url);
    let total = records_in(&serde_json::from_slice(&file).unwrap());

    let target = TestDatabase::new(&backend);
    import(&target.url, &file).success();
    let before = export(&target.url);
    let writes_before = writes(&target.url);
    assert!(writes_before.0 >= total && writes_before.1 >= total, "{writes_before:?}");

    let again = import(&target.url, &file).success();
    assert!(again.stderr.contains("0 created, 0 updated"), "{}", again.stderr);
    assert_eq!(import_report(&again.stderr), (0, 0, total));
    assert_eq!(writes(&target.url), writes_before, "the second import wrote");
    assert_eq!(export(&target.url), before);

    // The same for the hand-written seed file itself (slugs for references, no timestamps): its second
    // import writes nothing either.
    let seed = TestDatabase::new(&backend);
    let first = import(&seed.url, rbn_registry::app::SEED.as_bytes()).success();
    assert_eq!(import_report(&first.stderr).1, 0, "{}", first.stderr);
    let seed_export = export(&seed.url);
    let seed_writes = writes(&seed.url);
    let again = import(&seed.url, rbn_registry::app::SEED.as_bytes()).success();
    assert_eq!(
        import_report(&again.stderr),
        (0, 0, import_report(&first.stderr).0),
        "a second import of data/seed.json: {}",
        again.stderr
    );
    assert_eq!(writes(&seed.url), seed_writes, "a second import of data/seed.json wrote");
    assert_eq!(export(&seed.url), seed_export);

    // Also into the seeded source itself: the seed, exported and imported over itself, changes nothing.
    let writes_source = writes(&source.database.url);
    let over_itself = import(&source.database.url, &file).success();
    assert_eq!(import_report(&over_itself.stderr), (0, 0, total));
    assert_eq!(writes(&source.database.url), writes_source);

    // And the change feed of a service on that database did not grow either.
    let feed_before = source.admin().all("/v1/changes?limit=500").len();
    import(&source.database.url, &file).success();
    assert_eq!(source.admin().all("/v1/changes?limit=500").len(), feed_before);
}

/// An import that changes a record moves its `updatedAt` forward even when the file carries the old
/// time (an edited export): mirrors that sync with `modifiedSince`, and If-Match, see the change.
fn an_edited_export_moves_the_changed_record_forward(backend: Backend) {
    let app = seeded(&backend);
    let admin = app.admin();
    let mut file = export_json(&app.database.url);
    let id = file["networks"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/networks/{id}");
    let before = admin.get(&path);
    let was = before.json()["updatedAt"].as_str().unwrap().to_string();
    // What a mirror keeps after its last sync: the latest updatedAt it received.
    let synced = admin.all("/v1/networks?limit=500").iter().map(|n| n["updatedAt"].as_str().unwrap().to_string()).max();
    assert_eq!(file["networks"][0]["updatedAt"], json!(was), "the export carries the stored time");
    file["networks"][0]["description"] = json!("Aus einer bearbeiteten Exportdatei");
    import(&app.database.url, &serde_json::to_vec(&file).unwrap()).success();
    let after = admin.get(&path).json();
    assert_eq!(after["description"], "Aus einer bearbeiteten Exportdatei");
    assert!(after["updatedAt"].as_str().unwrap() > was.as_str(), "{} after {was}", after["updatedAt"]);
    let mirror = admin.all(&format!("/v1/networks?modifiedSince={}&limit=500", synced.unwrap()));
    assert!(mirror.iter().any(|n| n["id"] == json!(id)), "a mirror that synced before the import gets it");
    admin.patch(&path, &before.etag(), &json!({"name": "Überholt"})).problem(412);
}

fn import_matches_networks_by_slug(backend: Backend) {
    // A database that already has Kreis Mettmann under another id: the file's Kreis Mettmann is the same
    // network (matched by slug), not a second one (which the region would refuse anyway).
    let app = spawn_app(&backend);
    let admin = app.admin();
    let existing = admin
        .create("networks", &json!({"slug": "kreis-mettmann", "name": "RBN Mettmann (alt)", "regionKey": "05158"}));
    let seed = rbn_registry::app::SEED.as_bytes();
    let run = import(&app.database.url, seed).success();
    let (created, updated, _) = import_report(&run.stderr);
    assert_eq!(updated, 1, "{}", run.stderr);
    let networks = app.anonymous().all("/v1/networks?limit=500");
    assert_eq!(networks.len(), NETWORK_FACTS.len());
    let mettmann = app.anonymous().get("/v1/networks/kreis-mettmann").json();
    assert_eq!(mettmann["id"], existing["id"]);
    assert_eq!(mettmann["name"], "Regionales Bildungsnetzwerk Kreis Mettmann");
    assert_eq!(mettmann["foundedOn"], "2013-11-19");
    assert!(created > 0);
    // Again: nothing.
    let again = import(&app.database.url, seed).success();
    assert_eq!(import_report(&again.stderr).0, 0);
    assert_eq!(import_report(&again.stderr).1, 0, "{}", again.stderr);
}

/// A file's references may name records the database holds, by slug: a network and a Handlungsfeld
/// that are not in the file.
fn a_file_may_name_stored_records_by_slug(backend: Backend) {
    let app = seeded(&backend);
    let network = app.anonymous().get("/v1/networks/kreis-mettmann").json();
    let handlungsfeld = app
        .anonymous()
        .all("/v1/handlungsfelder?limit=500")
        .into_iter()
        .find(|h| h["slug"] == "medienkonzepte-in-schulen")
        .expect("the seed's Handlungsfeld");
    let id = "0190b7e2-3c4d-7a1b-9f00-00000000c0de";
    let file = json!({
        "format": "rbn-registry-dataset", "formatVersion": 1,
        "contracts": [{"id": id, "networkId": "kreis-mettmann", "kind": "founding", "signedOn": "2031",
            "handlungsfeldIds": ["medienkonzepte-in-schulen"]}]
    });
    let run = import(&app.database.url, file.to_string().as_bytes()).success();
    assert_eq!(import_report(&run.stderr).0, 1, "{}", run.stderr);
    let contract = app.anonymous().get(&format!("/v1/contracts/{id}")).json();
    assert_eq!(contract["networkId"], network["id"]);
    assert_eq!(contract["handlungsfeldIds"], json!([handlungsfeld["id"]]));
    // Bodies have no slug: a name where a body's UUID belongs is the file's mistake, reported as such.
    let file = json!({
        "format": "rbn-registry-dataset", "formatVersion": 1,
        "contacts": [{"id": "0190b7e2-3c4d-7a1b-9f00-00000000c0df", "networkId": "kreis-mettmann",
            "bodyId": "lenkungskreis", "name": "Geschäftsstelle", "visibility": "public", "isPerson": false},
            {"id": "0190b7e2-3c4d-7a1b-9f00-00000000c0e0", "networkId": "kreis-mettmann",
            "name": "Bildungsbüro", "visibility": "public", "isPerson": false}]
    });
    let run = import(&app.database.url, file.to_string().as_bytes());
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("contacts[0].bodyId: names no bodies in the file or the database"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert!(!run.stderr.contains("contacts[1]"), "the stored network is found after the mistake: {}", run.stderr);
}

/// A dataset with five kinds of error: every one is reported with its location, nothing is written.
fn an_import_with_errors_reports_them_all_and_writes_nothing(backend: Backend) {
    let source = seeded(&backend);
    let good = export_json(&source.database.url);

    let mut bad = good.clone();
    bad["networks"][1]["regionKey"] = json!("5158");
    let contracts = bad["contracts"].as_array().unwrap().len();
    bad["contracts"][2]["networkId"] = json!("kein-solches-netzwerk");
    bad["contracts"][contracts - 1]["signedOn"] = json!("2019-13");
    let first_body_id = bad["bodies"][0]["id"].clone();
    bad["bodies"][4]["id"] = first_body_id;
    bad["schulen"] = json!([]);
    let bad_text = serde_json::to_vec_pretty(&bad).unwrap();
    let expected = [
        "networks[1].regionKey".to_string(),
        "contracts[2].networkId".to_string(),
        format!("contracts[{}].signedOn", contracts - 1),
        "bodies[4].id".to_string(),
        "schulen".to_string(),
    ];

    // Into an empty database, into an older copy of the data, and into the database the file came from.
    let empty = TestDatabase::new(&backend);
    rbn(&empty.url, &["migrate"]).success();
    let partial = TestDatabase::new(&backend);
    let mut older = good.clone();
    older["networks"] = json!(good["networks"].as_array().unwrap()[..10].to_vec());
    older["bodies"] = json!([]);
    older["contracts"] = json!([]);
    older["contacts"] = json!([]);
    import(&partial.url, &serde_json::to_vec(&older).unwrap()).success();
    for url in [&empty.url, &partial.url, &source.database.url] {
        let before = export(url);
        let writes_before = writes(url);
        let run = import(url, &bad_text);
        assert_ne!(run.code, Some(0), "an invalid import succeeded: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout_text());
        for location in &expected {
            assert!(run.stderr.contains(&format!("{location}:")), "{location} is not reported: {}", run.stderr);
        }
        assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
        assert_eq!(export(url), before, "the failed import changed the data");
        assert_eq!(writes(url), writes_before, "the failed import wrote");
    }

    // Files that are not datasets: not JSON, not an object, the wrong format. Nothing written either.
    let url = &partial.url;
    let before = export(url);
    for text in [&b"{\"format\": "[..], b"[]", br#"{"format": "csv", "formatVersion": 2}"#] {
        let run = import(url, text);
        assert_ne!(run.code, Some(0), "{}", String::from_utf8_lossy(text));
        assert!(!run.stderr.trim().is_empty());
    }
    let run = import(url, br#"{"format": "csv", "formatVersion": 2}"#);
    assert!(run.stderr.contains("format:") && run.stderr.contains("formatVersion:"), "{}", run.stderr);
    let run = rbn(url, &["import", "/nonexistent/rbn-dataset.json"]);
    assert_ne!(run.code, Some(0));
    assert_eq!(export(url), before);
}

/// Problems only found while writing (a second network for a region, a reference to a UUID that exists
/// nowhere) roll back what the same import had already written.
fn an_import_that_fails_while_writing_writes_nothing(backend: Backend) {
    let source = seeded(&backend);
    let good = export_json(&source.database.url);
    let mut bad = good.clone();
    // networks[5] is another network for networks[0]'s region; the last contact's network exists nowhere.
    bad["networks"][5]["regionKey"] = good["networks"][0]["regionKey"].clone();
    bad["contacts"] = json!([{
        "id": "0190b7e2-3c4d-7a1b-9f00-00000000c0de", "networkId": "0190b7e2-3c4d-7a1b-9f00-0000000dead0",
        "name": "Niemand", "visibility": "public"
    }]);
    let target = TestDatabase::new(&backend);
    rbn(&target.url, &["migrate"]).success();
    let before = export(&target.url);
    let writes_before = writes(&target.url);
    let run = import(&target.url, &serde_json::to_vec(&bad).unwrap());
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("networks[5]"), "{}", run.stderr);
    assert!(run.stderr.contains("contacts[0].networkId"), "{}", run.stderr);
    assert_eq!(export(&target.url), before, "a partial import was left behind");
    assert_eq!(writes(&target.url), writes_before);
}

// ---------------------------------------------------------------------------------------------------------
// 5. CSV

fn networks_csv_is_utf8_with_bom_crlf_and_rfc4180_quoting(backend: Backend) {
    let app = seeded(&backend);
    let variety = add_variety(&app);
    let anon = app.anonymous();
    let reply = anon.get("/v1/exports/networks.csv");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let content_type = reply.header("content-type").unwrap().to_ascii_lowercase();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(content_type.contains("charset=utf-8"), "{content_type}");
    assert!(
        reply.header("content-disposition").is_some_and(|d| d.contains("attachment") && d.contains(".csv")),
        "{:?}",
        reply.header("content-disposition")
    );
    let (header, rows) = read_csv(&reply.body);
    for column in ["id", "slug", "name", "regionKey", "status", "description", "foundedOn"] {
        assert!(header.iter().any(|h| h == column), "column {column} in {header:?}");
    }
    let json_networks = anon.all("/v1/networks?limit=500");
    assert_eq!(rows.len(), json_networks.len());
    assert_eq!(rows.len(), NETWORK_FACTS.len() + 1);
    for network in &json_networks {
        let row = rows
            .iter()
            .find(|r| r["id"] == network["id"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{} is not in the CSV", network["slug"]));
        assert_eq!(row["name"], network["name"].as_str().unwrap());
        assert_eq!(row["regionKey"], network["regionKey"].as_str().unwrap());
        assert_eq!(row["foundedOn"], network["foundedOn"].as_str().unwrap_or(""));
        assert_eq!(row["description"], network["description"].as_str().unwrap_or(""));
    }
    // Umlauts intact.
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str()).collect();
    assert!(names.iter().any(|n| n.contains("Kreis Gütersloh")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("Münster")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("Mönchengladbach")), "{names:?}");
    // A field with a comma, double quotes and a line break comes back as it went in.
    let viersen = rows.iter().find(|r| r["id"] == variety.network_id).unwrap();
    assert_eq!(viersen["description"], TRICKY_DESCRIPTION);
    assert_eq!(viersen["slug"], "kreis-viersen");
    let mettmann = rows.iter().find(|r| r["slug"] == "kreis-mettmann").unwrap();
    assert_eq!(mettmann["foundedOn"], "2013-11-19");
    // The raw bytes: the quoted field with doubled quotes.
    let raw = String::from_utf8(reply.body.clone()).unwrap();
    assert!(raw.contains("\"a, \"\"b\"\"\r\nzweite Zeile"), "the tricky field is quoted as RFC 4180 says");

    // The command line writes the same CSV.
    let cli = rbn(&app.database.url, &["export", "--format", "csv", "--resource", "networks"]).success();
    let (cli_header, cli_rows) = read_csv(&cli.stdout);
    assert_eq!(cli_header, header);
    assert_eq!(cli_rows, rows);
    assert_eq!(cli.stdout, reply.body, "rbn export --format csv = /v1/exports/networks.csv");
}

fn csv_of_every_resource_and_unknown_resources(backend: Backend) {
    let app = seeded(&backend);
    add_variety(&app);
    let anon = app.anonymous();
    for (resource, list) in [
        ("networks", "/v1/networks?limit=500"),
        ("contracts", "/v1/contracts?limit=500"),
        ("bodies", "/v1/bodies?limit=500"),
        ("handlungsfelder", "/v1/handlungsfelder?limit=500"),
        ("contacts", "/v1/contacts?limit=500"),
    ] {
        let reply = anon.get(&format!("/v1/exports/{resource}.csv"));
        assert_eq!(reply.status, 200, "{resource}: {}", reply.text());
        let (header, rows) = read_csv(&reply.body);
        assert_eq!(header[0], "id", "{resource}");
        let listed = anon.all(list);
        assert_eq!(rows.len(), listed.len(), "{resource}: CSV rows = public records");
        let cli = rbn(&app.database.url, &["export", "--format", "csv", "--resource", resource]).success();
        let (cli_header, _) = read_csv(&cli.stdout);
        assert_eq!(cli_header, header, "{resource}");
    }
    // Mettmann's contract: the signatories survive the CSV in some readable form; the Handlungsfelder are
    // the network's (issue 14: document 000 does not say that the contract names them).
    let (_, contracts) = read_csv(&anon.get("/v1/exports/contracts.csv").body);
    let mettmann = contracts.iter().find(|r| r["signedOn"] == "2013-11-19").unwrap();
    assert!(mettmann["signatories"].contains("Sylvia Löhrmann"), "{mettmann:?}");
    assert!(mettmann["signatories"].contains("Thomas Hendele"), "{mettmann:?}");
    assert_eq!(mettmann["handlungsfeldIds"], "", "{mettmann:?}");
    let (_, networks) = read_csv(&anon.get("/v1/exports/networks.csv").body);
    let mettmann = networks.iter().find(|r| r["slug"] == "kreis-mettmann").unwrap();
    assert_eq!(mettmann["handlungsfeldIds"].split(", ").count(), 3, "{mettmann:?}");

    // Unknown resources: 404 problem+json over HTTP, a usage error on the command line.
    for path in
        ["/v1/exports/schulen.csv", "/v1/exports/networks.xlsx", "/v1/exports/networks", "/v1/exports/regions.csv"]
    {
        let problem = anon.get(path).problem(404);
        assert!(problem["detail"].is_string() || problem["title"].is_string());
    }
    let run = rbn(&app.database.url, &["export", "--format", "csv", "--resource", "schulen"]);
    assert_ne!(run.code, Some(0));
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("schulen"), "{}", run.stderr);
    assert_ne!(rbn(&app.database.url, &["export", "--format", "xml"]).code, Some(0));
    // Unknown query parameters are a 400, as on every list.
    anon.get("/v1/exports/networks.csv?sep=x").problem(400);
}

/// `?separator=semicolon`: the same records, `;` between the cells, its own ETag; the command line
/// writes the same bytes; anything but `comma` or `semicolon` is a 400 naming the parameter.
fn csv_with_semicolons_for_german_spreadsheets(backend: Backend) {
    let app = seeded(&backend);
    let variety = add_variety(&app);
    // A semicolon inside a cell: quoted, so that it stays in its cell.
    app.admin().create(
        "handlungsfelder",
        &json!({"slug": "mint", "name": "MINT; Naturwissenschaften", "description": "a; \"b\"\r\nc"}),
    );
    let anon = app.anonymous();
    for resource in ["networks", "contracts", "bodies", "handlungsfelder", "contacts"] {
        let path = format!("/v1/exports/{resource}.csv");
        let comma = anon.get(&path);
        let explicit = anon.get(&format!("{path}?separator=comma"));
        let semicolon = anon.get(&format!("{path}?separator=semicolon"));
        assert_eq!(semicolon.status, 200, "{resource}: {}", semicolon.text());
        assert!(semicolon.header("content-type").unwrap().starts_with("text/csv"), "{resource}");
        assert_eq!(explicit.body, comma.body, "{resource}: separator=comma is the default");
        assert_eq!(explicit.etag(), comma.etag(), "{resource}");
        assert_ne!(semicolon.etag(), comma.etag(), "{resource}: each variant has its own ETag");
        let (comma_header, comma_rows) = read_csv(&comma.body);
        let (header, rows) = read_csv_with(&semicolon.body, ';');
        assert_eq!(header, comma_header, "{resource}: the same columns");
        assert_eq!(rows, comma_rows, "{resource}: the same cells");
        let first_line = semicolon.text().lines().next().unwrap().to_string();
        assert_eq!(first_line, format!("\u{feff}{}", header.join(";")), "{resource}");
        // Each variant revalidates with its own ETag (and not with the other's).
        let etag = semicolon.etag();
        let again = anon.get_with(&format!("{path}?separator=semicolon"), &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{resource}");
        assert_eq!(anon.get_with(&path, &[("If-None-Match", &etag)]).status, 200, "{resource}");
        // The command line writes the same file for public records.
        if resource != "contacts" {
            let cli = rbn(
                &app.database.url,
                &["export", "--format", "csv", "--resource", resource, "--separator", "semicolon"],
            )
            .success();
            assert_eq!(cli.stdout, semicolon.body, "{resource}: rbn export --separator semicolon");
        }
    }
    let (_, handlungsfelder) =
        read_csv_with(&anon.get("/v1/exports/handlungsfelder.csv?separator=semicolon").body, ';');
    let mint = handlungsfelder.iter().find(|r| r["slug"] == "mint").unwrap();
    assert_eq!(mint["name"], "MINT; Naturwissenschaften");
    assert_eq!(mint["description"], "a; \"b\"\r\nc");
    let raw = anon.get("/v1/exports/handlungsfelder.csv?separator=semicolon").text();
    assert!(raw.contains(";\"MINT; Naturwissenschaften\";"), "the cell with ; is quoted");
    let (_, networks) = read_csv_with(&anon.get("/v1/exports/networks.csv?separator=semicolon").body, ';');
    let viersen = networks.iter().find(|r| r["id"] == variety.network_id).unwrap();
    assert_eq!(viersen["description"], TRICKY_DESCRIPTION, "commas, quotes and line breaks survive");
    assert!(networks.iter().any(|r| r["name"].contains("Mönchengladbach")), "umlauts intact");

    // Wrong values: a 400 naming the parameter; unknown parameters as everywhere.
    for wrong in ["tab", "", "SEMICOLON", ";", "comma,semicolon"] {
        let reply = anon.get(&format!("/v1/exports/networks.csv?separator={}", wrong.replace(';', "%3B")));
        assert_eq!(reply.error_fields(), ["separator"], "{wrong:?}");
    }
    assert_eq!(anon.get("/v1/exports/networks.csv?separator=comma&separator=semicolon").error_fields(), ["separator"]);
    assert_eq!(anon.get("/v1/exports/contacts.csv?separator=semicolon&sep=x").error_fields(), ["sep"]);
    assert_eq!(anon.get("/v1/exports/dataset.json?separator=semicolon").error_fields(), ["separator"]);
    let run = rbn(&app.database.url, &["export", "--separator", "semicolon"]);
    assert_eq!(run.code, Some(2), "--separator without --format csv: {}", run.stderr);
    assert_ne!(
        rbn(&app.database.url, &["export", "--format", "csv", "--resource", "networks", "--separator", "tab"]).code,
        Some(0)
    );
}

/// Addresses, sources, signatories and lists are readable text in the CSV cells, never JSON.
fn csv_cells_are_readable_text_not_json(backend: Backend) {
    let app = seeded(&backend);
    let variety = add_variety(&app);
    let anon = app.anonymous();
    for separator in ["comma", "semicolon"] {
        let read = |resource: &str| {
            let reply = anon.get(&format!("/v1/exports/{resource}.csv?separator={separator}"));
            read_csv_with(&reply.body, if separator == "comma" { ',' } else { ';' })
        };
        for resource in ["networks", "contracts", "bodies", "handlungsfelder", "contacts"] {
            let (header, rows) = read(resource);
            assert!(header.iter().all(|h| h != "address"), "{resource}: the address is split: {header:?}");
            for row in &rows {
                for (column, cell) in row {
                    let start = cell.trim_start();
                    assert!(
                        !start.starts_with('{') && !start.starts_with('[') && !cell.contains("\":"),
                        "{separator} {resource}.{column} is JSON: {cell}"
                    );
                }
            }
        }
        // Addresses in three columns: the Servicestelle of the Bezirksregierung Düsseldorf, and a body.
        let (header, contacts) = read("contacts");
        for column in ["addressStreet", "addressPostalCode", "addressCity"] {
            assert!(header.iter().any(|h| h == column), "{column} in {header:?}");
        }
        let servicestelle = contacts.iter().find(|r| r["organisation"] == "Bezirksregierung Düsseldorf").unwrap();
        assert_eq!(
            (&*servicestelle["addressStreet"], &*servicestelle["addressPostalCode"], &*servicestelle["addressCity"]),
            ("Am Bonneshof 35", "40474", "Düsseldorf")
        );
        let (_, bodies) = read("bodies");
        let ag = bodies.iter().find(|r| r["name"] == "AG Übergänge").unwrap();
        assert_eq!(
            (&*ag["addressStreet"], &*ag["addressPostalCode"], &*ag["addressCity"]),
            ("Rathausmarkt 3", "41747", "Viersen")
        );
        let no_address = bodies.iter().find(|r| r["name"] != "AG Übergänge").unwrap();
        assert_eq!(no_address["addressCity"], "", "no address: empty cells");
        // Sources as `Title (publisher, date)`, joined with `; `.
        let (_, networks) = read("networks");
        let mettmann = networks.iter().find(|r| r["slug"] == "kreis-mettmann").unwrap();
        let json = anon.get("/v1/networks/kreis-mettmann").json();
        let expected: Vec<String> = json["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|source| {
                let details: Vec<&str> =
                    ["publisher", "date", "url"].iter().filter_map(|key| source[*key].as_str()).collect();
                let title = source["title"].as_str().unwrap();
                if details.is_empty() { title.to_string() } else { format!("{title} ({})", details.join(", ")) }
            })
            .collect();
        assert!(expected.len() >= 2, "{expected:?}");
        assert_eq!(mettmann["sources"], expected.join("; "));
        assert!(
            mettmann["sources"].ends_with("; Regionale Bildungsnetzwerke (Bezirksregierung Düsseldorf)"),
            "{}",
            mettmann["sources"]
        );
        // Handlungsfelder ids joined with `, `.
        let ids: Vec<&str> = json["handlungsfeldIds"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(mettmann["handlungsfeldIds"], ids.join(", "));
        // Signatories as `Name (role, party)`.
        let (_, contracts) = read("contracts");
        let signed = contracts.iter().find(|r| r["signedOn"] == "2013-11-19").unwrap();
        assert!(signed["signatories"].contains("Sylvia Löhrmann (Schulministerin, land)"), "{}", signed["signatories"]);
        assert!(signed["signatories"].contains("; Thomas Hendele (Landrat, kommune)"), "{}", signed["signatories"]);
        let viersen = contracts.iter().find(|r| r["networkId"] == variety.network_id).unwrap();
        assert_eq!(viersen["signatories"], "Andreas Coenen (Landrat, kommune)");
    }
}

// ---------------------------------------------------------------------------------------------------------
// 6. HTTP exports: ETags, public data only, the licence

fn http_exports_have_etags_and_only_public_data(backend: Backend) {
    let app = seeded(&backend);
    let variety = add_variety(&app);
    let anon = app.anonymous();

    for path in ["/v1/exports/dataset.json", "/v1/exports/contacts.csv"] {
        let reply = anon.get(path);
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let etag = reply.etag();
        let again = anon.get_with(path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}: {}", again.text());
        assert!(again.body.is_empty());
        assert_eq!(again.etag(), etag);
        let other = anon.get_with(path, &[("If-None-Match", "\"something-else\"")]);
        assert_eq!(other.status, 200);
        assert_eq!(other.body, reply.body, "{path}: the same bytes twice");

        // No internal contact, no unconsented person's channels — anywhere in the body.
        let text = reply.text();
        for secret in [INTERNAL_EMAIL, UNCONSENTED_EMAIL, UNCONSENTED_PHONE, "Interne Koordination"] {
            assert!(!text.contains(secret), "{path} leaks {secret}");
        }
        assert!(!text.contains(&variety.internal_contact_id), "{path} lists the internal contact");
        assert!(
            text.contains(&variety.unconsented_id),
            "{path}: the person without consent is listed, without channels"
        );
        assert!(text.contains(CONSENTED_EMAIL), "{path}: a consenting person's e-mail is public");
        assert!(text.contains(&variety.consented_id));
    }

    // The same, field by field.
    let dataset = anon.get("/v1/exports/dataset.json").json();
    let contacts = dataset["contacts"].as_array().unwrap();
    assert!(contacts.iter().all(|c| c["visibility"] == "public"), "{contacts:?}");
    let person = contacts.iter().find(|c| c["id"] == variety.unconsented_id.as_str()).unwrap();
    assert_eq!(person["email"], Value::Null);
    assert_eq!(person["phone"], Value::Null);
    assert_eq!(person["name"], "Erika Mustermann");
    let (_, rows) = read_csv(&anon.get("/v1/exports/contacts.csv").body);
    let row = rows.iter().find(|r| r["id"] == variety.unconsented_id).unwrap();
    assert_eq!(row["email"], "");
    assert_eq!(row["phone"], "");
    assert!(rows.iter().all(|r| r["visibility"] == "public"));
    assert!(rows.iter().all(|r| r["id"] != variety.internal_contact_id));

    // An admin key does not turn the public download into a private one.
    let as_admin = app.admin().get("/v1/exports/dataset.json");
    assert_eq!(as_admin.status, 200);
    assert!(!as_admin.text().contains(INTERNAL_EMAIL));

    // The HTTP dataset is a dataset `rbn import` reads.
    let target = TestDatabase::new(&backend);
    import(&target.url, &anon.get("/v1/exports/dataset.json").body).success();
    assert!(!String::from_utf8(export(&target.url)).unwrap().contains(INTERNAL_EMAIL));

    // A change gives a new ETag: the old one no longer answers 304.
    let dataset_etag = anon.get("/v1/exports/dataset.json").etag();
    let contacts_etag = anon.get("/v1/exports/contacts.csv").etag();
    app.admin().create("contacts", &json!({"districtKey": 3, "name": "Servicestelle Köln (Test)", "isPerson": false}));
    let after = anon.get_with("/v1/exports/dataset.json", &[("If-None-Match", &dataset_etag)]);
    assert_eq!(after.status, 200);
    assert_ne!(after.etag(), dataset_etag);
    let after = anon.get_with("/v1/exports/contacts.csv", &[("If-None-Match", &contacts_etag)]);
    assert_eq!(after.status, 200);
    assert!(after.text().contains("Servicestelle Köln (Test)"));
}

fn licence_is_in_discovery_and_exports(backend: Backend) {
    let app = seeded(&backend);
    let anon = app.anonymous();
    let discovery = anon.get("/v1").json();
    assert_eq!(discovery["licence"]["id"], "dl-de/by-2-0");
    assert!(discovery["licence"]["url"].as_str().unwrap().starts_with("https://"));
    assert!(discovery["licence"]["name"].as_str().unwrap().contains("Namensnennung"));
    let dataset = anon.get("/v1/exports/dataset.json").json();
    assert_eq!(dataset["licence"], discovery["licence"]);
    let cli = export_json(&app.database.url);
    assert_eq!(cli["licence"], discovery["licence"]);
    // The licence section is accepted back by import (it is part of the format).
    let target = TestDatabase::new(&backend);
    import(&target.url, &serde_json::to_vec(&cli).unwrap()).success();
}

// ---------------------------------------------------------------------------------------------------------
// Issue 14: the four soft faults of the seed, and the documents' own counts

/// The seed as it was before issue 14, to import the correction over it.
const SEED_BEFORE_ISSUE_14: &str = include_str!("fixtures/seed-before-issue-14.json");

/// The regions whose networks document 001 (6 May 2010) does not list: they came later.
const NOT_IN_DOCUMENT_001: &[&str] = &["05124", "05154", "05158", "05162"];

fn served_dataset(app: &TestApp) -> Value {
    let reply = app.anonymous().get("/v1/exports/dataset.json");
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// The text of a seed document with its line breaks, hyphenations and quotation marks evened out, so that
/// a quotation can be looked up in it; `None` when the documents are not next to the repository.
fn document_text(document: &str) -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds").join(document);
    let raw = std::fs::read_to_string(path).ok()?;
    Some(even_out(&raw))
}

fn even_out(text: &str) -> String {
    let text = text.replace(",,", "„").replace('"', "“");
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = String::new();
    for word in words {
        if out.ends_with('-') && word.chars().next().is_some_and(char::is_lowercase) {
            out.pop(); // a word hyphenated at a line break
        } else if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The quotations („…“, the outermost pair) of a text.
fn quotations(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let (mut depth, mut current) = (0, String::new());
    for c in text.chars() {
        match c {
            '„' => {
                if depth > 0 {
                    current.push(c);
                }
                depth += 1;
            }
            '“' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    found.push(std::mem::take(&mut current));
                } else {
                    current.push(c);
                }
            }
            _ if depth > 0 => current.push(c),
            _ => {}
        }
    }
    found
}

fn issue_14_every_body_is_eines_der_drei_gremien(backend: Backend) {
    let app = seeded(&backend);
    let bodies = app.anonymous().all("/v1/bodies?limit=500");
    assert_eq!(bodies.len(), 141);
    for body in &bodies {
        let description = body["description"].as_str().unwrap();
        assert!(!description.contains("Einer der drei Gremien"), "{description}");
        assert!(
            description.contains("Eines der drei Gremien, zu deren Einrichtung sich die Partner mit dem Kooperationsvertrag verpflichten (Dokument 004)."),
            "{description}"
        );
    }
}

fn issue_14_mettmann_contract_does_not_name_the_handlungsfelder(backend: Backend) {
    let app = seeded(&backend);
    let anon = app.anonymous();
    let contracts = anon.all("/v1/networks/kreis-mettmann/contracts");
    assert_eq!(contracts.len(), 1, "{contracts:?}");
    let contract = &contracts[0];
    // Document 000 does not say that the contract names them...
    assert_eq!(contract["handlungsfeldIds"], json!([]), "{contract}");
    let notes = contract["notes"].as_str().unwrap();
    assert!(
        notes.contains("„Im Kreis Mettmann liegt der Schwerpunkt der Zusammenarbeit auf den Themen schulische Inklusion, Übergang von der Schule in den Beruf und Entwicklung von Medienkonzepten in Schulen.“"),
        "{notes}"
    );
    assert!(notes.contains("beim Netzwerk verzeichnet, nicht beim Vertrag"), "{notes}");
    // ...so they stay with the network.
    let mut slugs: Vec<String> = anon
        .all("/v1/networks/kreis-mettmann/handlungsfelder")
        .iter()
        .map(|h| h["slug"].as_str().unwrap().to_string())
        .collect();
    slugs.sort();
    assert_eq!(slugs, ["medienkonzepte-in-schulen", "schulische-inklusion", "uebergang-schule-beruf"]);
    // No contract of the seed names a Handlungsfeld: no document says a contract does.
    assert!(anon.all("/v1/contracts?limit=500").iter().all(|c| c["handlungsfeldIds"] == json!([])));
}

fn issue_14_bodies_cite_document_001_only_where_it_lists_the_network(backend: Backend) {
    let app = seeded(&backend);
    let anon = app.anonymous();
    let region_of: HashMap<String, String> = anon
        .all("/v1/networks?limit=500")
        .iter()
        .map(|n| (n["id"].as_str().unwrap().to_string(), n["regionKey"].as_str().unwrap().to_string()))
        .collect();
    let mut later = 0;
    for body in anon.all("/v1/bodies?limit=500") {
        let region = &region_of[body["networkId"].as_str().unwrap()];
        let documents = documents_of(&body);
        let description = body["description"].as_str().unwrap();
        let listed = !NOT_IN_DOCUMENT_001.contains(&region.as_str());
        assert_eq!(documents.iter().any(|d| d == "001_d755f9f501a5e988.txt"), listed, "{region}: {body}");
        assert_eq!(description.contains("Dokument 001"), listed, "{region}: {description}");
        // Document 004 covers every contract's three Gremien, and every description names only cited documents.
        assert!(documents.iter().any(|d| d == "004_deb2515a6a91da28.txt"), "{body}");
        for (number, document) in [("000", DOCUMENTS[0]), ("001", DOCUMENTS[1]), ("003", DOCUMENTS[3])] {
            if description.contains(&format!("Dokument {number}")) {
                assert!(documents.iter().any(|d| d == document), "{body} quotes {document} without citing it");
            }
        }
        later += usize::from(!listed);
    }
    assert_eq!(later, 12, "the three Gremien of Wuppertal, Kreis Kleve, Kreis Mettmann and Rhein-Kreis Neuss");
}

fn issue_14_document_000_states_why_its_publisher_is_open(backend: Backend) {
    let app = seeded(&backend);
    let dataset = served_dataset(&app);
    let discovery = app.anonymous().get("/v1").json();
    let mut sources: Vec<Value> = Vec::new();
    for section in ["handlungsfelder", "networks", "bodies", "contracts", "contacts"] {
        for record in dataset[section].as_array().unwrap() {
            sources.extend(record["sources"].as_array().unwrap().iter().cloned());
        }
    }
    for fact in discovery["facts"]["statements"].as_array().unwrap() {
        sources.extend(fact["sources"].as_array().unwrap().iter().cloned());
    }
    // Every document is described the same way wherever it is cited.
    let mut by_document: HashMap<String, BTreeSet<String>> = HashMap::new();
    for source in &sources {
        by_document.entry(source["document"].as_str().unwrap().to_string()).or_default().insert(source.to_string());
    }
    for (document, descriptions) in &by_document {
        assert_eq!(descriptions.len(), 1, "{document} is described in {} ways: {descriptions:?}", descriptions.len());
    }
    let of = |document: &str| -> Value {
        sources.iter().find(|s| s["document"] == document).unwrap_or_else(|| panic!("{document} is not cited")).clone()
    };
    let press_2013 = of("000_5f1d657e03a14db8.txt");
    assert_eq!(press_2013["publisher"], Value::Null, "document 000 names no publisher: {press_2013}");
    let note = press_2013["note"].as_str().unwrap_or_else(|| panic!("no note says why: {press_2013}"));
    assert!(note.contains("nennt keinen Herausgeber") && note.contains("„Düsseldorf, 19. November 2013“"), "{note}");
    let press_2010 = of("001_d755f9f501a5e988.txt");
    assert_eq!(press_2010["publisher"], "Ministerium für Schule und Weiterbildung");
    assert!(press_2010.get("note").is_none(), "{press_2010}");
    // What the note quotes is in the documents.
    if let (Some(d000), Some(d001)) = (document_text(DOCUMENTS[0]), document_text(DOCUMENTS[1])) {
        assert!(d000.contains("Düsseldorf, 19. November 2013"));
        assert!(d001.contains("Das Ministerium für Schule und Weiterbildung teilt mit:"));
        assert!(!d000.contains("Ministerium"), "document 000 does name a ministry: the note is wrong");
    }
}

fn issue_14_discovery_states_the_documents_counts_with_their_sources(backend: Backend) {
    let app = seeded(&backend);
    let anon = app.anonymous();
    let reply = anon.get("/v1");
    assert_eq!(reply.status, 200);
    let facts = reply.json()["facts"].clone();
    let named = anon.all("/v1/networks?limit=500").len();
    assert_eq!(named, 47);
    assert_eq!(facts["networks"], json!(named), "{facts}");
    let summary = facts["summary"].as_str().unwrap();
    assert!(summary.starts_with("Das Register verzeichnet 47 Netzwerke."), "{summary}");
    assert!(summary.contains("52 (undatiert)") && summary.contains("13 im Regierungsbezirk Düsseldorf"), "{summary}");

    let statements = facts["statements"].as_array().unwrap();
    let find = |count: i64| -> &Value {
        statements.iter().find(|s| s["count"] == json!(count)).unwrap_or_else(|| panic!("no statement of {count}"))
    };
    for (count, date, district, document) in [
        (43, json!("2010-05-06"), Value::Null, DOCUMENTS[1]),
        (50, json!("2013-11-19"), Value::Null, DOCUMENTS[0]),
        (52, Value::Null, Value::Null, DOCUMENTS[3]),
        (13, Value::Null, json!(1), DOCUMENTS[4]),
        (8, Value::Null, json!(5), DOCUMENTS[3]),
    ] {
        let statement = find(count);
        assert_eq!(statement["date"], date, "{statement}");
        assert_eq!(statement["districtKey"], district, "{statement}");
        assert_eq!(documents_of(statement), [document], "{statement}");
        let number = if count == 8 { "alle acht".to_string() } else { count.to_string() };
        assert!(statement["statement"].as_str().unwrap().contains(&number), "{statement}");
    }
    // Document 002, cited nowhere before, supports the start in 2008 and the link to the Kommunale
    // Integrationszentren.
    let of_002: Vec<&Value> = statements.iter().filter(|s| documents_of(s).iter().any(|d| d == DOCUMENTS[2])).collect();
    assert!(of_002.iter().any(|s| s["date"] == "2008"), "{of_002:?}");
    assert!(of_002.iter().any(|s| s["statement"].as_str().unwrap().contains("Kommunalen Integrationszentren")));
    // Every document is cited somewhere in what the registry serves.
    let dataset = served_dataset(&app);
    let mut cited: BTreeSet<String> = statements.iter().flat_map(documents_of).collect();
    for section in ["handlungsfelder", "networks", "bodies", "contracts", "contacts"] {
        cited.extend(dataset[section].as_array().unwrap().iter().flat_map(documents_of));
    }
    assert_eq!(cited, DOCUMENTS.iter().map(|d| d.to_string()).collect::<BTreeSet<_>>());
    // The export carries the same statements, so a mirror gets them too.
    assert_eq!(dataset["facts"], facts["statements"]);

    // Nothing is invented: every quotation of a statement is in one of the documents it cites.
    let texts: Option<HashMap<&str, String>> = DOCUMENTS.iter().map(|d| Some((*d, document_text(d)?))).collect();
    let Some(texts) = texts else {
        eprintln!("the seed documents are not in ../shared/seeds: quotations not checked");
        return;
    };
    for statement in statements {
        let text = statement["statement"].as_str().unwrap();
        let quoted = quotations(text);
        assert!(!quoted.is_empty(), "a statement quotes its document: {text}");
        for quotation in quoted {
            let quotation = even_out(&quotation);
            let parts: Vec<&str> = quotation.split(" … ").collect();
            let in_a_source = documents_of(statement)
                .iter()
                .any(|d| parts.iter().all(|part| texts[d.as_str()].contains(part.trim_end_matches(" …"))));
            assert!(in_a_source, "„{quotation}“ is not in the documents {:?}", documents_of(statement));
        }
    }
    // Unknown parameters are refused here as everywhere; the answer has an ETag and revalidates.
    assert_eq!(anon.get("/v1?facts=all").status, 400);
    let etag = reply.etag();
    assert_eq!(anon.get_with("/v1", &[("If-None-Match", &etag)]).status, 304);
}

fn issue_14_importing_the_corrected_seed_changes_exactly_the_corrected_records(backend: Backend) {
    let app = spawn_app(&backend);
    let url = app.database.url.clone();
    let old: Value = serde_json::from_str(SEED_BEFORE_ISSUE_14).unwrap();
    import(&url, SEED_BEFORE_ISSUE_14.as_bytes()).success();
    let admin = app.admin();
    assert_eq!(admin.get("/v1").json()["facts"]["statements"], json!([]), "the old seed has no facts");
    let before = served_dataset(&app);
    let seen_seq = admin.all("/v1/changes?limit=500").iter().map(|c| c["seq"].as_i64().unwrap()).max().unwrap();
    // What the correction changes, read from the old file: every body (item 1, item 3), Kreis Mettmann's
    // contract (item 2) and every record citing document 000 (item 4).
    let mut expected: BTreeSet<String> = BTreeSet::new();
    for section in ["handlungsfelder", "networks", "bodies", "contracts", "contacts"] {
        for record in old[section].as_array().unwrap() {
            let id = record["id"].as_str().unwrap().to_string();
            let corrected = section == "bodies"
                || (section == "contracts" && record["networkId"] == "kreis-mettmann")
                || documents_of(record).iter().any(|d| d == DOCUMENTS[0]);
            if corrected {
                expected.insert(id);
            }
        }
    }
    assert_eq!(expected.len(), 141 + 1 + 3 + 1, "bodies, the contract, three Handlungsfelder, the network");

    let run = import(&url, rbn_registry::app::SEED.as_bytes()).success();
    let total = records_in(&old);
    assert_eq!(import_report(&run.stderr), (0, expected.len(), total - expected.len()), "{}", run.stderr);
    assert!(run.stderr.contains("facts replaced"), "{}", run.stderr);

    // The change feed since the old seed holds exactly the corrected records.
    let changed: BTreeSet<String> = admin
        .all("/v1/changes?limit=500")
        .iter()
        .filter(|c| c["seq"].as_i64().unwrap() > seen_seq)
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(changed, expected);
    // Their updatedAt moved forward; every other record is exactly as it was.
    let after = served_dataset(&app);
    for section in ["handlungsfelder", "networks", "bodies", "contracts", "contacts"] {
        let was: HashMap<&str, &Value> =
            before[section].as_array().unwrap().iter().map(|r| (r["id"].as_str().unwrap(), r)).collect();
        let records = after[section].as_array().unwrap();
        assert_eq!(records.len(), was.len(), "{section}");
        for record in records {
            let id = record["id"].as_str().unwrap();
            let old_record = was[id];
            if expected.contains(id) {
                assert_ne!(record, old_record, "{section} {id}");
                assert!(record["updatedAt"].as_str() > old_record["updatedAt"].as_str(), "{section} {id}");
            } else {
                assert_eq!(record, old_record, "{section} {id} changed");
            }
        }
    }
    assert_eq!(
        after["facts"].as_array().unwrap().len(),
        served_dataset(&seeded(&backend))["facts"].as_array().unwrap().len()
    );
    // And a second import of the corrected seed changes nothing.
    let again = import(&url, rbn_registry::app::SEED.as_bytes()).success();
    assert_eq!(import_report(&again.stderr), (0, 0, total), "{}", again.stderr);
    assert!(again.stderr.contains("facts unchanged"), "{}", again.stderr);
}
