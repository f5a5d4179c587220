//! Consumers can rely on it: conditional requests, no lost updates, incremental sync, the change feed.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use common::{Backend, Client, ServiceProcess, TestDatabase, network_body, spawn_app};
use serde_json::{Value, json};

backend_tests!(
    conditional_reads_answer_304,
    missing_or_stale_if_match_leaves_data_unchanged,
    concurrent_patches_with_one_etag_have_one_winner,
    concurrent_unconditional_patches_all_land,
    concurrent_deletes_have_one_winner,
    renames_race_with_contract_moves,
    mirror_built_from_modified_since_equals_a_fresh_listing,
    change_feed_resumes_without_loss_or_repeats,
    concurrent_writers_of_related_records_all_land_in_order,
    revalidation_alone_fills_the_read_cache,
    writes_are_seen_by_the_next_read_under_load,
    a_mirror_polling_under_concurrent_writers_misses_nothing,
    parallel_links_and_unlinks_all_land,
);

fn conditional_reads_answer_304(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let anon = app.anonymous();
    admin.create("networks", &network_body("kreis-mettmann", "05158"));
    for path in [
        "/v1/networks/kreis-mettmann",
        "/v1/networks?limit=10",
        "/v1/regions",
        "/v1/regions/05158",
        "/v1",
        "/v1/changes",
        "/v1/networks/kreis-mettmann?expand=bodies",
    ] {
        let first = anon.get(path);
        assert_eq!(first.status, 200, "{path}");
        assert_eq!(first.header("cache-control"), Some("public, max-age=60"), "{path}");
        assert!(first.header("vary").unwrap().contains("Authorization"), "{path}");
        let etag = first.etag();
        let again = anon.get_with(path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.etag(), etag);
        assert_eq!(anon.get_with(path, &[("If-None-Match", "\"other\", W/".to_string().as_str())]).status, 200);
        assert_eq!(anon.get_with(path, &[("If-None-Match", &format!("\"x\", {etag}"))]).status, 304);
    }
    // With a key the answer may differ (internal contacts), so it is cached privately.
    assert_eq!(admin.get("/v1/networks").header("cache-control"), Some("private, no-cache"));
    // Last-Modified / If-Modified-Since on single resources.
    let single = anon.get("/v1/networks/kreis-mettmann");
    let last_modified = single.header("last-modified").unwrap().to_string();
    assert_eq!(anon.get_with("/v1/networks/kreis-mettmann", &[("If-Modified-Since", &last_modified)]).status, 304);
    assert_eq!(
        anon.get_with("/v1/networks/kreis-mettmann", &[("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")]).status,
        200
    );
    // A change changes the ETag: the old one no longer matches.
    let etag = single.etag();
    let patched = admin.patch("/v1/networks/kreis-mettmann", &etag, &json!({"description": "neu"}));
    let network_path = format!("/v1/networks/{}", patched.json()["id"].as_str().unwrap());
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(anon.get_with("/v1/networks/kreis-mettmann", &[("If-None-Match", &etag)]).status, 200);
    assert_eq!(anon.get_with(&network_path, &[("If-None-Match", &patched.etag())]).status, 304);
}

fn missing_or_stale_if_match_leaves_data_unchanged(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    let before = admin.get(&path);
    let stale = before.etag();
    let replacement = json!({"slug": "kreis-mettmann", "name": "Neu", "regionKey": "05158"});
    // Without If-Match: 428 for every kind of write.
    let body = replacement.to_string();
    for (method, content_type) in
        [("PUT", "application/json"), ("PATCH", "application/merge-patch+json"), ("DELETE", "application/json")]
    {
        let reply = admin.send(method, &path, &[("Content-Type", content_type)], Some(body.as_bytes()));
        let problem = reply.problem(428);
        assert!(problem["detail"].as_str().unwrap().contains("If-Match"));
    }
    assert_eq!(admin.get(&path).json(), before.json(), "unchanged after 428");
    // Someone else changes it: our ETag is stale now.
    let other = admin.patch(&path, &stale, &json!({"description": "von jemand anderem"}));
    assert_eq!(other.status, 200);
    let after_other = admin.get(&path).json();
    for reply in [
        admin.put(&path, &stale, &replacement),
        admin.patch(&path, &stale, &json!({"name": "Neu"})),
        admin.delete(&path, &stale),
        admin.send(
            "PUT",
            &path,
            &[("Content-Type", "application/json"), ("If-Match", &format!("W/{}", other.etag()))],
            Some(body.as_bytes()),
        ),
    ] {
        let problem = reply.problem(412);
        assert!(problem["detail"].as_str().unwrap().contains("GET it again"), "says how to recover");
    }
    assert_eq!(admin.get(&path).json(), after_other, "unchanged after 412");
    // The recovery: read again, write with the new ETag.
    let fresh = admin.get(&path).etag();
    assert_eq!(admin.patch(&path, &fresh, &json!({"name": "Neu"})).status, 200);
}

fn concurrent_patches_with_one_etag_have_one_winner(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    let statuses = race(std::slice::from_ref(&admin), &path, &admin.get(&path).etag(), 16);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 15, "{statuses:?}");
    // The winner's change is the one stored.
    let description = admin.get(&path).json()["description"].as_str().unwrap().to_string();
    assert!(description.starts_with("writer "));
}

/// Writers that PATCH one record at once with `If-Match: *` all land: none is refused, and none undoes
/// another's field (a write that lost the race decides again on the winner's state).
fn concurrent_unconditional_patches_all_land(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let contact = admin.create("contacts", &json!({"networkId": network["id"], "name": "Bildungsbüro"}));
    let path = format!("/v1/contacts/{}", contact["id"].as_str().unwrap());
    for round in 0..4 {
        let fields = [
            ("name", format!("Regionales Bildungsbüro {round}")),
            ("function", format!("Koordination {round}")),
            ("organisation", format!("Kreis Mettmann {round}")),
            ("email", format!("bildungsbuero{round}@example.org")),
            ("phone", format!("+49 2104 99 {round}")),
        ];
        let barrier = Arc::new(Barrier::new(fields.len()));
        let writers: Vec<_> = fields
            .iter()
            .map(|(field, value)| {
                let (admin, path, barrier) = (admin.clone(), path.clone(), barrier.clone());
                let body = json!({ *field: value });
                std::thread::spawn(move || {
                    barrier.wait();
                    admin.patch(&path, "*", &body).status
                })
            })
            .collect();
        let statuses: Vec<u16> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        assert_eq!(statuses, vec![200; fields.len()], "round {round}");
        let stored = admin.get(&path).json();
        for (field, value) in fields {
            assert_eq!(stored[field], value, "round {round}: {field} was lost");
        }
    }
}

/// Clients that DELETE one record at once, with its ETag or with `If-Match: *`: one succeeds, the others
/// find it gone.
fn concurrent_deletes_have_one_winner(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    for round in 0..4 {
        let contact =
            admin.create("contacts", &json!({"networkId": network["id"], "name": format!("Kontakt {round}")}));
        let path = format!("/v1/contacts/{}", contact["id"].as_str().unwrap());
        let etag = admin.get(&path).etag();
        let barrier = Arc::new(Barrier::new(8));
        let deleters: Vec<_> = (0..8)
            .map(|i| {
                let (admin, path, barrier) = (admin.clone(), path.clone(), barrier.clone());
                let condition = if i % 2 == 0 { etag.clone() } else { "*".to_string() };
                std::thread::spawn(move || {
                    barrier.wait();
                    admin.delete(&path, &condition).status
                })
            })
            .collect();
        let mut statuses: Vec<u16> = deleters.into_iter().map(|d| d.join().unwrap()).collect();
        statuses.sort();
        assert_eq!(statuses, [204, 404, 404, 404, 404, 404, 404, 404], "round {round}");
        admin.get(&path).problem(404);
    }
}

/// A network renamed (a new slug, a unique column) again and again with `If-Match: *` while contracts move
/// into and out of it (each move changes the network too): every write lands, none deadlocks.
fn renames_race_with_contract_moves(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let networks: Vec<Value> = ["05111", "05112"]
        .iter()
        .map(|region| admin.create("networks", &network_body(&format!("netz-{region}"), region)))
        .collect();
    let contracts: Vec<String> = (0..3)
        .map(|i| {
            let body =
                json!({"networkId": networks[1]["id"], "kind": "amendment", "signedOn": format!("2015-0{}", i + 1)});
            admin.create("contracts", &body)["id"].as_str().unwrap().to_string()
        })
        .collect();
    let renamed = format!("/v1/networks/{}", networks[0]["id"].as_str().unwrap());
    let barrier = Arc::new(Barrier::new(1 + contracts.len()));
    let mut writers = vec![{
        let (admin, barrier, path) = (admin.clone(), barrier.clone(), renamed.clone());
        std::thread::spawn(move || {
            barrier.wait();
            (0..12).map(|round| admin.patch(&path, "*", &json!({"slug": format!("netz-neu-{round}")})).status).collect()
        })
    }];
    for (i, contract) in contracts.iter().enumerate() {
        let (admin, barrier, networks) = (admin.clone(), barrier.clone(), networks.clone());
        let path = format!("/v1/contracts/{contract}");
        writers.push(std::thread::spawn(move || {
            barrier.wait();
            (0..12)
                .map(|round| {
                    let to = &networks[(i + round) % 2]["id"];
                    admin.patch(&path, "*", &json!({"networkId": to})).status
                })
                .collect::<Vec<u16>>()
        }));
    }
    let statuses: Vec<u16> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(admin.get(&renamed).json()["slug"], "netz-neu-11");
}

/// `writers` threads (spread over `clients`) PATCH `path` at once, all with `etag`; returns the statuses.
fn race(clients: &[Client], path: &str, etag: &str, writers: usize) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(writers));
    let handles: Vec<_> = (0..writers)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let (barrier, path, etag) = (barrier.clone(), path.to_string(), etag.to_string());
            std::thread::spawn(move || {
                barrier.wait();
                client.patch(&path, &etag, &json!({"description": format!("writer {i}")})).status
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Many writers at once, on records that touch each other: contracts moving between two networks in
/// opposite directions (each move changes both networks), and the networks themselves. Every write
/// succeeds (no deadlock, no 5xx), and the change feed and audit log hold each one exactly once, in order.
fn concurrent_writers_of_related_records_all_land_in_order(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let networks: Vec<String> = ["05111", "05112"]
        .iter()
        .map(|region| {
            admin.create("networks", &network_body(&format!("netz-{region}"), region))["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let contracts: Vec<String> = (0..4)
        .map(|i| {
            let body =
                json!({"networkId": networks[i % 2], "kind": "amendment", "signedOn": format!("2014-01-0{}", i + 1)});
            admin.create("contracts", &body)["id"].as_str().unwrap().to_string()
        })
        .collect();
    let audit_before = admin.all("/v1/audit?limit=500").len();
    const ROUNDS: usize = 6;
    let barrier = Arc::new(Barrier::new(6));
    let writers: Vec<_> = (0..6)
        .map(|writer| {
            let (client, barrier) = (admin.clone(), barrier.clone());
            let path = match writer {
                0..4 => format!("/v1/contracts/{}", contracts[writer]),
                _ => format!("/v1/networks/{}", networks[writer - 4]),
            };
            let networks = networks.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut statuses = Vec::new();
                for round in 0..ROUNDS {
                    let etag = client.get(&path).etag();
                    let change = if writer < 4 {
                        json!({"networkId": networks[(writer + round + 1) % 2]})
                    } else {
                        json!({"description": format!("Runde {round}")})
                    };
                    statuses.push(client.patch(&path, &etag, &change).status);
                }
                statuses
            })
        })
        .collect();
    let statuses: Vec<u16> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 200 || *s == 412), "{statuses:?}");
    let succeeded = statuses.iter().filter(|s| **s == 200).count();
    assert!(succeeded >= 6 * ROUNDS / 2, "most writes succeed: {statuses:?}");
    assert_eq!(admin.all("/v1/audit?limit=500").len() - audit_before, succeeded, "one audit entry per write");
    // The feed: one entry per record, numbered strictly increasing, each with the record's current state.
    let feed = app.anonymous().all("/v1/changes?limit=500");
    let seqs: Vec<i64> = feed.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    for id in contracts.iter().chain(&networks) {
        let entry = feed.iter().find(|e| e["id"] == json!(id)).expect("every record is in the feed");
        let kind = entry["type"].as_str().unwrap();
        let current = admin.get(&format!("/v1/{kind}/{id}")).json();
        assert_eq!(entry["data"]["updatedAt"], current["updatedAt"], "{kind} {id}");
    }
    // A network's updatedAt moves with every contract moved into or out of it: it is not older than theirs.
    for network in &networks {
        let updated = admin.get(&format!("/v1/networks/{network}")).json()["updatedAt"].as_str().unwrap().to_string();
        for contract in &contracts {
            let contract = admin.get(&format!("/v1/contracts/{contract}")).json();
            if contract["networkId"] == json!(network) {
                assert!(updated.as_str() >= contract["updatedAt"].as_str().unwrap());
            }
        }
    }
}

/// Clients that only ever revalidate still fill the read cache: the first If-None-Match after a change
/// is rendered in full behind the scenes, and the next one is answered from the cache.
fn revalidation_alone_fills_the_read_cache(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let anon = app.anonymous();
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    let etag = admin.get(&path).etag(); // the same representation as an anonymous reader gets
    let hits = || anon.read_cache_hits();
    let before = hits();
    let first = anon.get_with(&path, &[("If-None-Match", &etag)]);
    assert_eq!((first.status, first.etag()), (304, etag.clone()));
    assert!(first.body.is_empty());
    assert_eq!(hits(), before, "the first revalidation was rendered");
    let second = anon.get_with(&path, &[("If-None-Match", &etag)]);
    assert_eq!((second.status, second.etag()), (304, etag.clone()));
    assert_eq!(second.header("cache-control"), first.header("cache-control"));
    assert_eq!(hits(), before + 1, "the second came from the cache");
    // A stale tag gets the whole current answer, from the cache too.
    let full = anon.get_with(&path, &[("If-None-Match", "\"stale\"")]);
    assert_eq!((full.status, full.etag()), (200, etag));
    assert_eq!(full.json()["slug"], "kreis-mettmann");
}

/// While other readers keep the read cache busy, every write is seen by the very next anonymous read.
fn writes_are_seen_by_the_next_read_under_load(backend: Backend) {
    let app = spawn_app(&backend);
    let (admin, anon) = (app.admin(), app.anonymous());
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    let before = anon.read_cache_hits();
    let busy = Readers::start(&anon, &path);
    for round in 0..30 {
        let written = admin.patch(&path, &admin.get(&path).etag(), &json!({"description": format!("Runde {round}")}));
        assert_eq!(written.status, 200);
        let next = anon.get(&path);
        assert_eq!(next.json()["description"], format!("Runde {round}"), "round {round}: a stale read");
        assert_eq!(next.etag(), written.etag());
    }
    drop(busy);
    let hits = anon.read_cache_hits() - before;
    assert!(hits >= 100, "the readers were answered from the cache ({hits} hits)");
}

/// Anonymous readers of one path in the background, until dropped: they keep the read cache and its
/// version checks busy, as websites do.
struct Readers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Readers {
    fn start(client: &Client, path: &str) -> Readers {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..4)
            .map(|_| {
                let (client, path, stop) = (client.clone(), path.to_string(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        assert_eq!(client.get(&path).status, 200);
                    }
                })
            })
            .collect();
        Readers { stop, threads }
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let outcome = thread.join();
            if !std::thread::panicking() {
                outcome.expect("a background reader failed");
            }
        }
    }
}

/// Applies a `modifiedSince` page stream to a mirror; returns the largest `updatedAt` seen.
fn sync(client: &Client, collection: &str, since: &str, mirror: &mut BTreeMap<String, Value>) -> String {
    let mut newest = since.to_string();
    let items = client.all(&format!("/v1/{collection}?limit=2&modifiedSince={}", urlencode(since)));
    for item in items {
        let id = item["id"].as_str().unwrap().to_string();
        let updated_at = item["updatedAt"].as_str().unwrap().to_string();
        if updated_at > newest {
            newest = updated_at;
        }
        if item["deleted"] == json!(true) {
            mirror.remove(&id);
        } else {
            mirror.insert(id, item);
        }
    }
    newest
}

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}

fn fresh(client: &Client, collection: &str) -> BTreeMap<String, Value> {
    client
        .all(&format!("/v1/{collection}?limit=500"))
        .into_iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v))
        .collect()
}

fn mirror_built_from_modified_since_equals_a_fresh_listing(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let anon = app.anonymous();
    let collections = ["networks", "contracts", "bodies", "contacts", "handlungsfelder"];
    let mut mirrors: BTreeMap<&str, BTreeMap<String, Value>> = BTreeMap::new();
    let mut marks: BTreeMap<&str, String> = BTreeMap::new();
    let epoch = "2000-01-01T00:00:00Z".to_string();
    let regions = ["05111", "05112", "05113", "05114", "05116"];
    let mut networks = Vec::new();
    for (i, region) in regions.iter().enumerate() {
        networks.push(admin.create("networks", &network_body(&format!("netz-{i}"), region)));
    }
    admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    let contact = admin.create("contacts", &json!({"networkId": networks[0]["id"], "name": "Funktionspostfach"}));
    let contract =
        admin.create("contracts", &json!({"networkId": networks[1]["id"], "kind": "founding", "signedOn": "2009"}));
    // First sync from scratch.
    for collection in collections {
        let mut mirror = BTreeMap::new();
        marks.insert(collection, sync(&anon, collection, &epoch, &mut mirror));
        mirrors.insert(collection, mirror);
    }
    // Creates, updates and deletes in between; some of them twice, and a contact turned internal.
    for round in 0..3 {
        let created = admin.create(
            "bodies",
            &json!({"networkId": networks[2]["id"], "type": "arbeitsgruppe", "name": format!("AG {round}")}),
        );
        let path = format!("/v1/networks/{}", networks[3]["id"].as_str().unwrap());
        let etag = admin.get(&path).etag();
        assert_eq!(admin.patch(&path, &etag, &json!({"description": format!("Runde {round}")})).status, 200);
        if round == 1 {
            let body_path = format!("/v1/bodies/{}", created["id"].as_str().unwrap());
            assert_eq!(admin.delete(&body_path, &admin.get(&body_path).etag()).status, 204);
            let network_path = format!("/v1/networks/{}", networks[4]["id"].as_str().unwrap());
            assert_eq!(admin.delete(&network_path, &admin.get(&network_path).etag()).status, 204);
            let contract_path = format!("/v1/contracts/{}", contract["id"].as_str().unwrap());
            assert_eq!(
                admin.patch(&contract_path, &admin.get(&contract_path).etag(), &json!({"signedOn": "2009-03"})).status,
                200
            );
            let contact_path = format!("/v1/contacts/{}", contact["id"].as_str().unwrap());
            assert_eq!(
                admin.patch(&contact_path, &admin.get(&contact_path).etag(), &json!({"visibility": "internal"})).status,
                200
            );
        }
        for collection in collections {
            let since = marks[collection].clone();
            let newest = sync(&anon, collection, &since, mirrors.get_mut(collection).unwrap());
            marks.insert(collection, newest);
            assert_eq!(mirrors[collection], fresh(&anon, collection), "{collection} after round {round}");
        }
    }
    // Deleted records came as tombstones: only in modifiedSince lists, never in plain ones.
    let deleted = networks[4]["id"].as_str().unwrap();
    let tombstones = anon.all(&format!("/v1/networks?modifiedSince={}", urlencode(&epoch)));
    assert!(
        tombstones
            .iter()
            .any(|t| t["id"] == deleted && t["deleted"] == json!(true) && t.as_object().unwrap().len() == 3)
    );
    assert!(!anon.all("/v1/networks").iter().any(|n| n["id"] == deleted));
    // A cursor of a plain list is refused with modifiedSince, and a malformed time is a 400.
    assert_eq!(anon.get("/v1/networks?modifiedSince=yesterday").error_fields(), ["modifiedSince"]);
}

fn change_feed_resumes_without_loss_or_repeats(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let anon = app.anonymous();
    let mut networks = Vec::new();
    for (i, region) in ["05111", "05112", "05113"].iter().enumerate() {
        networks.push(admin.create("networks", &network_body(&format!("netz-{i}"), region)));
    }
    // Walk the feed 2 entries at a time; between pages, write more. Every cursor, resumed twice, gives
    // the same continuation, and no record appears twice at the same sequence number.
    let mut cursor_path = "/v1/changes?limit=2".to_string();
    let mut seen: Vec<(i64, String)> = Vec::new();
    let mut writes = 0;
    loop {
        let page = anon.get(&cursor_path).json();
        let again = anon.get(&cursor_path).json();
        assert_eq!(page["data"], again["data"], "resuming from the same cursor gives the same page");
        for entry in page["data"].as_array().unwrap() {
            seen.push((entry["seq"].as_i64().unwrap(), entry["id"].as_str().unwrap().to_string()));
        }
        let wrote = writes < 4;
        if wrote {
            let body = admin.create(
                "bodies",
                &json!({"networkId": networks[writes % 3]["id"], "type": "other", "name": format!("Gremium {writes}")}),
            );
            if writes == 2 {
                let path = format!("/v1/bodies/{}", body["id"].as_str().unwrap());
                assert_eq!(admin.delete(&path, &admin.get(&path).etag()).status, 204);
            }
            writes += 1;
        }
        match page["links"]["next"].as_str() {
            Some(next) => cursor_path = next.to_string(),
            // The current end of the feed: continue later from `resume`, once the writes are done.
            None if wrote => cursor_path = page["links"]["resume"].as_str().unwrap().to_string(),
            None => break,
        }
    }
    let seqs: Vec<i64> = seen.iter().map(|(s, _)| *s).collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seqs, sorted, "strictly increasing: nothing repeated");
    // Nothing lost: every record's latest change is in what we saw, deletions as deleted entries.
    let full = anon.all("/v1/changes?limit=500");
    let ids_seen: HashSet<&String> = seen.iter().map(|(_, id)| id).collect();
    for entry in &full {
        assert!(ids_seen.contains(&entry["id"].as_str().unwrap().to_string()), "lost {entry}");
    }
    assert!(full.iter().any(|e| e["deleted"] == json!(true) && e.get("data").is_none()));
    assert!(full.iter().filter(|e| e["type"] == "networks").all(|e| e["data"]["slug"].is_string()));
    // Filter by type; an unknown type or a foreign cursor is a 400.
    assert!(anon.all("/v1/changes?type=bodies").iter().all(|e| e["type"] == "bodies"));
    assert_eq!(anon.get("/v1/changes?type=regions").error_fields(), ["type"]);
    assert_eq!(
        anon.get("/v1/changes?cursor=aXwwMTkwYjdlMi0zYzRkLTdhMWItOWYwMC0xMjM0NTY3ODkwYWI").error_fields(),
        ["cursor"]
    );
}

/// Two `rbn` processes on one PostgreSQL database: no lost update, and each sees the other's writes.
#[test]
#[cfg_attr(not(rbn_postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
fn two_instances_share_one_postgres() {
    let Some(backend) = Backend::postgres() else { return };
    let database = TestDatabase::new(&backend);
    let key = common::admin_key_for(&database.url);
    let first = ServiceProcess::start(&database.url, &[]);
    let second = ServiceProcess::start(&database.url, &[]);
    let (a, b) = (first.client(Some(&key)), second.client(Some(&key)));
    let network = a.create("networks", &network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    // A write through one instance is seen by the other at once.
    let etag = a.get(&path).etag();
    assert_eq!(b.get_with(&path, &[("If-None-Match", &etag)]).status, 304);
    let patched = a.patch(&path, &etag, &json!({"description": "über Instanz A"}));
    assert_eq!(patched.status, 200);
    let seen = b.get(&path);
    assert_eq!(seen.json()["description"], "über Instanz A");
    assert_eq!(seen.etag(), patched.etag());
    // 16 writers on two instances with the same ETag: exactly one wins.
    let statuses = race(&[a.clone(), b.clone()], &path, &patched.etag(), 16);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 15, "{statuses:?}");
    assert_eq!(a.get(&path).json(), b.get(&path).json());
    // Anonymous reads come from each instance's read cache; a write through the other instance is still
    // seen by the very next read, every time.
    let (anon_a, anon_b) = (first.client(None), second.client(None));
    let busy = Readers::start(&anon_b, &path);
    for round in 0..20 {
        let cached = anon_b.get(&path);
        assert_eq!(anon_b.get(&path).etag(), cached.etag(), "served again unchanged");
        let written = a.patch(&path, &a.get(&path).etag(), &json!({"description": format!("Runde {round}")}));
        assert_eq!(written.status, 200);
        let next = anon_b.get(&path);
        assert_eq!(next.json()["description"], format!("Runde {round}"), "round {round}: instance B is stale");
        assert_eq!(anon_b.get_with(&path, &[("If-None-Match", &cached.etag())]).status, 200);
        assert_eq!(anon_a.get(&path).etag(), next.etag());
    }
    drop(busy);
    let hits = anon_b.read_cache_hits();
    assert!(hits >= 20, "the reads were answered from the cache ({hits} hits)");
    drop((first, second));
}

/// The README's recipe under load: 8 writers create (and some delete) records while a mirror polls
/// `modifiedSince=<largest updatedAt seen>`. Every acknowledged record and deletion reaches the mirror.
/// (On PostgreSQL, versions were chosen before the commit order was fixed: a record could commit with an
/// earlier `updatedAt` than one committed before it, and the mirror's mark passed it.)
fn a_mirror_polling_under_concurrent_writers_misses_nothing(backend: Backend) {
    let app = spawn_app(&backend);
    let anon = app.anonymous();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let admin = app.admin();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut created, mut deleted) = (Vec::new(), Vec::new());
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let body = json!({"slug": format!("feld-{writer}-{i}"), "name": format!("Feld {writer} {i}")});
                    let reply = admin.post("/v1/handlungsfelder", &body);
                    assert_eq!(reply.status, 201, "{}", reply.text());
                    let id = reply.json()["id"].as_str().unwrap().to_string();
                    if i % 4 == 3 {
                        let reply = admin.delete(&format!("/v1/handlungsfelder/{id}"), &reply.etag());
                        assert_eq!(reply.status, 204, "{}", reply.text());
                        deleted.push(id);
                    } else {
                        created.push(id);
                    }
                }
                (created, deleted)
            })
        })
        .collect();
    let mut mirror = BTreeMap::new();
    let mut mark = "2000-01-01T00:00:00Z".to_string();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(4) {
        mark = poll(&anon, &mark, &mut mirror);
    }
    stop.store(true, Ordering::Relaxed);
    let (mut created, mut deleted) = (HashSet::new(), Vec::new());
    for writer in writers {
        let (c, d) = writer.join().unwrap();
        created.extend(c);
        deleted.extend(d);
    }
    poll(&anon, &mark, &mut mirror);
    assert!(created.len() > 100, "only {} records written", created.len());
    let mirrored: HashSet<String> = mirror.keys().cloned().collect();
    let missed: Vec<_> = created.difference(&mirrored).collect();
    assert!(missed.is_empty(), "the mirror missed {} of {} records: {missed:?}", missed.len(), created.len());
    let kept: Vec<_> = deleted.iter().filter(|id| mirrored.contains(*id)).collect();
    assert!(kept.is_empty(), "the mirror missed {} of {} deletions", kept.len(), deleted.len());
    assert_eq!(mirrored.len(), created.len(), "the mirror holds records nobody created");
}

/// One poll of the README's recipe, page by page: returns the new mark.
fn poll(client: &Client, since: &str, mirror: &mut BTreeMap<String, Value>) -> String {
    let mut newest = since.to_string();
    let items = client.all(&format!("/v1/handlungsfelder?limit=500&modifiedSince={}", urlencode(since)));
    for item in items {
        let id = item["id"].as_str().unwrap().to_string();
        newest = newest.max(item["updatedAt"].as_str().unwrap().to_string());
        if item["deleted"] == json!(true) {
            mirror.remove(&id);
        } else {
            mirror.insert(id, item);
        }
    }
    newest
}

/// Twelve parallel links and unlinks of one network's Handlungsfelder with `If-Match: *`, three rounds:
/// every acknowledged one is in the stored links. (The list was rebuilt from a read taken before the
/// write's transaction, so parallel writers overwrote each other's links.)
fn parallel_links_and_unlinks_all_land(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    let fields: Vec<String> = (0..12)
        .map(|i| {
            let field =
                admin.create("handlungsfelder", &json!({"slug": format!("feld-{i}"), "name": format!("Feld {i}")}));
            field["id"].as_str().unwrap().to_string()
        })
        .collect();
    for field in &fields[..6] {
        assert_eq!(
            admin.send("PUT", &format!("{path}/handlungsfelder/{field}"), &[("If-Match", "*")], None).status,
            200
        );
    }
    for round in 0..3 {
        // Even rounds unlink the first six and link the others; odd rounds the other way round.
        let barrier = Arc::new(Barrier::new(fields.len()));
        let threads: Vec<_> = fields
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let (admin, barrier) = (app.admin(), barrier.clone());
                let url = format!("{path}/handlungsfelder/{field}");
                let link = (i >= 6) == (round % 2 == 0);
                std::thread::spawn(move || {
                    barrier.wait();
                    let status =
                        admin.send(if link { "PUT" } else { "DELETE" }, &url, &[("If-Match", "*")], None).status;
                    assert_eq!(status, if link { 200 } else { 204 }, "{url}");
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let expected: HashSet<&String> =
            fields.iter().enumerate().filter(|(i, _)| (*i >= 6) == (round % 2 == 0)).map(|(_, f)| f).collect();
        let linked = admin.get(&path).json()["handlungsfeldIds"].clone();
        let linked: HashSet<String> =
            linked.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_eq!(linked.iter().collect::<HashSet<_>>(), expected, "links after round {round}");
    }
}
