//! `GET /v1/networks?expand=…` reads the related records of a whole page with one query per kind: the
//! number of SQL statements a request runs does not grow with the networks on the page. Counted with
//! diesel's instrumentation of every connection, in a test binary of its own (the count is process-wide).

mod common;

use std::sync::Mutex;

use common::{Backend, Client, network_body, spawn_app};
use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use serde_json::json;

backend_tests!(expanding_a_page_of_networks_costs_the_same_queries_for_3_or_30_networks);

/// The statements of every connection of this process, in order.
static STATEMENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// One test at a time: the statements of the SQLite and PostgreSQL variants must not mix.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn recorder() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            STATEMENTS.lock().unwrap_or_else(|e| e.into_inner()).push(query.to_string());
        }
    }))
}

/// The statements that one GET ran.
fn statements_of(client: &Client, path: &str) -> Vec<String> {
    STATEMENTS.lock().unwrap().clear();
    let reply = client.get(path);
    assert_eq!(reply.status, 200, "{}", reply.text());
    std::mem::take(&mut *STATEMENTS.lock().unwrap())
}

const REGIONS: [&str; 30] = [
    "05111", "05112", "05113", "05114", "05116", "05117", "05119", "05120", "05122", "05124", "05154", "05158",
    "05162", "05166", "05170", "05314", "05315", "05316", "05334", "05358", "05362", "05366", "05370", "05374",
    "05378", "05382", "05512", "05513", "05515", "05554",
];

fn expanding_a_page_of_networks_costs_the_same_queries_for_3_or_30_networks(backend: Backend) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    set_default_instrumentation(recorder).unwrap();
    let app = spawn_app(&backend);
    let admin = app.admin();
    let inklusion = admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    let add = |region: &str| {
        let mut body = network_body(&format!("netz-{region}"), region);
        body["handlungsfeldIds"] = json!([inklusion["id"]]);
        let id = admin.create("networks", &body)["id"].clone();
        admin.create("contracts", &json!({"networkId": id, "kind": "founding"}));
        admin.create("bodies", &json!({"networkId": id, "type": "lenkungskreis", "name": "Lenkungskreis"}));
        admin.create("contacts", &json!({"networkId": id, "name": "Bildungsbüro"}));
        admin.create("contacts", &json!({"networkId": id, "name": "Intern", "visibility": "internal"}));
    };
    // An API key's reads bypass the read cache: every request reaches the database.
    let path = "/v1/networks?limit=100&expand=contracts,bodies,handlungsfelder,contacts";
    let district = app.with_key(&app.key(rbn_registry::domain::Role::District, Some(1), vec![]));
    for region in &REGIONS[..3] {
        add(region);
    }
    let few = statements_of(&district, path);
    for region in &REGIONS[3..] {
        add(region);
    }
    let many = statements_of(&district, path);
    let page = district.get(path).json();
    assert_eq!(page["data"].as_array().unwrap().len(), 30);
    // The district key of Düsseldorf (Kreisschlüssel 051…) sees the internal contacts of its networks only.
    for network in page["data"].as_array().unwrap() {
        let expected = if network["regionKey"].as_str().unwrap().starts_with("051") { 2 } else { 1 };
        assert_eq!(network["contacts"].as_array().unwrap().len(), expected, "{network}");
    }
    assert_eq!(few.len(), many.len(), "3 networks:\n{}\n\n30 networks:\n{}", few.join("\n"), many.join("\n"));
    // And few: the key, the page, then each kind once (contracts with their links, contacts with the
    // districts their visibility depends on), in one transaction.
    assert!(many.len() <= 14, "{} statements:\n{}", many.len(), many.join("\n"));
}
