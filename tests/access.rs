//! Who may write what, who may read what of a contact, erasure, the audit log, API keys and failed
//! authentication (issue 4), over real HTTP on SQLite and PostgreSQL.

mod common;

use common::{Backend, Client, Reply, TestApp, network_body, spawn_app};
use rbn_registry::domain::{ApiKeyInput, Role, Timestamp};
use rbn_registry::storage::Actor;
use serde_json::{Value, json};

backend_tests!(
    matrix_without_a_valid_key,
    matrix_admin,
    matrix_district_keys,
    matrix_editor_keys,
    keys_cannot_move_records_out_of_their_scope,
    contact_privacy_per_reader,
    erasure_leaves_no_personal_data_anywhere,
    audit_log_records_who_what_and_field_names_only,
    api_keys_are_shown_once_listed_without_secrets_and_revocable,
    expired_keys_are_refused,
    repeated_authentication_failures_are_answered_with_429,
    only_admins_and_district_keys_of_both_regions_move_a_network,
    api_key_input_is_validated,
    revoking_a_revoked_key_keeps_the_first_revocation,
);

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_string()
}

fn data(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["data"].as_array().unwrap().clone()
}

/// A full replacement built from the current representation: read-only fields dropped, `change` merged.
fn replacement(current: &Value, change: Value) -> Value {
    let mut doc = current.clone();
    let object = doc.as_object_mut().unwrap();
    for read_only in ["id", "createdAt", "updatedAt", "foundedOn"] {
        object.remove(read_only);
    }
    object.retain(|_, v| !v.is_null());
    for (k, v) in change.as_object().unwrap() {
        object.insert(k.clone(), v.clone());
    }
    doc
}

/// Everything an admin can see of the registry: every collection, the change feed and the audit log.
/// Equal before and after a request means the request wrote nothing.
fn snapshot(admin: &Client) -> Value {
    json!({
        "networks": admin.all("/v1/networks?limit=500"),
        "contracts": admin.all("/v1/contracts?limit=500"),
        "bodies": admin.all("/v1/bodies?limit=500"),
        "handlungsfelder": admin.all("/v1/handlungsfelder?limit=500"),
        "contacts": admin.all("/v1/contacts?limit=500"),
        "changes": admin.all("/v1/changes?limit=500"),
        "audit": admin.all("/v1/audit?limit=500"),
    })
}

fn audit_len(snapshot: &Value) -> usize {
    snapshot["audit"].as_array().unwrap().len()
}

// ---------------------------------------------------------------------------------------------------
// The role × resource × action matrix
// ---------------------------------------------------------------------------------------------------

/// The callers of the matrix. The order is the order of the columns of [`MATRIX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    BadKey,
    Admin,
    /// A district key for Regierungsbezirk 1 (Düsseldorf), where the target network is.
    DistrictIn,
    /// A district key for Regierungsbezirk 5 (Münster).
    DistrictOther,
    /// An editor key for the target network (and the deletable network C).
    EditorIn,
    /// An editor key for network B only.
    EditorOther,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Network A (Kreis Mettmann, district 1); creates go to 05166, deletes hit network C (05170).
    Network,
    /// The contract of network A.
    Contract,
    /// The body of network A.
    Body,
    /// The contact of network A.
    NetworkContact,
    /// The Servicestelle of district 1 (a contact with `districtKey` 1 and no network).
    DistrictContact,
    /// The shared vocabulary.
    Handlungsfeld,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// `POST /v1/{type}` of a top-level record.
    Create,
    /// `POST /v1/{type}` of a record of network A (`networkId`).
    NestedCreate,
    /// `PUT` with If-Match.
    Replace,
    /// `PATCH` (merge patch) with If-Match.
    Patch,
    /// `DELETE` with If-Match.
    Delete,
    /// `PUT /v1/networks/{A}/handlungsfelder/{hf}` with the network's ETag.
    Link,
    /// `DELETE /v1/networks/{A}/handlungsfelder/{hf}` with the network's ETag.
    Unlink,
}

use Action::*;
use Target::*;

/// The expected status of every cell. Columns:
/// anonymous, bad key, admin, district in scope, district other, editor in scope, editor other.
/// Within a target the rows run top to bottom against one service, so deletes come last.
#[rustfmt::skip]
const MATRIX: &[(Target, Action, [u16; 7])] = &[
    //                                 anon  bad  admin d-in d-oth e-in e-oth
    (Network,         Create,       [401, 401, 201, 201, 403, 403, 403]),
    (Network,         Replace,      [401, 401, 200, 200, 403, 200, 403]),
    (Network,         Patch,        [401, 401, 200, 200, 403, 200, 403]),
    (Network,         Link,         [401, 401, 200, 200, 403, 200, 403]),
    (Network,         Unlink,       [401, 401, 204, 204, 403, 204, 403]),
    (Network,         Delete,       [401, 401, 204, 204, 403, 204, 403]),
    (Contract,        NestedCreate, [401, 401, 201, 201, 403, 201, 403]),
    (Contract,        Replace,      [401, 401, 200, 200, 403, 200, 403]),
    (Contract,        Patch,        [401, 401, 200, 200, 403, 200, 403]),
    (Contract,        Delete,       [401, 401, 204, 204, 403, 204, 403]),
    (Body,            NestedCreate, [401, 401, 201, 201, 403, 201, 403]),
    (Body,            Replace,      [401, 401, 200, 200, 403, 200, 403]),
    (Body,            Patch,        [401, 401, 200, 200, 403, 200, 403]),
    (Body,            Delete,       [401, 401, 204, 204, 403, 204, 403]),
    (NetworkContact,  NestedCreate, [401, 401, 201, 201, 403, 201, 403]),
    (NetworkContact,  Replace,      [401, 401, 200, 200, 403, 200, 403]),
    (NetworkContact,  Patch,        [401, 401, 200, 200, 403, 200, 403]),
    (NetworkContact,  Delete,       [401, 401, 204, 204, 403, 204, 403]),
    (DistrictContact, Create,       [401, 401, 201, 201, 403, 403, 403]),
    (DistrictContact, Replace,      [401, 401, 200, 200, 403, 403, 403]),
    (DistrictContact, Patch,        [401, 401, 200, 200, 403, 403, 403]),
    (DistrictContact, Delete,       [401, 401, 204, 204, 403, 403, 403]),
    (Handlungsfeld,   Create,       [401, 401, 201, 403, 403, 403, 403]),
    (Handlungsfeld,   Replace,      [401, 401, 200, 403, 403, 403, 403]),
    (Handlungsfeld,   Patch,        [401, 401, 200, 403, 403, 403, 403]),
    (Handlungsfeld,   Delete,       [401, 401, 204, 403, 403, 403, 403]),
];

/// The records the matrix writes to, created by the admin.
struct World {
    /// Kreis Mettmann (05158, district 1).
    a: String,
    /// Kreis Borken (05554, district 5).
    b: String,
    /// Kreis Wesel (05170, district 1): empty, to be deleted.
    c: String,
    contract: String,
    body: String,
    contact: String,
    district_contact: String,
    /// Linked to nothing; the link cell links it to A.
    hf_free: String,
    /// Linked to A; the unlink cell unlinks it.
    hf_linked: String,
    /// Linked to nothing; replaced, patched and deleted.
    hf_edit: String,
}

impl World {
    fn build(app: &TestApp) -> World {
        let admin = app.admin();
        let a = id_of(&admin.create("networks", &network_body("kreis-mettmann", "05158")));
        let b = id_of(&admin.create("networks", &network_body("kreis-borken", "05554")));
        let c = id_of(&admin.create("networks", &network_body("kreis-wesel", "05170")));
        let contract =
            id_of(&admin.create("contracts", &json!({"networkId": a, "kind": "founding", "signedOn": "2013-11-19"})));
        let body =
            id_of(&admin.create("bodies", &json!({"networkId": a, "type": "lenkungskreis", "name": "Lenkungsgruppe"})));
        let contact = id_of(
            &admin.create("contacts", &json!({"networkId": a, "name": "Regionales Bildungsbüro (Funktionspostfach)"})),
        );
        let district_contact = id_of(&admin.create(
            "contacts",
            &json!({"districtKey": 1, "name": "Servicestelle Regionale Bildungsnetzwerke",
                    "organisation": "Bezirksregierung Düsseldorf"}),
        ));
        let hf = |slug: &str, name: &str| id_of(&admin.create("handlungsfelder", &json!({"slug": slug, "name": name})));
        let hf_free = hf("schulische-inklusion", "Schulische Inklusion");
        let hf_linked = hf("uebergang-schule-beruf", "Übergang Schule–Beruf");
        let hf_edit = hf("medienkonzepte", "Medienkonzepte in Schulen");
        let network_path = format!("/v1/networks/{a}");
        let linked = admin.send(
            "PUT",
            &format!("{network_path}/handlungsfelder/{hf_linked}"),
            &[("If-Match", &admin.get(&network_path).etag())],
            None,
        );
        assert_eq!(linked.status, 200, "{}", linked.text());
        World { a, b, c, contract, body, contact, district_contact, hf_free, hf_linked, hf_edit }
    }

    fn client(&self, app: &TestApp, who: Who) -> Client {
        let uuid = |s: &str| uuid::Uuid::parse_str(s).unwrap();
        match who {
            Who::Anonymous => app.anonymous(),
            Who::BadKey => app.with_key("rbn_this-key-was-never-issued-0000000000000"),
            Who::Admin => app.admin(),
            Who::DistrictIn => app.with_key(&app.key(Role::District, Some(1), vec![])),
            Who::DistrictOther => app.with_key(&app.key(Role::District, Some(5), vec![])),
            Who::EditorIn => app.with_key(&app.key(Role::Editor, None, vec![uuid(&self.a), uuid(&self.c)])),
            Who::EditorOther => app.with_key(&app.key(Role::Editor, None, vec![uuid(&self.b)])),
        }
    }
}

/// Sends the request of one cell as `client`; `admin` reads the current ETags.
fn perform(client: &Client, admin: &Client, w: &World, target: Target, action: Action) -> Reply {
    let path = match target {
        Network if action == Delete => format!("/v1/networks/{}", w.c),
        Network => format!("/v1/networks/{}", w.a),
        Contract => format!("/v1/contracts/{}", w.contract),
        Body => format!("/v1/bodies/{}", w.body),
        NetworkContact => format!("/v1/contacts/{}", w.contact),
        DistrictContact => format!("/v1/contacts/{}", w.district_contact),
        Handlungsfeld => format!("/v1/handlungsfelder/{}", w.hf_edit),
    };
    let collection = match target {
        Network => "networks",
        Contract => "contracts",
        Body => "bodies",
        NetworkContact | DistrictContact => "contacts",
        Handlungsfeld => "handlungsfelder",
    };
    match action {
        Create | NestedCreate => {
            let body = match target {
                Network => network_body("kreis-viersen", "05166"),
                Contract => json!({"networkId": w.a, "kind": "renewal", "signedOn": "2019"}),
                Body => {
                    json!({"networkId": w.a, "type": "arbeitsgruppe", "name": "AG Übergang"})
                }
                NetworkContact => json!({"networkId": w.a, "name": "Geschäftsstelle"}),
                DistrictContact => {
                    json!({"districtKey": 1, "name": "Regionalkoordination", "function": "Schulaufsicht"})
                }
                Handlungsfeld => json!({"slug": "ganztag", "name": "Ganztag"}),
            };
            client.post(&format!("/v1/{collection}"), &body)
        }
        Replace => {
            let current = admin.get(&path);
            let change = match target {
                Network => json!({"name": "RBN Kreis Mettmann (ersetzt)"}),
                Contract => json!({"notes": "ersetzt"}),
                Body => json!({"name": "Lenkungskreis (ersetzt)"}),
                NetworkContact | DistrictContact => json!({"function": "ersetzt"}),
                Handlungsfeld => json!({"description": "ersetzt"}),
            };
            client.put(&path, &current.etag(), &replacement(&current.json(), change))
        }
        Patch => {
            let etag = admin.get(&path).etag();
            let change = match target {
                Network => json!({"website": "https://www.kreis-mettmann.de/bildung"}),
                Contract => json!({"notes": "gepatcht"}),
                Body => json!({"description": "gepatcht"}),
                NetworkContact | DistrictContact => json!({"function": "gepatcht"}),
                Handlungsfeld => json!({"description": "gepatcht"}),
            };
            client.patch(&path, &etag, &change)
        }
        Delete => client.delete(&path, &admin.get(&path).etag()),
        Link | Unlink => {
            assert_eq!(target, Network, "links are a network's");
            let hf = if action == Link { &w.hf_free } else { &w.hf_linked };
            let etag = admin.get(&path).etag();
            let method = if action == Link { "PUT" } else { "DELETE" };
            client.send(method, &format!("{path}/handlungsfelder/{hf}"), &[("If-Match", &etag)], None)
        }
    }
}

/// Walks every row of the matrix as `who`: the status of each cell, and after every refused request
/// that nothing changed (collections, change feed, audit log); after every accepted one that the write
/// happened and was audited once. Reports every wrong cell at once.
fn run_matrix(backend: &Backend, who: Who) {
    let column = who as usize;
    // A bad key is a failed authentication; the tenth within a minute blocks the client (429). So its
    // cells run in chunks of 9, each against a fresh service.
    let chunk = if who == Who::BadKey { 9 } else { MATRIX.len() };
    let mut wrong = Vec::new();
    for part in MATRIX.chunks(chunk) {
        let app = spawn_app(backend);
        let world = World::build(&app);
        let admin = app.admin();
        let client = world.client(&app, who);
        for &(target, action, expected) in part {
            let expected = expected[column];
            let before = snapshot(&admin);
            let reply = perform(&client, &admin, &world, target, action);
            let after = snapshot(&admin);
            let cell = format!("{who:?} × {target:?} × {action:?}");
            if reply.status != expected {
                wrong.push(format!("{cell}: expected {expected}, got {} {}", reply.status, reply.text()));
                continue;
            }
            if expected >= 400 {
                assert_eq!(reply.header("content-type"), Some("application/problem+json"), "{cell}");
                if before != after {
                    wrong.push(format!("{cell}: refused with {expected}, but data changed"));
                }
            } else {
                if before == after {
                    wrong.push(format!("{cell}: {expected}, but nothing changed"));
                }
                if audit_len(&after) != audit_len(&before) + 1 {
                    wrong.push(format!(
                        "{cell}: {expected}, but {} audit entries were added instead of 1",
                        audit_len(&after) as i64 - audit_len(&before) as i64
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} wrong cells:\n{}", wrong.len(), wrong.join("\n"));
}

fn matrix_without_a_valid_key(backend: Backend) {
    run_matrix(&backend, Who::Anonymous);
    run_matrix(&backend, Who::BadKey);
}

fn matrix_admin(backend: Backend) {
    run_matrix(&backend, Who::Admin);
}

fn matrix_district_keys(backend: Backend) {
    run_matrix(&backend, Who::DistrictIn);
    run_matrix(&backend, Who::DistrictOther);
}

fn matrix_editor_keys(backend: Backend) {
    run_matrix(&backend, Who::EditorIn);
    run_matrix(&backend, Who::EditorOther);
}

// ---------------------------------------------------------------------------------------------------
// Moves out of scope, reference data
// ---------------------------------------------------------------------------------------------------

fn keys_cannot_move_records_out_of_their_scope(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let world = World::build(&app);
    let uuid = |s: &str| uuid::Uuid::parse_str(s).unwrap();
    let editor = app.with_key(&app.key(Role::Editor, None, vec![uuid(&world.a)]));
    let district = app.with_key(&app.key(Role::District, Some(1), vec![]));

    // Every refused request: 403 and nothing changed.
    let refused = |what: &str, send: &dyn Fn() -> Reply| {
        let before = snapshot(&admin);
        let reply = send();
        assert_eq!(reply.status, 403, "{what}: {}", reply.text());
        reply.problem(403);
        assert_eq!(before, snapshot(&admin), "{what}: data changed");
    };
    let etag = |path: &str| admin.get(path).etag();
    let body_path = format!("/v1/bodies/{}", world.body);
    let contract_path = format!("/v1/contracts/{}", world.contract);
    let contact_path = format!("/v1/contacts/{}", world.contact);
    let district_contact_path = format!("/v1/contacts/{}", world.district_contact);
    let network_path = format!("/v1/networks/{}", world.a);

    // An editor cannot move a body, a contract or a contact to another network…
    refused("editor moves a body to B", &|| {
        editor.patch(&body_path, &etag(&body_path), &json!({"networkId": world.b}))
    });
    refused("editor replaces a contract into B", &|| {
        let current = admin.get(&contract_path);
        editor.put(&contract_path, &current.etag(), &replacement(&current.json(), json!({"networkId": world.b})))
    });
    refused("editor moves a contact to B", &|| {
        editor.patch(&contact_path, &etag(&contact_path), &json!({"networkId": world.b}))
    });
    // …nor create one there…
    refused("editor creates a contract for B", &|| {
        editor.post("/v1/contracts", &json!({"networkId": world.b, "kind": "founding", "signedOn": "2009"}))
    });
    refused("editor creates a body for B", &|| {
        editor.post("/v1/bodies", &json!({"networkId": world.b, "type": "bildungsbuero", "name": "Bildungsbüro"}))
    });
    // …nor change the shared vocabulary.
    refused("editor patches a Handlungsfeld", &|| {
        let path = format!("/v1/handlungsfelder/{}", world.hf_edit);
        editor.patch(&path, &etag(&path), &json!({"name": "Medien"}))
    });

    // A district key cannot move a network, a body or a contact into another Regierungsbezirk.
    refused("district 1 moves network A to 05558 (district 5)", &|| {
        district.patch(&network_path, &etag(&network_path), &json!({"regionKey": "05558"}))
    });
    refused("district 1 moves a body to B (district 5)", &|| {
        district.patch(&body_path, &etag(&body_path), &json!({"networkId": world.b}))
    });
    refused("district 1 moves its Servicestelle to district 3", &|| {
        district.patch(&district_contact_path, &etag(&district_contact_path), &json!({"districtKey": 3}))
    });
    refused("district 1 creates a contact in district 3", &|| {
        district.post("/v1/contacts", &json!({"districtKey": 3, "name": "Servicestelle Köln"}))
    });
    refused("district 1 creates a network in district 5", &|| {
        district.post("/v1/networks", &network_body("kreis-coesfeld", "05558"))
    });

    // A contact of network A cannot be attached to another Regierungsbezirk as well: that would put it
    // into district 3's lists (`?district=3`) and make its scope ambiguous. Refused (as out of scope,
    // 403, or as conflicting with where the network lies, 409), and nothing changes.
    let refused_any = |what: &str, send: &dyn Fn() -> Reply| {
        let before = snapshot(&admin);
        let reply = send();
        assert!(
            matches!(reply.status, 403 | 409),
            "{what}: expected 403 or 409, got {} {}",
            reply.status,
            reply.text()
        );
        assert_eq!(before, snapshot(&admin), "{what}: data changed");
    };
    refused_any("editor creates a contact of A in district 3", &|| {
        editor.post("/v1/contacts", &json!({"networkId": world.a, "districtKey": 3, "name": "Servicestelle?"}))
    });
    refused_any("editor attaches a contact of A to district 3", &|| {
        editor.patch(&contact_path, &etag(&contact_path), &json!({"districtKey": 3}))
    });
    refused_any("district 1 attaches a contact of A to district 3", &|| {
        district.patch(&contact_path, &etag(&contact_path), &json!({"districtKey": 3}))
    });

    // Within its district the same kind of change is allowed (the refusals above are about scope).
    let moved = district.patch(&network_path, &etag(&network_path), &json!({"regionKey": "05166"}));
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(moved.json()["regionKey"], "05166");
    // A district key may move a body between networks of its district (A and C are both in 1)…
    let body_moved = district.patch(&body_path, &etag(&body_path), &json!({"networkId": world.c}));
    assert_eq!(body_moved.status, 200, "{}", body_moved.text());
    assert_eq!(body_moved.json()["networkId"], world.c.as_str());
    // …and the editor may link a Handlungsfeld to its own network.
    let linked = editor.send(
        "PUT",
        &format!("{network_path}/handlungsfelder/{}", world.hf_free),
        &[("If-Match", &etag(&network_path))],
        None,
    );
    assert_eq!(linked.status, 200, "{}", linked.text());

    // Regions and districts are read-only for everyone, admins included.
    let before = snapshot(&admin);
    for client in [&admin, &district, &editor] {
        client.post("/v1/regions", &json!({"key": "05999"})).problem(405);
        client.post("/v1/districts", &json!({"key": 2})).problem(405);
        client.put("/v1/regions/05158", "*", &json!({"name": "Kreis X"})).problem(405);
        client.patch("/v1/districts/1", "*", &json!({"name": "X"})).problem(405);
    }
    assert_eq!(before, snapshot(&admin));
    assert_eq!(admin.get("/v1/regions/05158").json()["name"], "Kreis Mettmann");
}

// ---------------------------------------------------------------------------------------------------
// Privacy of contacts
// ---------------------------------------------------------------------------------------------------

/// A contact of the privacy fixture and what only some readers may see of it.
struct Private {
    label: &'static str,
    id: String,
    /// The strings that must not reach a reader who may not see it.
    secrets: Vec<&'static str>,
    /// `true`: the whole contact is hidden (internal); `false`: only e-mail and phone (unconsented person).
    whole: bool,
    /// The network it belongs to, if any.
    network: Option<String>,
    /// A word of its name, to search for with `q`.
    search: &'static str,
}

fn contact_privacy_per_reader(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let a = id_of(&admin.create("networks", &network_body("kreis-mettmann", "05158")));
    let b = id_of(&admin.create("networks", &network_body("kreis-borken", "05554")));
    let create = |body: Value| id_of(&admin.create("contacts", &body));
    let ingrid = create(json!({
        "networkId": a, "name": "Ingrid Internhuber", "function": "Leitung Bildungsbüro",
        "email": "ingrid.internhuber@example.org", "phone": "+49 2104 1111 2222",
        "visibility": "internal", "isPerson": true, "publicationConsent": true
    }));
    let paul = create(json!({
        "networkId": a, "name": "Paul Privatmann", "function": "Koordination Übergang Schule–Beruf",
        "email": "paul.privatmann@example.org", "phone": "+49 2104 3333 4444",
        "isPerson": true, "publicationConsent": false
    }));
    let clara = create(json!({
        "networkId": a, "name": "Clara Offenbach", "email": "clara.offenbach@example.org",
        "phone": "+49 2104 5555 6666", "isPerson": true, "publicationConsent": true
    }));
    let mailbox = create(json!({
        "networkId": a, "name": "Bildungsbüro Funktionspostfach", "email": "bildungsbuero@example.org"
    }));
    let dora = create(json!({
        "districtKey": 1, "name": "Dora Bezirksintern", "email": "dora.bezirksintern@example.org",
        "visibility": "internal", "isPerson": true, "publicationConsent": true
    }));
    let bernd = create(json!({
        "networkId": b, "name": "Bernd Borkenintern", "email": "bernd.borkenintern@example.org",
        "visibility": "internal", "isPerson": false
    }));
    let private = [
        Private {
            label: "ingrid",
            id: ingrid.clone(),
            secrets: vec!["Internhuber", "ingrid.internhuber@example.org", "1111 2222"],
            whole: true,
            network: Some(a.clone()),
            search: "internhuber",
        },
        Private {
            label: "paul",
            id: paul.clone(),
            secrets: vec!["paul.privatmann@example.org", "3333 4444"],
            whole: false,
            network: Some(a.clone()),
            search: "privatmann",
        },
        Private {
            label: "dora",
            id: dora.clone(),
            secrets: vec!["Bezirksintern", "dora.bezirksintern@example.org"],
            whole: true,
            network: None,
            search: "bezirksintern",
        },
        Private {
            label: "bernd",
            id: bernd.clone(),
            secrets: vec!["Borkenintern", "bernd.borkenintern@example.org"],
            whole: true,
            network: Some(b.clone()),
            search: "borkenintern",
        },
    ];
    // Public for everyone: the person with consent, the mailbox, the name of the unconsented person.
    let public = ["clara.offenbach@example.org", "5555 6666", "bildungsbuero@example.org", "Paul Privatmann"];
    let uuid = |s: &str| uuid::Uuid::parse_str(s).unwrap();
    // Each reader and the private contacts it may see in full.
    let readers: Vec<(&str, Client, Vec<&str>)> = vec![
        ("anonymous", app.anonymous(), vec![]),
        ("admin", admin.clone(), vec!["ingrid", "paul", "dora", "bernd"]),
        ("district 1", app.with_key(&app.key(Role::District, Some(1), vec![])), vec!["ingrid", "paul", "dora"]),
        ("district 5", app.with_key(&app.key(Role::District, Some(5), vec![])), vec!["bernd"]),
        ("editor of A", app.with_key(&app.key(Role::Editor, None, vec![uuid(&a)])), vec!["ingrid", "paul"]),
        ("editor of B", app.with_key(&app.key(Role::Editor, None, vec![uuid(&b)])), vec!["bernd"]),
    ];
    let since = "modifiedSince=2000-01-01T00:00:00Z";
    let mut wrong = Vec::new();
    for (reader, client, sees) in &readers {
        let hidden: Vec<&Private> = private.iter().filter(|p| !sees.contains(&p.label)).collect();
        let seen: Vec<&Private> = private.iter().filter(|p| sees.contains(&p.label)).collect();
        // Every response a reader can get about contacts, and whether it covers network A (so must show
        // A's public contacts).
        let paths: Vec<(String, bool)> = vec![
            ("/v1/contacts?limit=500".to_string(), true),
            (format!("/v1/contacts?network={a}"), true),
            (format!("/v1/contacts?network={b}"), false),
            ("/v1/contacts?network=kreis-mettmann".to_string(), true),
            ("/v1/contacts?district=1".to_string(), true),
            ("/v1/contacts?district=5".to_string(), false),
            ("/v1/contacts?q=intern".to_string(), false),
            (format!("/v1/networks/{a}?expand=contacts"), true),
            (format!("/v1/networks/{b}?expand=contracts,bodies,handlungsfelder,contacts"), false),
            ("/v1/networks?expand=contacts&limit=500".to_string(), true),
            ("/v1/networks?district=5&expand=contracts,bodies,handlungsfelder,contacts".to_string(), false),
            ("/v1/networks/kreis-mettmann/contacts".to_string(), true),
            (format!("/v1/networks/{b}/contacts"), false),
            (format!("/v1/contacts?{since}&limit=500"), true),
            (format!("/v1/networks/{a}/contacts?{since}"), true),
            ("/v1/changes?limit=500".to_string(), true),
            ("/v1/changes?type=contacts".to_string(), true),
            ("/v1/exports/dataset.json".to_string(), true),
            ("/v1/exports/contacts.csv".to_string(), true),
        ];
        let singles: Vec<(String, bool)> = [&ingrid, &paul, &clara, &mailbox, &dora, &bernd]
            .into_iter()
            .map(|id| (format!("/v1/contacts/{id}"), false))
            .collect();
        let responses: Vec<(String, bool, Reply)> = paths
            .into_iter()
            .chain(singles)
            .map(|(path, covers_a)| {
                let reply = client.get(&path);
                (path, covers_a, reply)
            })
            .collect();
        for (path, covers_a, reply) in &responses {
            let text = reply.text();
            if reply.status != 200 && reply.status != 404 {
                wrong.push(format!("{reader}: GET {path} → {} {text}", reply.status));
                continue;
            }
            // The exports are the public dataset for everyone; the rest as the reader may see.
            let not_for_this_reader: Vec<&Private> =
                if path.starts_with("/v1/exports/") { private.iter().collect() } else { hidden.clone() };
            for p in &not_for_this_reader {
                for secret in &p.secrets {
                    if text.to_lowercase().contains(&secret.to_lowercase()) {
                        wrong.push(format!("{reader}: GET {path} shows {} ({secret})", p.label));
                    }
                }
            }
            if *covers_a {
                for public in public {
                    if !text.contains(public) {
                        wrong.push(format!("{reader}: GET {path} lacks public {public}"));
                    }
                }
            }
        }
        let get = |path: &str| responses.iter().find(|(p, _, _)| p == path).map(|(_, _, r)| r.clone()).unwrap();
        let plain = get("/v1/contacts?limit=500").json();
        let modified = get(&format!("/v1/contacts?{since}&limit=500")).json();
        let changes = get("/v1/changes?limit=500").json();
        let entry = |list: &Value, id: &str| -> Option<Value> {
            list["data"].as_array().unwrap().iter().find(|e| e["id"] == id).cloned()
        };
        for p in &hidden {
            let single = get(&format!("/v1/contacts/{}", p.id));
            if p.whole {
                // Internal: a 404, out of plain lists, a tombstone with modifiedSince, deleted in /changes.
                if single.status != 404 {
                    wrong.push(format!("{reader}: GET {} → {}", p.label, single.status));
                }
                if entry(&plain, &p.id).is_some() {
                    wrong.push(format!("{reader}: plain list has {}", p.label));
                }
                match entry(&modified, &p.id) {
                    Some(tombstone) => {
                        let mut keys: Vec<&String> = tombstone.as_object().unwrap().keys().collect();
                        keys.sort();
                        if keys != ["deleted", "id", "updatedAt"] || tombstone["deleted"] != true {
                            wrong.push(format!("{reader}: modifiedSince shows {} as {tombstone}", p.label));
                        }
                    }
                    None => wrong.push(format!("{reader}: modifiedSince has no tombstone for {}", p.label)),
                }
                match entry(&changes, &p.id) {
                    Some(e) if e["deleted"] == true && e.get("data").is_none() => {}
                    other => wrong.push(format!("{reader}: /changes shows {} as {other:?}", p.label)),
                }
                // A search must not tell whether a hidden contact matches it, with or without modifiedSince
                // (else its name could be guessed letter by letter).
                for path in [
                    format!("/v1/contacts?q={}", p.search),
                    format!("/v1/contacts?q={}&{since}", p.search),
                    format!("/v1/contacts?q={}&{since}", &p.search[..4]),
                ] {
                    let reply = client.get(&path);
                    if reply.status != 200 || reply.text().contains(&p.id) {
                        wrong.push(format!("{reader}: GET {path} reveals {}: {}", p.label, reply.text()));
                    }
                }
                if let Some(network) = &p.network {
                    for path in [
                        format!("/v1/networks/{network}?expand=contacts"),
                        format!("/v1/contacts?network={network}"),
                        "/v1/networks?expand=contacts".to_string(),
                    ] {
                        let reply = client.get(&path);
                        if reply.text().contains(&p.id) {
                            wrong.push(format!("{reader}: GET {path} lists {}", p.label));
                        }
                    }
                }
                // A mirror of a filtered list gets the tombstone whatever the filter: selecting tombstones by
                // network or district would tell where the hidden contact is.
                for filter in [format!("network={a}"), format!("network={b}"), "district=1".into(), "district=5".into()]
                {
                    let path = format!("/v1/contacts?{filter}&{since}&limit=500");
                    match entry(&client.get(&path).json(), &p.id) {
                        Some(tombstone) if tombstone["deleted"] == true && tombstone.get("name").is_none() => {}
                        other => wrong.push(format!("{reader}: GET {path} shows {} as {other:?}", p.label)),
                    }
                }
            } else {
                // Unconsented person: there, with e-mail and phone null, everywhere.
                let shown = single.json();
                if single.status != 200
                    || shown["name"] != "Paul Privatmann"
                    || shown["email"] != Value::Null
                    || shown["phone"] != Value::Null
                {
                    wrong.push(format!("{reader}: GET {} → {shown}", p.label));
                }
                for (list, name) in [(&plain, "plain list"), (&modified, "modifiedSince")] {
                    match entry(list, &p.id) {
                        Some(e) if e["email"].is_null() && e["phone"].is_null() && e["name"] == "Paul Privatmann" => {}
                        other => wrong.push(format!("{reader}: {name} shows {} as {other:?}", p.label)),
                    }
                }
                match entry(&changes, &p.id) {
                    Some(e) if e["data"]["email"].is_null() && e["data"]["name"] == "Paul Privatmann" => {}
                    other => wrong.push(format!("{reader}: /changes shows {} as {other:?}", p.label)),
                }
            }
        }
        // What the reader may see, it sees in full everywhere.
        for p in &seen {
            let single = get(&format!("/v1/contacts/{}", p.id));
            let secret_of = |text: &str| p.secrets.iter().all(|s| text.contains(s));
            if single.status != 200 || !secret_of(&single.text()) {
                wrong.push(format!("{reader}: GET {} → {} {}", p.label, single.status, single.text()));
            }
            if single.header("cache-control").is_some_and(|c| c.contains("public")) {
                wrong.push(format!("{reader}: private view of {} is publicly cacheable", p.label));
            }
            for (list, name) in [(&plain, "plain list"), (&modified, "modifiedSince")] {
                match entry(list, &p.id) {
                    Some(e) if secret_of(&e.to_string()) => {}
                    other => wrong.push(format!("{reader}: {name} shows {} as {other:?}", p.label)),
                }
            }
            match entry(&changes, &p.id) {
                Some(e) if e["deleted"] == false && secret_of(&e["data"].to_string()) => {}
                other => wrong.push(format!("{reader}: /changes shows {} as {other:?}", p.label)),
            }
            if let Some(network) = &p.network {
                for path in [
                    format!("/v1/networks/{network}?expand=contacts"),
                    format!("/v1/networks/{network}/contacts"),
                    "/v1/networks?expand=contacts".to_string(),
                ] {
                    if !secret_of(&client.get(&path).text()) {
                        wrong.push(format!("{reader}: GET {path} lacks {}", p.label));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} privacy failures:\n{}", wrong.len(), wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------------------
// Erasure
// ---------------------------------------------------------------------------------------------------

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

/// Every row of every table of the database, as `table: text` lines, read directly (not over HTTP).
fn dump_database(url: &str) -> Vec<String> {
    use diesel::{Connection, RunQueryDsl, sql_query};
    let mut lines = Vec::new();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = diesel::SqliteConnection::establish(path).expect("open the SQLite file");
        let tables: Vec<Line> = sql_query("SELECT name AS line FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .load(&mut conn)
            .unwrap();
        assert!(tables.iter().any(|t| t.line == "contacts"), "no contacts table");
        for table in tables {
            let columns: Vec<Line> = sql_query(format!("SELECT name AS line FROM pragma_table_info('{}')", table.line))
                .load(&mut conn)
                .unwrap();
            let row = columns
                .iter()
                .map(|c| format!("COALESCE(CAST(\"{}\" AS TEXT), '')", c.line))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            let rows: Vec<Line> =
                sql_query(format!("SELECT {row} AS line FROM \"{}\"", table.line)).load(&mut conn).unwrap();
            lines.extend(rows.into_iter().map(|r| format!("{}: {}", table.line, r.line)));
        }
    } else {
        let mut conn = diesel::PgConnection::establish(url).expect("connect to PostgreSQL");
        let tables: Vec<Line> = sql_query(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS line \
             FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') \
             ORDER BY 1",
        )
        .load(&mut conn)
        .unwrap();
        assert!(tables.iter().any(|t| t.line.ends_with(".contacts")), "no contacts table");
        for table in tables {
            let rows: Vec<Line> =
                sql_query(format!("SELECT t::text AS line FROM {} t", table.line)).load(&mut conn).unwrap();
            lines.extend(rows.into_iter().map(|r| format!("{}: {}", table.line, r.line)));
        }
    }
    lines
}

fn lines_containing<'a>(lines: &'a [String], needles: &[&str]) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|l| {
            let l = l.to_lowercase();
            needles.iter().any(|n| l.contains(&n.to_lowercase()))
        })
        .collect()
}

fn erasure_leaves_no_personal_data_anywhere(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = id_of(&admin.create("networks", &network_body("kreis-mettmann", "05158")));
    let body =
        id_of(&admin.create(
            "bodies",
            &json!({"networkId": network, "type": "bildungsbuero", "name": "Regionales Bildungsbüro"}),
        ));
    // A neighbour that stays, to show the dump sees contacts at all.
    admin.create(
        "contacts",
        &json!({"networkId": network, "name": "Bleibt Hiergeblieben", "email": "bleibt@example.org"}),
    );
    let person = admin.create(
        "contacts",
        &json!({
            "networkId": network, "bodyId": body, "name": "Zacharias Quuxenbach", "function": "Leitung",
            "organisation": "Kreis Mettmann", "email": "zacharias.quuxenbach@example.org",
            "phone": "+49 2104 1357 2468", "isPerson": true, "publicationConsent": false,
            "address": {"street": "Quuxenbachweg 7", "postalCode": "40822", "city": "Mettmann"}
        }),
    );
    let id = id_of(&person);
    let path = format!("/v1/contacts/{id}");
    // Changed values must go too: the old e-mail and phone, the old name.
    let patched = admin.patch(
        &path,
        &admin.get(&path).etag(),
        &json!({"name": "Zacharias Quuxenbach-Neu", "email": "z.quuxenbach@example.org", "phone": "+49 2104 8642 9753"}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    let personal = [
        "Quuxenbach",
        "zacharias.quuxenbach@example.org",
        "z.quuxenbach@example.org",
        "1357 2468",
        "8642 9753",
        "Quuxenbachweg",
    ];
    // The dump finds the person while it exists (so its silence afterwards means something).
    let before = dump_database(&app.database.url);
    assert!(!lines_containing(&before, &["Quuxenbach"]).is_empty(), "the dump does not see the contact");
    let deleted = admin.delete(&path, &patched.etag());
    assert_eq!(deleted.status, 204, "{}", deleted.text());

    let after = dump_database(&app.database.url);
    assert!(!lines_containing(&after, &["Hiergeblieben"]).is_empty(), "the dump does not see the remaining contact");
    let left = lines_containing(&after, &personal);
    assert!(left.is_empty(), "personal data left in the database:\n{left:#?}");

    // Over HTTP: gone, a tombstone without personal data, audit entries with field names only.
    admin.get(&path).problem(404);
    for client in [&admin, &app.anonymous()] {
        let modified = client.get("/v1/contacts?modifiedSince=2000-01-01T00:00:00Z&limit=500");
        let tombstone = data(&modified).into_iter().find(|e| e["id"] == id.as_str()).expect("a tombstone");
        assert_eq!(tombstone.as_object().unwrap().keys().collect::<Vec<_>>(), ["id", "deleted", "updatedAt"]);
        assert_eq!(tombstone["deleted"], true);
        let changes = client.get("/v1/changes?limit=500");
        let entry = data(&changes).into_iter().find(|e| e["id"] == id.as_str()).expect("a change entry");
        assert_eq!(entry["deleted"], true);
        assert!(entry.get("data").is_none(), "{entry}");
        for reply in [&modified, &changes] {
            assert!(lines_containing(&[reply.text()], &personal).is_empty(), "{}", reply.text());
        }
    }
    let audit = admin.get(&format!("/v1/audit?resourceId={id}"));
    let entries = data(&audit);
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "patch", "delete"]);
    assert!(
        lines_containing(&[admin.get("/v1/audit?limit=500").text()], &personal).is_empty(),
        "the audit log holds personal data"
    );
    let mut patched_fields: Vec<&str> =
        entries[1]["changedFields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    patched_fields.sort();
    assert_eq!(patched_fields, ["email", "name", "phone"]);
}

// ---------------------------------------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------------------------------------

fn key_id(admin: &Client, name: &str) -> String {
    let keys = data(&admin.get("/v1/api-keys"));
    id_of(keys.iter().find(|k| k["name"] == name).unwrap_or_else(|| panic!("no key named {name}")))
}

fn audit_log_records_who_what_and_field_names_only(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let district = app.with_key(&app.key(Role::District, Some(1), vec![]));
    let admin_id = key_id(&admin, "test admin");
    let district_id = key_id(&admin, "test district");

    // Writes of several kinds, by two keys, one with the client's request id.
    let created = admin.send(
        "POST",
        "/v1/networks",
        &[("Content-Type", "application/json"), ("X-Request-Id", "test-123")],
        Some(network_body("kreis-mettmann", "05158").to_string().as_bytes()),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("x-request-id"), Some("test-123"));
    let network = id_of(&created.json());
    let network_path = format!("/v1/networks/{network}");
    let patched =
        district.patch(&network_path, &created.etag(), &json!({"website": "https://www.kreis-mettmann.de/bildung"}));
    assert_eq!(patched.status, 200, "{}", patched.text());
    let hf = id_of(&admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"})));
    let linked =
        district.send("PUT", &format!("{network_path}/handlungsfelder/{hf}"), &[("If-Match", &patched.etag())], None);
    assert_eq!(linked.status, 200, "{}", linked.text());
    let contact = district.create(
        "contacts",
        &json!({
            "networkId": network, "name": "Anna Auditfrei", "email": "anna.auditfrei@example.org",
            "phone": "+49 2104 2468 1357", "isPerson": true
        }),
    );
    let contact_id = id_of(&contact);
    let contact_path = format!("/v1/contacts/{contact_id}");
    let contact_patched =
        district.patch(&contact_path, &admin.get(&contact_path).etag(), &json!({"email": "anna.neu@example.org"}));
    assert_eq!(contact_patched.status, 200, "{}", contact_patched.text());
    assert_eq!(district.delete(&contact_path, &contact_patched.etag()).status, 204);
    // A refused write leaves no trace.
    let other = app.with_key(&app.key(Role::District, Some(5), vec![]));
    other.patch(&network_path, &linked.etag(), &json!({"status": "inactive"})).problem(403);

    let all = admin.all("/v1/audit?limit=500");
    let writes: Vec<&Value> = all.iter().filter(|e| e["resourceType"] != "api-keys").collect();
    let summary: Vec<(String, String)> = writes
        .iter()
        .map(|e| (e["resourceType"].as_str().unwrap().to_string(), e["action"].as_str().unwrap().to_string()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("networks", "create"),
        ("networks", "patch"),
        ("handlungsfelder", "create"),
        ("networks", "link"),
        ("contacts", "create"),
        ("contacts", "patch"),
        ("contacts", "delete"),
    ]
    .iter()
    .map(|(t, a)| (t.to_string(), a.to_string()))
    .collect();
    assert_eq!(summary, expected, "{all:#?}");
    // Filters: by type (API keys too) and by time.
    let keys = admin.all("/v1/audit?resourceType=api-keys");
    assert!(!keys.is_empty() && keys.iter().all(|e| e["resourceType"] == "api-keys"), "{keys:#?}");
    assert_eq!(admin.get("/v1/audit?resourceType=sitzungen").error_fields(), ["resourceType"]);
    let since = writes[4]["at"].as_str().unwrap().replace('+', "%2B");
    let recent = admin.all(&format!("/v1/audit?modifiedSince={since}&resourceType=contacts"));
    let actions: Vec<&str> = recent.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "patch", "delete"]);
    assert!(admin.all("/v1/audit?modifiedSince=2099-01-01T00:00:00Z").is_empty());

    // The shape of an entry, and who, when, which request.
    let first = writes[0];
    let mut keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["action", "at", "changedFields", "id", "keyId", "keyName", "requestId", "resourceId", "resourceType"]
    );
    assert_eq!(first["requestId"], "test-123");
    assert_eq!(first["keyId"], admin_id.as_str());
    assert_eq!(first["keyName"], "test admin");
    assert_eq!(first["resourceId"], network.as_str());
    assert!(first["at"].as_str().unwrap().ends_with('Z'));
    assert!(
        writes[1]["requestId"].as_str().is_some_and(|r| !r.is_empty() && r != "test-123"),
        "every write has a request id"
    );
    assert_eq!(writes[1]["keyId"], district_id.as_str());
    assert_eq!(writes[1]["keyName"], "test district");
    assert_eq!(writes[1]["changedFields"], json!(["website"]));
    assert_eq!(writes[3]["changedFields"], json!(["handlungsfeldIds"]));
    assert_eq!(writes[5]["changedFields"], json!(["email"]));
    // Field names, never the values.
    let text = admin.get("/v1/audit?limit=500").text();
    for value in ["Auditfrei", "anna.auditfrei@example.org", "anna.neu@example.org", "2468 1357", "kreis-mettmann.de"] {
        assert!(!text.contains(value), "the audit log holds {value}: {text}");
    }

    // Filters, alone and combined (AND).
    let ids = |path: &str| -> Vec<String> {
        admin
            .all(path)
            .iter()
            .map(|e| format!("{} {}", e["resourceType"].as_str().unwrap(), e["action"].as_str().unwrap()))
            .collect()
    };
    assert_eq!(ids(&format!("/v1/audit?resourceId={network}")), ["networks create", "networks patch", "networks link"]);
    assert_eq!(ids("/v1/audit?resourceType=contacts"), ["contacts create", "contacts patch", "contacts delete"]);
    assert_eq!(
        ids(&format!("/v1/audit?keyId={district_id}")),
        ["networks patch", "networks link", "contacts create", "contacts patch", "contacts delete"]
    );
    assert_eq!(ids("/v1/audit?action=patch"), ["networks patch", "contacts patch"]);
    assert_eq!(ids(&format!("/v1/audit?resourceType=networks&action=patch&keyId={district_id}")), ["networks patch"]);
    assert!(ids(&format!("/v1/audit?resourceType=networks&keyId={admin_id}&action=delete")).is_empty());
    assert_eq!(admin.get("/v1/audit?resourceType=planets&colour=red").error_fields().len(), 2);

    // Paging: pages of 2 with links.next and a Link header; together exactly the whole log, in order.
    let first_page = admin.get("/v1/audit?limit=2");
    assert_eq!(data(&first_page).len(), 2);
    assert!(first_page.header("link").is_some_and(|l| l.contains("rel=\"next\"")));
    let paged = admin.all("/v1/audit?limit=2");
    assert_eq!(paged, all);
    let paged_filtered = admin.all(&format!("/v1/audit?keyId={district_id}&limit=1"));
    assert_eq!(paged_filtered.len(), 5);

    // Only admins read it.
    app.anonymous().get("/v1/audit").problem(401);
    district.get("/v1/audit").problem(403);
    other.get("/v1/audit").problem(403);
    app.with_key(&app.key(Role::Editor, None, vec![uuid::Uuid::parse_str(&network).unwrap()]))
        .get("/v1/audit")
        .problem(403);
}

// ---------------------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------------------

fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn api_keys_are_shown_once_listed_without_secrets_and_revocable(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = id_of(&admin.create("networks", &network_body("kreis-mettmann", "05158")));
    let network_path = format!("/v1/networks/{network}");

    // Created over HTTP: 201, the secret once, not cacheable.
    let created = admin.post(
        "/v1/api-keys",
        &json!({"name": "Bildungsbüro Kreis Mettmann", "role": "editor", "networkIds": [network]}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let key = created.json();
    let secret = key["secret"].as_str().unwrap().to_string();
    let id = id_of(&key);
    assert_eq!(created.header("location"), Some(format!("/v1/api-keys/{id}").as_str()));
    assert_eq!(key["role"], "editor");
    assert_eq!(key["networkIds"], json!([network]));
    // ≥ 128 bits: more than 22 characters of base64 after the prefix.
    assert!(secret.len() >= 4 + 22, "{secret}");
    assert!(secret.starts_with(key["prefix"].as_str().unwrap()));
    let district = admin
        .post("/v1/api-keys", &json!({"name": "Bezirksregierung Düsseldorf", "role": "district", "districtKey": 1}));
    assert_eq!(district.status, 201, "{}", district.text());
    let district_secret = district.json()["secret"].as_str().unwrap().to_string();
    assert_ne!(district_secret, secret);
    // Invalid keys are refused with every field named.
    let mut fields = admin.post("/v1/api-keys", &json!({"role": "editor", "districtKey": 2})).error_fields();
    fields.sort();
    assert_eq!(fields, ["districtKey", "name", "networkIds"]);

    // The new key works, within its scope.
    let editor = app.with_key(&secret);
    let patched =
        editor.patch(&network_path, &admin.get(&network_path).etag(), &json!({"description": "vom Bildungsbüro"}));
    assert_eq!(patched.status, 200, "{}", patched.text());
    let other = id_of(&admin.create("networks", &network_body("kreis-borken", "05554")));
    let other_path = format!("/v1/networks/{other}");
    editor.patch(&other_path, &admin.get(&other_path).etag(), &json!({"description": "x"})).problem(403);

    // The list shows no secret and no hash, of any key.
    let listed = admin.get("/v1/api-keys");
    let text = listed.text();
    for (name, s) in [("editor", &secret), ("district", &district_secret), ("admin", &app.admin_key)] {
        assert!(!text.contains(s.as_str()), "the list shows the {name} secret");
        assert!(!text.contains(&sha256_hex(s)), "the list shows the {name} hash");
    }
    let keys = data(&listed);
    assert!(keys.len() >= 3);
    for k in &keys {
        assert!(k.get("secret").is_none() && k.get("secretHash").is_none() && k.get("hash").is_none(), "{k}");
    }
    let listed_key = keys.iter().find(|k| k["id"] == id.as_str()).unwrap();
    assert_eq!(listed_key["name"], "Bildungsbüro Kreis Mettmann");
    assert_eq!(listed_key["revokedAt"], Value::Null);
    // Nor is the secret stored: only its hash is in the database.
    let dump = dump_database(&app.database.url);
    assert!(lines_containing(&dump, &[&secret]).is_empty(), "the secret is stored");
    assert!(!lines_containing(&dump, &[&sha256_hex(&secret)]).is_empty(), "the hash is not stored");

    // Only admins manage keys.
    app.anonymous().get("/v1/api-keys").problem(401);
    editor.get("/v1/api-keys").problem(403);
    app.with_key(&district_secret).get("/v1/api-keys").problem(403);
    app.with_key(&district_secret).post("/v1/api-keys", &json!({"name": "x", "role": "admin"})).problem(403);
    editor.send("DELETE", &format!("/v1/api-keys/{id}"), &[], None).problem(403);

    // Revoked: 401 at once, for writes and reads; the list shows when.
    let revoked = admin.send("DELETE", &format!("/v1/api-keys/{id}"), &[], None);
    assert_eq!(revoked.status, 204, "{}", revoked.text());
    editor.patch(&network_path, &admin.get(&network_path).etag(), &json!({"description": "zu spät"})).problem(401);
    editor.get("/v1/networks").problem(401);
    let keys = data(&admin.get("/v1/api-keys"));
    let listed_key = keys.iter().find(|k| k["id"] == id.as_str()).unwrap();
    assert!(listed_key["revokedAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    admin.send("DELETE", &format!("/v1/api-keys/{}", uuid::Uuid::now_v7()), &[], None).problem(404);
    // The other key still works.
    assert_eq!(app.with_key(&district_secret).get("/v1/networks").status, 200);
    // Key management is audited, without secrets.
    let audit = admin.get(&format!("/v1/audit?resourceId={id}"));
    let actions: Vec<String> = data(&audit).iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions, ["create", "revoke"]);
    assert!(!audit.text().contains(&secret));
}

fn expired_keys_are_refused(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = id_of(&admin.create("networks", &network_body("kreis-mettmann", "05158")));
    let path = format!("/v1/networks/{network}");

    // Expired an hour ago.
    let input = ApiKeyInput {
        name: "expired".into(),
        role: Role::Admin,
        district_key: None,
        network_ids: vec![],
        expires_at: Some(Timestamp(chrono::Utc::now() - chrono::Duration::hours(1))),
    };
    let expired = app.db.create_key(&input, &Actor::default()).unwrap().secret;
    let client = app.with_key(&expired);
    client.get("/v1/networks").problem(401);
    let before = snapshot(&admin);
    client.patch(&path, &admin.get(&path).etag(), &json!({"description": "abgelaufen"})).problem(401);
    assert_eq!(before, snapshot(&admin));

    // Created over HTTP to expire in 2 seconds: works now, 401 afterwards.
    let expires_at =
        (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let created = admin.post(
        "/v1/api-keys",
        &json!({"name": "kurzlebig", "role": "district", "districtKey": 1, "expiresAt": expires_at}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(created.json()["expiresAt"].as_str().is_some());
    let short = app.with_key(created.json()["secret"].as_str().unwrap());
    let patched = short.patch(&path, &admin.get(&path).etag(), &json!({"description": "noch gültig"}));
    assert_eq!(patched.status, 200, "{}", patched.text());
    std::thread::sleep(std::time::Duration::from_millis(3000));
    short.patch(&path, &patched.etag(), &json!({"description": "abgelaufen"})).problem(401);
    short.get("/v1/networks").problem(401);
    assert_eq!(admin.get(&path).json()["description"], "noch gültig");
}

// ---------------------------------------------------------------------------------------------------
// Failed authentication
// ---------------------------------------------------------------------------------------------------

fn repeated_authentication_failures_are_answered_with_429(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = id_of(&admin.create("networks", &network_body("kreis-mettmann", "05158")));
    let path = format!("/v1/networks/{network}");
    let etag = admin.get(&path).etag();
    let guesser = app.with_key("rbn_guessed-0000000000000000000000000000000000");
    // Ten failures within the minute are each a 401 (reads and writes alike)…
    for attempt in 0..10 {
        let reply = if attempt % 2 == 0 {
            guesser.get("/v1/networks")
        } else {
            guesser.patch(&path, &etag, &json!({"description": "geraten"}))
        };
        assert_eq!(reply.status, 401, "attempt {attempt}: {}", reply.text());
        reply.problem(401);
    }
    // …then the client is slowed down: 429 with Retry-After, also for other malformed headers.
    let blocked = guesser.get("/v1/networks");
    blocked.problem(429);
    let retry_after: u64 = blocked.header("retry-after").expect("Retry-After").parse().expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let malformed = app.anonymous().send("GET", "/v1/networks", &[("Authorization", "Basic Zm9vOmJhcg==")], None);
    malformed.problem(429);
    // Nothing was written, and anonymous reads (no Authorization header) are still served.
    let anonymous = app.anonymous().get(&path);
    assert_eq!(anonymous.status, 200, "{}", anonymous.text());
    assert_eq!(anonymous.json()["description"], Value::Null);
}

// ---------------------------------------------------------------------------------------------------
// Hostile input to access (issue 11)
// ---------------------------------------------------------------------------------------------------

fn only_admins_and_district_keys_of_both_regions_move_a_network(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let a = id_of(&admin.create("networks", &network_body("kreis-mettmann", "05158")));
    let path = format!("/v1/networks/{a}");
    let uuid = uuid::Uuid::parse_str(&a).unwrap();
    let editor = app.with_key(&app.key(Role::Editor, None, vec![uuid]));
    let district_1 = app.with_key(&app.key(Role::District, Some(1), vec![]));
    let district_3 = app.with_key(&app.key(Role::District, Some(3), vec![]));
    let etag = || admin.get(&path).etag();
    let refused = |what: &str, reply: Reply| {
        assert_eq!(reply.status, 403, "{what}: {}", reply.text());
        reply.problem(403);
        assert_eq!(admin.get(&path).json()["regionKey"], "05158", "{what}: moved");
    };

    // The network's editor: neither into another Regierungsbezirk nor within its own, by PATCH or PUT.
    refused("editor to 05362 (district 3)", editor.patch(&path, &etag(), &json!({"regionKey": "05362"})));
    refused("editor to 05162 (district 1)", editor.patch(&path, &etag(), &json!({"regionKey": "05162"})));
    let current = admin.get(&path);
    let moved = replacement(&current.json(), json!({"regionKey": "05362"}));
    refused("editor replaces into 05362", editor.put(&path, &current.etag(), &moved));
    // A district key covers the old region only, or the new one only.
    refused("district 1 to 05362", district_1.patch(&path, &etag(), &json!({"regionKey": "05362"})));
    refused("district 3 to 05362", district_3.patch(&path, &etag(), &json!({"regionKey": "05362"})));
    // The editor still edits everything else, also with the region given unchanged.
    let edited = editor.patch(&path, &etag(), &json!({"description": "Bildung im Kreis", "regionKey": "05158"}));
    assert_eq!(edited.status, 200, "{}", edited.text());
    let current = admin.get(&path);
    let same = replacement(&current.json(), json!({"name": "RBN Kreis Mettmann"}));
    assert_eq!(editor.put(&path, &current.etag(), &same).status, 200);

    // A district key of both regions, and an admin, may.
    let within = district_1.patch(&path, &etag(), &json!({"regionKey": "05162"}));
    assert_eq!(within.status, 200, "{}", within.text());
    let across = admin.patch(&path, &etag(), &json!({"regionKey": "05362"}));
    assert_eq!(across.status, 200, "{}", across.text());
    assert_eq!(admin.get(&path).json()["regionKey"], "05362");
}

fn api_key_input_is_validated(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = id_of(&admin.create("networks", &network_body("kreis-mettmann", "05158")));
    let keys_before = data(&admin.get("/v1/api-keys")).len();
    let refused = |body: Value, field: &str| {
        let reply = admin.post("/v1/api-keys", &body);
        assert_eq!(reply.error_fields(), [field], "{body}: {}", reply.text());
    };
    // Past the end of year 9999 in UTC: not representable in RFC 3339.
    refused(json!({"name": "k", "role": "admin", "expiresAt": "9999-12-31T23:59:59-23:59"}), "expiresAt");
    // In the past: the key would be dead on arrival.
    refused(json!({"name": "k", "role": "admin", "expiresAt": "2020-01-01T00:00:00Z"}), "expiresAt");
    let an_hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    refused(json!({"name": "k", "role": "admin", "expiresAt": an_hour_ago}), "expiresAt");
    refused(json!({"name": "k", "role": "admin", "expiresAt": "morgen"}), "expiresAt");
    // Networks that do not exist.
    let nowhere = uuid::Uuid::now_v7().to_string();
    refused(json!({"name": "k", "role": "editor", "networkIds": [nowhere]}), "networkIds[0]");
    let reply = admin.post("/v1/api-keys", &json!({"name": "k", "role": "editor", "networkIds": [network, nowhere]}));
    assert_eq!(reply.error_fields(), ["networkIds[1]"], "{}", reply.text());
    assert_eq!(data(&admin.get("/v1/api-keys")).len(), keys_before, "no key was created");

    // What is valid still is, and is listed as RFC 3339 UTC.
    let created = admin.post(
        "/v1/api-keys",
        &json!({"name": "k", "role": "editor", "networkIds": [network], "expiresAt": "9999-12-31T23:59:59+01:00"}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["expiresAt"], "9999-12-31T22:59:59.000000Z");
    let listed = data(&admin.get("/v1/api-keys"));
    for key in &listed {
        if let Some(at) = key["expiresAt"].as_str() {
            assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
        }
    }
}

fn revoking_a_revoked_key_keeps_the_first_revocation(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let created = admin.post("/v1/api-keys", &json!({"name": "k", "role": "district", "districtKey": 1}));
    assert_eq!(created.status, 201, "{}", created.text());
    let id = id_of(&created.json());
    let revoked_at = |admin: &Client| {
        let keys = data(&admin.get("/v1/api-keys"));
        let key = keys.iter().find(|k| k["id"] == id.as_str()).unwrap().clone();
        (key["revokedAt"].clone(), key["updatedAt"].clone())
    };
    assert_eq!(admin.send("DELETE", &format!("/v1/api-keys/{id}"), &[], None).status, 204);
    let first = revoked_at(&admin);
    assert!(first.0.is_string());
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(admin.send("DELETE", &format!("/v1/api-keys/{id}"), &[], None).status, 204);
    assert_eq!(revoked_at(&admin), first, "the second revocation changed the key");
    let audit = admin.get(&format!("/v1/audit?resourceId={id}"));
    let actions: Vec<String> = data(&audit).iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions, ["create", "revoke"], "one revocation");
}
