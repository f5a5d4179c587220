//! Every resource's full life cycle and its error cases, on SQLite and PostgreSQL.

mod common;

use common::{Backend, Client, network_body, spawn_app};
use serde_json::{Value, json};

backend_tests!(
    reference_data_is_there,
    network_life_cycle,
    network_validation_reports_every_field,
    network_uniqueness,
    network_delete_is_refused_while_it_has_records,
    contract_life_cycle,
    contract_references_must_exist,
    body_life_cycle,
    handlungsfeld_life_cycle,
    contact_life_cycle,
    lists_page_filter_and_refuse_unknown_parameters,
    expand_embeds_related_records,
    expand_on_the_network_list_embeds_each_networks_records,
    umlauts_round_trip,
);

fn create_network(client: &Client, slug: &str, region: &str) -> Value {
    client.create("networks", &network_body(slug, region))
}

fn reference_data_is_there(backend: Backend) {
    let app = spawn_app(&backend);
    let anon = app.anonymous();
    let regions = anon.get("/v1/regions").json();
    let regions = regions["data"].as_array().unwrap();
    assert_eq!(regions.len(), 53);
    let mettmann = regions.iter().find(|r| r["key"] == "05158").unwrap();
    assert_eq!(mettmann["name"], "Kreis Mettmann");
    assert_eq!(mettmann["ars"], "051580000000");
    assert_eq!(mettmann["districtKey"], 1);
    assert_eq!(anon.get("/v1/regions?district=5").json()["data"].as_array().unwrap().len(), 8);
    let districts = anon.get("/v1/districts").json();
    let keys: Vec<i64> = districts["data"].as_array().unwrap().iter().map(|d| d["key"].as_i64().unwrap()).collect();
    assert_eq!(keys, [1, 3, 5, 7, 9]);
    assert_eq!(anon.get("/v1/districts/5").json()["name"], "Münster");
    assert_eq!(anon.get("/v1/regions/05334").json()["kind"], "staedteregion");
    anon.get("/v1/regions/99999").problem(404);
    anon.get("/v1/districts/2").problem(404);
    // Reference data is read-only.
    app.admin().post("/v1/regions", &json!({})).problem(405);
}

fn network_life_cycle(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let created = admin.post(
        "/v1/networks",
        &json!({
            "slug": "kreis-mettmann", "name": "Regionales Bildungsnetzwerk Kreis Mettmann", "regionKey": "05158",
            "website": "https://www.kreis-mettmann.de/bildung"
        }),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let network = created.json();
    let id = network["id"].as_str().unwrap().to_string();
    assert_eq!(created.header("location"), Some(format!("/v1/networks/{id}").as_str()));
    assert_eq!(network["status"], "active");
    assert_eq!(network["foundedOn"], Value::Null);
    assert!(network["createdAt"].as_str().unwrap().ends_with('Z'));

    // Read by id and by slug: the same representation and ETag.
    let by_id = admin.get(&format!("/v1/networks/{id}"));
    let by_slug = admin.get("/v1/networks/kreis-mettmann");
    assert_eq!(by_id.json(), network);
    assert_eq!(by_id.etag(), by_slug.etag());
    assert_eq!(by_id.etag(), created.etag());

    // Replace: all writable fields; absent optional ones are cleared.
    let replaced = admin.put(
        &format!("/v1/networks/{id}"),
        &by_id.etag(),
        &json!({
            "slug": "kreis-mettmann", "name": "RBN Kreis Mettmann", "regionKey": "05158", "status": "inactive"
        }),
    );
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_eq!(replaced.json()["website"], Value::Null);
    assert_eq!(replaced.json()["status"], "inactive");
    assert_ne!(replaced.etag(), by_id.etag());

    // Merge patch: absent stays, null clears, required fields cannot be nulled.
    let patched = admin.patch(
        &format!("/v1/networks/{id}"),
        &replaced.etag(),
        &json!({"description": "Bildung im Kreis", "status": "active"}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(patched.json()["name"], "RBN Kreis Mettmann");
    assert_eq!(patched.json()["description"], "Bildung im Kreis");
    let cleared = admin.patch(&format!("/v1/networks/{id}"), &patched.etag(), &json!({"description": null}));
    assert_eq!(cleared.json()["description"], Value::Null);
    let refused = admin.patch(&format!("/v1/networks/{id}"), &cleared.etag(), &json!({"name": null}));
    assert_eq!(refused.error_fields(), ["name"]);

    // Listed, then deleted: 204, then 404.
    let list = admin.get("/v1/networks").json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(admin.delete(&format!("/v1/networks/{id}"), &cleared.etag()).status, 204);
    admin.get(&format!("/v1/networks/{id}")).problem(404);
    admin.get("/v1/networks/kreis-mettmann").problem(404);
    admin.delete(&format!("/v1/networks/{id}"), &cleared.etag()).problem(404);
}

fn network_validation_reports_every_field(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let reply = admin.post(
        "/v1/networks",
        &json!({
            "slug": "Kreis Mettmann", "name": "", "regionKey": "5158", "status": "gone",
            "website": "javascript:alert(1)", "colour": "red"
        }),
    );
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["colour", "name", "regionKey", "slug", "status", "website"]);
    // A well-formed Kreisschlüssel that names no region is a 400 naming the field, not a 500.
    assert_eq!(admin.post("/v1/networks", &network_body("nowhere", "05999")).error_fields(), ["regionKey"]);
    // Wrong JSON types, malformed JSON, non-objects, an empty body.
    assert_eq!(
        admin.post("/v1/networks", &json!({"slug": 5, "name": ["x"], "regionKey": "05158"})).error_fields(),
        ["slug", "name"]
    );
    admin.send("POST", "/v1/networks", &[("Content-Type", "application/json")], Some(b"{\"slug\": ")).problem(400);
    admin.send("POST", "/v1/networks", &[("Content-Type", "application/json")], Some(b"[1,2]")).problem(400);
    admin.send("POST", "/v1/networks", &[("Content-Type", "application/json")], Some(b"")).problem(400);
    admin
        .send("POST", "/v1/networks", &[("Content-Type", "application/json")], Some(b"{\"slug\":\"a\",\"slug\":\"b\"}"))
        .problem(400);
    // Media types and sizes.
    admin.send("POST", "/v1/networks", &[("Content-Type", "text/plain")], Some(b"{}")).problem(415);
    admin.send("POST", "/v1/networks", &[], Some(b"{}")).problem(415);
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(400 * 1024));
    admin.send("POST", "/v1/networks", &[("Content-Type", "application/json")], Some(huge.as_bytes())).problem(413);
    // Overlong fields.
    let long = admin.post("/v1/networks", &json!({"slug": "a", "name": "n".repeat(301), "regionKey": "05158"}));
    assert_eq!(long.error_fields(), ["name"]);
    assert!(admin.get("/v1/networks").json()["data"].as_array().unwrap().is_empty(), "nothing was written");
}

fn network_uniqueness(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    create_network(&admin, "kreis-mettmann", "05158");
    let same_slug = admin.post("/v1/networks", &network_body("kreis-mettmann", "05162"));
    assert!(same_slug.problem(409)["detail"].as_str().unwrap().contains("slug"));
    let same_region = admin.post("/v1/networks", &network_body("mettmann-zwei", "05158"));
    assert!(same_region.problem(409)["detail"].as_str().unwrap().contains("05158"));
    // A slug that looks like a UUID would make /v1/networks/{id} ambiguous.
    let uuid_slug = admin.post("/v1/networks", &network_body("0190b7e2-3c4d-7a1b-9f00-1234567890ab", "05162"));
    assert_eq!(uuid_slug.error_fields(), ["slug"]);
}

fn network_delete_is_refused_while_it_has_records(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = create_network(&admin, "kreis-kleve", "05154");
    let id = network["id"].as_str().unwrap();
    let body = admin.create("bodies", &json!({"networkId": id, "type": "lenkungskreis", "name": "Lenkungsgruppe"}));
    let etag = admin.get(&format!("/v1/networks/{id}")).etag();
    let refused = admin.delete(&format!("/v1/networks/{id}"), &etag);
    let detail = refused.problem(409)["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("1 body"), "{detail}");
    assert_eq!(admin.get(&format!("/v1/networks/{id}")).status, 200, "nothing was deleted");
    let body_path = format!("/v1/bodies/{}", body["id"].as_str().unwrap());
    let body_etag = admin.get(&body_path).etag();
    assert_eq!(admin.delete(&body_path, &body_etag).status, 204);
    assert_eq!(admin.delete(&format!("/v1/networks/{id}"), &etag).status, 204);
}

fn contract_life_cycle(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = create_network(&admin, "stadt-muenster", "05515");
    let id = network["id"].as_str().unwrap();
    let inklusion =
        admin.create("handlungsfelder", &json!({"slug": "schulische-inklusion", "name": "Schulische Inklusion"}));
    let founding = admin.create("contracts", &json!({"networkId": id, "kind": "founding", "signedOn": "2008"}));
    assert_eq!(founding["signedOn"], "2008");
    let resumption = admin.create(
        "contracts",
        &json!({
            "networkId": id, "kind": "resumption", "signedOn": "2022",
            "signatories": [{"name": "Dorothee Feller", "role": "Ministerin für Schule und Bildung", "party": "land"}],
            "handlungsfeldIds": [inklusion["id"]], "notes": "Wiederaufnahme des Vertrags"
        }),
    );
    assert_eq!(resumption["signatories"][0]["party"], "land");
    assert_eq!(resumption["handlungsfeldIds"], json!([inklusion["id"]]));
    // foundedOn derives from the founding contract, as precisely as it is known.
    assert_eq!(admin.get(&format!("/v1/networks/{id}")).json()["foundedOn"], "2008");
    let path = format!("/v1/contracts/{}", founding["id"].as_str().unwrap());
    let etag = admin.get(&path).etag();
    let patched = admin.patch(&path, &etag, &json!({"signedOn": "2008-05"}));
    assert_eq!(patched.json()["signedOn"], "2008-05");
    assert_eq!(admin.get(&format!("/v1/networks/{id}")).json()["foundedOn"], "2008-05");
    // Nested and filtered lists.
    assert_eq!(admin.get(&format!("/v1/networks/{id}/contracts")).json()["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        admin.get("/v1/networks/stadt-muenster/contracts?kind=resumption").json()["data"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        admin.get(&format!("/v1/contracts?network={id}&kind=founding")).json()["data"].as_array().unwrap().len(),
        1
    );
    // A Handlungsfeld named by a contract cannot be deleted.
    let hf_path = format!("/v1/handlungsfelder/{}", inklusion["id"].as_str().unwrap());
    let hf_etag = admin.get(&hf_path).etag();
    admin.delete(&hf_path, &hf_etag).problem(409);
    // Replace and delete.
    let replaced =
        admin.put(&path, &patched.etag(), &json!({"networkId": id, "kind": "founding", "signedOn": "2008-05-01"}));
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_eq!(admin.delete(&path, &replaced.etag()).status, 204);
    // Without a founding contract, the earliest known date of any contract.
    assert_eq!(admin.get(&format!("/v1/networks/{id}")).json()["foundedOn"], "2022");
}

fn contract_references_must_exist(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let reply = admin.post(
        "/v1/contracts",
        &json!({
            "networkId": "0190b7e2-3c4d-7a1b-9f00-1234567890ab", "kind": "founding",
            "handlungsfeldIds": ["0190b7e2-3c4d-7a1b-9f00-1234567890ac"]
        }),
    );
    assert_eq!(reply.error_fields(), ["networkId", "handlungsfeldIds[0]"]);
    let bad = admin.post(
        "/v1/contracts",
        &json!({
            "networkId": "not-a-uuid", "kind": "treaty", "signedOn": "2019-13",
            "signatories": [{"name": "X", "party": "bund"}], "documentUrl": "ftp://x"
        }),
    );
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, ["documentUrl", "kind", "networkId", "signatories[0].party", "signedOn"]);
}

fn body_life_cycle(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = create_network(&admin, "kreis-mettmann", "05158");
    let other = create_network(&admin, "kreis-kleve", "05154");
    let id = network["id"].as_str().unwrap();
    let body = admin.create(
        "bodies",
        &json!({
            "networkId": id, "type": "bildungsbuero", "name": "Regionales Bildungsbüro",
            "address": {"street": "Düsseldorfer Straße 26", "postalCode": "40822", "city": "Mettmann"},
            "email": "bildungsbuero@kreis-mettmann.example", "phone": "+49 2104 99 0"
        }),
    );
    assert_eq!(body["type"], "bildungsbuero");
    assert_eq!(body["address"]["city"], "Mettmann");
    let path = format!("/v1/bodies/{}", body["id"].as_str().unwrap());
    let etag = admin.get(&path).etag();
    let invalid =
        admin.patch(&path, &etag, &json!({"email": "not-an-email", "address": {"postalCode": "4082"}, "type": "club"}));
    let mut fields = invalid.error_fields();
    fields.sort();
    assert_eq!(fields, ["address.postalCode", "email", "type"]);
    // Move the body to another network.
    let moved = admin.patch(&path, &etag, &json!({"networkId": other["id"]}));
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(
        admin.get("/v1/bodies?network=kreis-kleve&type=bildungsbuero").json()["data"].as_array().unwrap().len(),
        1
    );
    assert!(admin.get("/v1/networks/kreis-mettmann/bodies").json()["data"].as_array().unwrap().is_empty());
    assert_eq!(admin.delete(&path, &moved.etag()).status, 204);
    admin.get(&path).problem(404);
}

fn handlungsfeld_life_cycle(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let created =
        admin.create("handlungsfelder", &json!({"slug": "uebergang-schule-beruf", "name": "Übergang Schule–Beruf"}));
    assert_eq!(created["name"], "Übergang Schule–Beruf");
    admin.post("/v1/handlungsfelder", &json!({"slug": "uebergang-schule-beruf", "name": "Doppelt"})).problem(409);
    let path = format!("/v1/handlungsfelder/{}", created["id"].as_str().unwrap());
    let etag = admin.get(&path).etag();
    let replaced = admin.put(
        &path,
        &etag,
        &json!({"slug": "uebergang-schule-beruf", "name": "Übergang Schule – Beruf", "description": "KAoA"}),
    );
    assert_eq!(replaced.json()["description"], "KAoA");
    assert_eq!(admin.get("/v1/handlungsfelder?q=BERUF").json()["data"].as_array().unwrap().len(), 1);
    // Linking to a network needs the network's ETag; the network lists it; filters find it.
    let network = create_network(&admin, "kreis-mettmann", "05158");
    let network_path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    let link_path = format!("{network_path}/handlungsfelder/{}", created["id"].as_str().unwrap());
    admin.send("PUT", &link_path, &[], None).problem(428);
    let linked = admin.send("PUT", &link_path, &[("If-Match", &admin.get(&network_path).etag())], None);
    assert_eq!(linked.status, 200, "{}", linked.text());
    assert_eq!(linked.json()["handlungsfeldIds"], json!([created["id"]]));
    assert_eq!(
        admin.get(&format!("{network_path}/handlungsfelder")).json()["data"][0]["slug"],
        "uebergang-schule-beruf"
    );
    assert_eq!(
        admin.get("/v1/networks?handlungsfeld=uebergang-schule-beruf").json()["data"].as_array().unwrap().len(),
        1
    );
    admin.delete(&path, &replaced.etag()).problem(409);
    let unlinked = admin.send("DELETE", &link_path, &[("If-Match", &linked.etag())], None);
    assert_eq!(unlinked.status, 204);
    assert!(
        admin.get("/v1/networks?handlungsfeld=uebergang-schule-beruf").json()["data"].as_array().unwrap().is_empty()
    );
    assert_eq!(admin.delete(&path, &replaced.etag()).status, 204);
}

fn contact_life_cycle(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = create_network(&admin, "kreis-mettmann", "05158");
    let other = create_network(&admin, "kreis-kleve", "05154");
    let body =
        admin.create("bodies", &json!({"networkId": network["id"], "type": "bildungsbuero", "name": "Bildungsbüro"}));
    let servicestelle = admin.create("contacts", &json!({
        "districtKey": 1, "name": "Servicestelle Regionale Bildungsnetzwerke", "organisation": "Bezirksregierung Düsseldorf",
        "address": {"street": "Am Bonneshof 35", "postalCode": "40474", "city": "Düsseldorf"}
    }));
    assert_eq!(servicestelle["visibility"], "public");
    assert_eq!(servicestelle["isPerson"], false);
    let person = admin.create(
        "contacts",
        &json!({
            "networkId": network["id"], "bodyId": body["id"], "name": "Erika Mustermann", "function": "Leitung",
            "email": "erika.mustermann@kreis-mettmann.example", "isPerson": true, "publicationConsent": true
        }),
    );
    // Owner rules: someone to belong to; a body implies its network; the body must be of that network.
    assert_eq!(admin.post("/v1/contacts", &json!({"name": "Niemand"})).error_fields(), ["networkId"]);
    let via_body = admin.create("contacts", &json!({"name": "Über das Gremium", "bodyId": body["id"]}));
    assert_eq!(via_body["networkId"], network["id"], "the network is the body's");
    let via_body_path = format!("/v1/contacts/{}", via_body["id"].as_str().unwrap());
    assert_eq!(admin.delete(&via_body_path, &admin.get(&via_body_path).etag()).status, 204);
    let mismatch = admin.post("/v1/contacts", &json!({"name": "X", "networkId": other["id"], "bodyId": body["id"]}));
    assert!(mismatch.problem(409)["detail"].as_str().unwrap().starts_with("bodyId"), "the body is another network's");
    assert_eq!(admin.post("/v1/contacts", &json!({"name": "X", "districtKey": 2})).error_fields(), ["districtKey"]);
    // Filters.
    assert_eq!(
        admin.get("/v1/contacts?district=1").json()["data"].as_array().unwrap().len(),
        2,
        "district 1: own and its networks'"
    );
    assert_eq!(
        admin.get(&format!("/v1/contacts?body={}", body["id"].as_str().unwrap())).json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(admin.get("/v1/contacts?q=servicestelle").json()["data"].as_array().unwrap().len(), 1);
    assert_eq!(admin.get("/v1/networks/kreis-mettmann/contacts").json()["data"].as_array().unwrap().len(), 1);
    // A body with contacts cannot be deleted.
    let body_path = format!("/v1/bodies/{}", body["id"].as_str().unwrap());
    admin.delete(&body_path, &admin.get(&body_path).etag()).problem(409);
    let path = format!("/v1/contacts/{}", person["id"].as_str().unwrap());
    let etag = admin.get(&path).etag();
    let patched = admin.patch(&path, &etag, &json!({"phone": "+49 2104 99 1234", "email": null}));
    assert_eq!(patched.json()["email"], Value::Null);
    assert_eq!(patched.json()["phone"], "+49 2104 99 1234");
    assert_eq!(admin.delete(&path, &patched.etag()).status, 204);
    admin.get(&path).problem(404);
}

fn lists_page_filter_and_refuse_unknown_parameters(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let anon = app.anonymous();
    let regions = ["05111", "05112", "05113", "05114", "05116", "05117", "05119"];
    for (i, region) in regions.iter().enumerate() {
        create_network(&admin, &format!("netz-{i}"), region);
    }
    create_network(&admin, "kreis-borken", "05554");
    // Pages of 3: links.next and a Link header; together exactly all, in a stable order.
    let first = anon.get("/v1/networks?limit=3");
    let page = first.json();
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    let next = page["links"]["next"].as_str().unwrap();
    assert_eq!(first.header("link"), Some(format!("<{next}>; rel=\"next\"").as_str()));
    let all = anon.all("/v1/networks?limit=3");
    assert_eq!(all.len(), 8);
    let mut ids: Vec<&str> = all.iter().map(|n| n["id"].as_str().unwrap()).collect();
    let in_order = ids.clone();
    ids.sort();
    assert_eq!(ids, in_order, "ordered by id");
    ids.dedup();
    assert_eq!(ids.len(), 8);
    let last = anon.get("/v1/networks?limit=8").json();
    assert!(last["links"].get("next").is_none(), "no next on the last page");
    // Filters combine with AND.
    assert_eq!(anon.get("/v1/networks?district=1").json()["data"].as_array().unwrap().len(), 7);
    assert_eq!(anon.get("/v1/networks?district=5").json()["data"].as_array().unwrap().len(), 1);
    assert_eq!(anon.get("/v1/networks?district=1&q=netz-3").json()["data"].as_array().unwrap().len(), 1);
    assert_eq!(anon.get("/v1/networks?district=5&q=netz-").json()["data"].as_array().unwrap().len(), 0);
    assert_eq!(anon.get("/v1/networks?region=05554&status=active").json()["data"].as_array().unwrap().len(), 1);
    assert_eq!(anon.get("/v1/networks?q=50%25").json()["data"].as_array().unwrap().len(), 0, "wildcards are literal");
    // Unknown, repeated and invalid parameters are a 400 naming them all.
    assert_eq!(
        anon.get("/v1/networks?colour=red&limit=0&district=2&status=x").error_fields(),
        ["district", "status", "limit", "colour"]
    );
    assert_eq!(anon.get("/v1/networks?limit=501").error_fields(), ["limit"]);
    assert_eq!(anon.get("/v1/networks?cursor=bm9wZQ").error_fields(), ["cursor"]);
    assert_eq!(anon.get("/v1/networks?q=a&q=b").error_fields(), ["q"]);
    assert_eq!(anon.get("/v1/contracts?kind=x").error_fields(), ["kind"]);
    assert_eq!(anon.get("/v1/regions?colour=1").error_fields(), ["colour"]);
}

fn expand_embeds_related_records(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = create_network(&admin, "kreis-mettmann", "05158");
    let id = network["id"].as_str().unwrap();
    admin.create("contracts", &json!({"networkId": id, "kind": "founding", "signedOn": "2013-11-19"}));
    admin.create("bodies", &json!({"networkId": id, "type": "bildungskonferenz", "name": "Bildungskonferenz"}));
    admin.create("contacts", &json!({"networkId": id, "name": "Bildungsbüro (Funktionspostfach)"}));
    let all = admin.get("/v1/networks/kreis-mettmann?expand=contracts,bodies,handlungsfelder,contacts").json();
    assert_eq!(all["contracts"].as_array().unwrap().len(), 1);
    assert_eq!(all["bodies"].as_array().unwrap().len(), 1);
    assert_eq!(all["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(all["handlungsfelder"], json!([]));
    assert_eq!(all["foundedOn"], "2013-11-19");
    let some = admin.get(&format!("/v1/networks/{id}?expand=bodies")).json();
    assert!(some.get("contracts").is_none());
    assert_eq!(some["bodies"].as_array().unwrap().len(), 1);
    assert_eq!(admin.get(&format!("/v1/networks/{id}?expand=bodies,friends")).error_fields(), ["expand"]);
    assert_eq!(admin.get(&format!("/v1/networks/{id}?include=bodies")).error_fields(), ["include"]);
}

/// `GET /v1/networks?expand=…`: every network of the page with its own records, exactly as its single
/// read embeds them; paging, filters, `modifiedSince`, ETags and the read cache as without `expand`.
fn expand_on_the_network_list_embeds_each_networks_records(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let anon = app.anonymous();
    let inklusion = admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    let uebergang = admin.create("handlungsfelder", &json!({"slug": "uebergang", "name": "Übergang Schule–Beruf"}));
    // Four networks, three in Regierungsbezirk Düsseldorf, each with records of its own (the fourth with none).
    let mut ids = Vec::new();
    for (i, (slug, region)) in
        [("kreis-mettmann", "05158"), ("duesseldorf", "05111"), ("kreis-kleve", "05154"), ("muenster", "05515")]
            .into_iter()
            .enumerate()
    {
        let mut body = network_body(slug, region);
        body["handlungsfeldIds"] = match i {
            0 => json!([inklusion["id"], uebergang["id"]]),
            1 => json!([uebergang["id"]]),
            _ => json!([]),
        };
        let id = admin.create("networks", &body)["id"].as_str().unwrap().to_string();
        for n in 0..i.min(2) + 1 {
            if i == 3 {
                break;
            }
            admin.create("contracts", &json!({"networkId": id, "kind": if n == 0 { "founding" } else { "renewal" }}));
            admin.create(
                "bodies",
                &json!({"networkId": id, "type": "lenkungskreis", "name": format!("Lenkungskreis {slug} {n}")}),
            );
            admin.create("contacts", &json!({"networkId": id, "name": format!("Bildungsbüro {slug} {n}")}));
        }
        ids.push(id);
    }
    // An internal contact: anonymous readers never see it, in the list as in the single read.
    admin.create(
        "contacts",
        &json!({"networkId": ids[0], "name": "Interna Geheim", "visibility": "internal", "isPerson": false}),
    );

    let all = "contracts,bodies,handlungsfelder,contacts";
    for (reader, client) in [("anonymous", &anon), ("admin", &admin)] {
        let page = client.get(&format!("/v1/networks?expand={all}"));
        assert_eq!(page.status, 200, "{reader}: {}", page.text());
        let data = page.json()["data"].as_array().unwrap().clone();
        assert_eq!(data.len(), 4, "{reader}");
        for network in &data {
            let single = client.get(&format!("/v1/networks/{}?expand={all}", network["id"].as_str().unwrap())).json();
            assert_eq!(network, &single, "{reader}: the list embeds what the single read does");
        }
        let mettmann = data.iter().find(|n| n["slug"] == "kreis-mettmann").unwrap();
        let names: Vec<&str> =
            mettmann["contacts"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        let expected: &[&str] = if reader == "admin" {
            &["Bildungsbüro kreis-mettmann 0", "Interna Geheim"]
        } else {
            &["Bildungsbüro kreis-mettmann 0"]
        };
        assert_eq!(names, expected, "{reader}");
        let kleve = data.iter().find(|n| n["slug"] == "kreis-kleve").unwrap();
        assert_eq!(kleve["contracts"].as_array().unwrap().len(), 3);
        assert_eq!(kleve["bodies"].as_array().unwrap().len(), 3);
        assert!(kleve["contacts"].as_array().unwrap().iter().all(|c| c["networkId"] == kleve["id"]));
        let duesseldorf = data.iter().find(|n| n["slug"] == "duesseldorf").unwrap();
        assert_eq!(duesseldorf["handlungsfelder"].as_array().unwrap().len(), 1);
        assert_eq!(duesseldorf["handlungsfelder"][0]["name"], "Übergang Schule–Beruf");
        let muenster = data.iter().find(|n| n["slug"] == "muenster").unwrap();
        for kind in ["contracts", "bodies", "handlungsfelder", "contacts"] {
            assert_eq!(muenster[kind], json!([]), "{kind}");
        }
    }
    assert!(!anon.get(&format!("/v1/networks?expand={all}")).text().contains("Interna Geheim"));

    // Only the kinds asked for.
    let some = anon.get("/v1/networks?expand=contacts,bodies").json();
    for network in some["data"].as_array().unwrap() {
        assert!(network["contacts"].is_array() && network["bodies"].is_array(), "{network}");
        assert!(network.get("contracts").is_none() && network.get("handlungsfelder").is_none(), "{network}");
    }
    assert!(anon.get("/v1/networks").json()["data"][0].get("contacts").is_none(), "no expand, no arrays");

    // Paging: `limit` bounds the networks; links.next keeps `expand`.
    let mut seen = Vec::new();
    let mut next = Some("/v1/networks?expand=contacts&limit=3".to_string());
    while let Some(path) = next {
        let page = anon.get(&path).json();
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 3, "{path}");
        for network in data {
            assert!(network["contacts"].is_array(), "{path}: {network}");
            seen.push(network["id"].as_str().unwrap().to_string());
        }
        next = page["links"]["next"].as_str().map(str::to_string);
        if let Some(next) = &next {
            assert!(next.contains("expand=contacts"), "{next}");
        }
    }
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected, "every network once, in id order");

    // Filters combine with expand.
    let district = anon.get("/v1/networks?district=1&expand=contacts").json();
    let slugs: Vec<&str> = district["data"].as_array().unwrap().iter().map(|n| n["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs.len(), 3, "{slugs:?}");
    assert!(!slugs.contains(&"muenster"));

    // ETag and 304; a write shows on the next read (the read cache keeps no stale expansion).
    let path = "/v1/networks?expand=contacts";
    let first = anon.get(path);
    let etag = first.etag();
    assert_eq!(anon.get_with(path, &[("If-None-Match", &etag)]).status, 304);
    assert_ne!(anon.get("/v1/networks").etag(), etag, "the expanded page is another representation");
    admin.create("contacts", &json!({"networkId": ids[3], "name": "Neu in Münster"}));
    let after = anon.get_with(path, &[("If-None-Match", &etag)]);
    assert_eq!(after.status, 200);
    assert!(after.text().contains("Neu in Münster"));

    // modifiedSince: changed networks expanded, deleted ones as bare tombstones.
    let since = after.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["updatedAt"].as_str().unwrap().to_string())
        .max()
        .unwrap();
    let empty = admin.create("networks", &network_body("kreis-borken", "05554"));
    let etag = admin.get(&format!("/v1/networks/{}", empty["id"].as_str().unwrap())).etag();
    assert_eq!(admin.delete(&format!("/v1/networks/{}", empty["id"].as_str().unwrap()), &etag).status, 204);
    let changed = anon.get(&format!("/v1/networks?expand=contacts&modifiedSince={since}")).json();
    let tombstone = changed["data"].as_array().unwrap().iter().find(|n| n["id"] == empty["id"]).unwrap();
    assert_eq!(tombstone, &json!({"id": empty["id"], "deleted": true, "updatedAt": tombstone["updatedAt"]}));

    // Invalid values of expand are a 400 naming it, as for the single read; other errors are reported too.
    for wrong in ["friends", "contacts,friends", "", "contacts,", "CONTACTS"] {
        assert_eq!(anon.get(&format!("/v1/networks?expand={wrong}")).error_fields(), ["expand"], "{wrong:?}");
    }
    assert_eq!(anon.get("/v1/networks?expand=x&limit=0").error_fields(), ["expand", "limit"]);
    assert_eq!(anon.get("/v1/networks?expand=contacts&expand=bodies").error_fields(), ["expand"]);
}

fn umlauts_round_trip(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let name = "Bildungsnetzwerk Gütersloh – Straße, Größe, Übergänge „ß“ 🎓";
    let created = admin.create(
        "networks",
        &json!({"slug": "kreis-guetersloh", "name": name, "regionKey": "05754", "description": "Zeile 1\nZeile 2"}),
    );
    assert_eq!(created["name"], name);
    let read = admin.get("/v1/networks/kreis-guetersloh").json();
    assert_eq!(read["name"], name);
    assert_eq!(read["description"], "Zeile 1\nZeile 2");
    assert_eq!(admin.get("/v1/networks?q=g%C3%BCtersloh").json()["data"].as_array().unwrap().len(), 1);
}
