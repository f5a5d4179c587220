//! Issue 13, scale: the dataset export streams from one snapshot (the content as before, an ETag known
//! before the first byte, a client that stops reading loses its download), and the change feed since a
//! time stays exact now that it is read in stretches. On SQLite and PostgreSQL.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, Client, Options, TestApp, TestDatabase, spawn_app_with};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use rbn_registry::http::HttpConfig;
use rbn_registry::storage::Actor;
use serde_json::{Value, json};

backend_tests!(
    the_export_streams_every_page_and_revalidates_by_the_snapshot_version,
    a_download_that_is_not_read_gives_up_its_snapshot,
    the_change_feed_since_a_time_is_exact_in_sequence_order,
);

const EXPORT: &str = "/v1/exports/dataset.json";
const SECTIONS: [&str; 5] = ["handlungsfelder", "networks", "bodies", "contracts", "contacts"];

/// Runs SQL on the test's database directly: bulk data that the API would take minutes to write.
fn execute(url: &str, sql: &str) {
    match url.strip_prefix("sqlite://") {
        Some(path) => SqliteConnection::establish(path).unwrap().batch_execute(sql).unwrap(),
        None => PgConnection::establish(url).unwrap().batch_execute(sql).unwrap(),
    }
}

/// `count` rows of `table` numbered 1.. from a template (`{i}` is the number, `{hex}` it as 12 hex digits).
fn generated(backend: &Backend, count: usize, insert: &str, select: &str) -> String {
    match backend {
        Backend::Sqlite => {
            let select = select.replace("{hex}", "printf('%012x', i)").replace("{i}", "i");
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) {insert} {select} FROM n;"
            )
        }
        Backend::Postgres(_) => {
            let select = select.replace("{hex}", "lpad(to_hex(i), 12, '0')").replace("{i}", "i");
            format!("{insert} {select} FROM generate_series(1, {count}) AS i;")
        }
    }
}

/// `rbn ARGS` against the database `url`: its standard output.
fn rbn(url: &str, args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbn"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RBN_SEED", "false")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rbn");
    child.stdin.take().unwrap().write_all(input.unwrap_or_default()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "rbn {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// A dataset of `count` contacts of Kreis Mettmann (every seventh internal, every fifth a person
/// without consent): more than two pages of an export.
fn many_contacts(count: usize) -> Value {
    let contacts: Vec<Value> = (0..count)
        .map(|i| {
            json!({
                "id": format!("0190b7e2-3c4d-7a1b-9f00-{i:012x}"), "networkId": "kreis-mettmann",
                "name": format!("Kontakt {i}"), "function": "Koordination", "email": format!("kontakt{i}@example.org"),
                "phone": "+49 2104 000000", "visibility": if i % 7 == 0 { "internal" } else { "public" },
                "isPerson": i % 5 == 0, "publicationConsent": false,
                "sources": [{"document": "test", "title": "Test", "publisher": null, "date": "2026", "url": null}]
            })
        })
        .collect();
    json!({"format": "rbn-registry-dataset", "formatVersion": 1, "contacts": contacts})
}

// ---------------------------------------------------------------------------------------------------------

fn the_export_streams_every_page_and_revalidates_by_the_snapshot_version(backend: Backend) {
    let app = spawn_app_with(&backend, Options { seed: true, ..Default::default() });
    app.db.import(&many_contacts(1234), &Actor::default()).expect("import the contacts");
    let anon = app.anonymous();

    let reply = anon.get(EXPORT);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-length"), None, "streamed, so its length is not known up front");
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    // The bytes of the document rendered at once, as the export always wrote it.
    let dataset = reply.json();
    let mut rendered = serde_json::to_vec_pretty(&dataset).unwrap();
    rendered.push(b'\n');
    assert!(rendered == reply.body, "the streamed export is not the pretty-printed document");
    // Every record an anonymous reader may see, in id order, across the pages the export reads in.
    for section in SECTIONS {
        let listed = anon.all(&format!("/v1/{section}?limit=500"));
        assert_eq!(dataset[section].as_array().unwrap(), &listed, "{section}");
    }
    let contacts = dataset["contacts"].as_array().unwrap();
    assert!(contacts.len() > 1000, "{} contacts", contacts.len());
    assert!(contacts.iter().all(|c| c["visibility"] == "public"));
    assert!(contacts.iter().filter(|c| c["isPerson"] == true).all(|c| c["email"].is_null()));
    assert!(!dataset["facts"].as_array().unwrap().is_empty());

    // The same state, the same validator and bytes; a revalidation is answered without the body, with a
    // key as without (the read cache takes If-None-Match off anonymous requests to fill itself).
    let etag = reply.etag();
    let again = anon.get(EXPORT);
    assert_eq!(again.etag(), etag);
    assert!(again.body == reply.body);
    for client in [anon.clone(), app.admin()] {
        let revalidated = client.get_with(EXPORT, &[("If-None-Match", &etag)]);
        assert_eq!(revalidated.status, 304, "{}", revalidated.text());
        assert!(revalidated.body.is_empty());
        assert_eq!(revalidated.etag(), etag);
    }
    let head = anon.send("HEAD", EXPORT, &[], None);
    assert_eq!(head.status, 200);
    assert_eq!(head.etag(), etag);
    assert!(head.body.is_empty());

    // `rbn import` reads it, and the registry it makes exports the same bytes.
    let target = TestDatabase::new(&backend);
    rbn(&target.url, &["migrate"], None);
    rbn(&target.url, &["import", "-"], Some(&reply.body));
    assert!(rbn(&target.url, &["export"], None) == reply.body, "export → import → export differs");

    // A write gives another validator, and the old one no longer answers 304.
    let admin = app.admin();
    let contact = &contacts[contacts.len() / 2];
    let path = format!("/v1/contacts/{}", contact["id"].as_str().unwrap());
    let current = admin.get(&path);
    let changed = admin.patch(&path, &current.etag(), &json!({"function": "Koordination (neu)"}));
    assert_eq!(changed.status, 200, "{}", changed.text());
    let after = anon.get_with(EXPORT, &[("If-None-Match", &etag)]);
    assert_eq!(after.status, 200);
    assert_ne!(after.etag(), etag);
    assert!(after.text().contains("Koordination (neu)"));
    assert_eq!(anon.get_with(EXPORT, &[("If-None-Match", &after.etag())]).status, 304);
}

// ---------------------------------------------------------------------------------------------------------

/// A request for the export whose answer is read only as far as its first bytes.
struct StalledDownload {
    stream: TcpStream,
    received: Vec<u8>,
}

impl StalledDownload {
    fn start(app: &TestApp) -> StalledDownload {
        let mut stream = TcpStream::connect(app.address.trim_start_matches("http://")).unwrap();
        write!(stream, "GET {EXPORT} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut received = vec![0; 4096];
        let read = stream.read(&mut received).unwrap();
        received.truncate(read);
        assert!(received.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&received));
        StalledDownload { stream, received }
    }

    /// Reads the rest, until the service closes the connection.
    fn rest(mut self) -> Vec<u8> {
        let _ = self.stream.read_to_end(&mut self.received);
        self.received
    }
}

fn a_download_that_is_not_read_gives_up_its_snapshot(backend: Backend) {
    let http = HttpConfig { request_timeout: Duration::from_secs(2), ..Default::default() };
    let app = spawn_app_with(&backend, Options { seed: true, http });
    // Tens of megabytes: far more than the pipe and the sockets' buffers hold.
    let insert = "INSERT INTO contacts (id, network_id, body_id, district_key, name, function, organisation, email, \
                  phone, address, visibility, is_person, publication_consent, sources, created_at, updated_at)";
    let select = "SELECT 'c0ffee00-0000-4000-8000-' || {hex}, NULL, NULL, 1, 'Servicestelle ' || {i}, \
                  'Koordination der Bildungsnetzwerke im Regierungsbezirk', 'Bezirksregierung Düsseldorf', \
                  'servicestelle' || {i} || '@example.org', '+49 211 475 0000', NULL, 'public', 0, 0, \
                  '[{\"document\":\"test\",\"title\":\"Erzeugt für den Test\",\"publisher\":null,\"date\":\"2026\",\"url\":null}]', \
                  '2026-01-01 00:00:00', '2026-01-01 00:00:00'";
    execute(&app.database.url, &generated(&backend, 40_000, insert, select));
    let anon = app.anonymous();

    // As many downloads as are streamed at once, none of them read: the next one is refused, for now.
    let stalled: Vec<StalledDownload> =
        (0..rbn_registry::http::exports::CONCURRENT_EXPORTS).map(|_| StalledDownload::start(&app)).collect();
    let refused = anon.get(EXPORT);
    let problem = refused.problem(503);
    assert_eq!(problem["type"], "urn:rbn:problem:busy");
    assert!(refused.header("retry-after").is_some());
    // They read on connections of their own: the pool still serves everyone else.
    let started = Instant::now();
    assert_eq!(anon.get("/v1/networks?limit=5").status, 200);
    assert!(started.elapsed() < Duration::from_secs(1), "a read waited {:?}", started.elapsed());

    // Once they have read nothing for the request time-out, the stalled downloads let go.
    let deadline = Instant::now() + Duration::from_secs(30);
    let complete = loop {
        let reply = anon.get(EXPORT);
        if reply.status == 200 {
            break reply;
        }
        assert_eq!(reply.status, 503, "{}", reply.text());
        assert!(Instant::now() < deadline, "the stalled downloads still hold their snapshots");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(complete.json()["contacts"].as_array().unwrap().len() > 40_000);

    // A download given up is broken for its client: the body ends without the last chunk of HTTP/1.1's
    // chunked coding, so it cannot pass for a complete (if short) document.
    for download in stalled {
        let received = download.rest();
        assert!(received.len() < complete.body.len(), "the whole export arrived after all");
        assert!(!received.ends_with(b"0\r\n\r\n"), "a broken download ended like a complete one");
    }
}

// ---------------------------------------------------------------------------------------------------------

/// Every entry of the change feed, as an admin sees it, in sequence order.
fn whole_feed(admin: &Client) -> Vec<Value> {
    admin.all("/v1/changes?limit=500")
}

fn the_change_feed_since_a_time_is_exact_in_sequence_order(backend: Backend) {
    let app = spawn_app_with(&backend, Options::default());
    // History: deleted records, one change each, an hour apart from 2020 on.
    let history = generated(
        &backend,
        3000,
        "INSERT INTO changes (resource_id, kind, seq, updated_at, deleted)",
        match backend {
            Backend::Sqlite => {
                "SELECT 'fee1dead-0000-4000-8000-' || {hex}, CASE {i} % 3 WHEN 0 THEN 'contacts' WHEN 1 THEN 'bodies' \
                 ELSE 'contracts' END, {i}, datetime(1577836800 + {i} * 3600, 'unixepoch'), 1"
            }
            Backend::Postgres(_) => {
                "SELECT 'fee1dead-0000-4000-8000-' || {hex}, CASE {i} % 3 WHEN 0 THEN 'contacts' WHEN 1 THEN 'bodies' \
                 ELSE 'contracts' END, {i}, to_timestamp(1577836800 + {i} * 3600) AT TIME ZONE 'UTC', 1"
            }
        },
    );
    execute(&app.database.url, &history);
    // An import keeps the times of its file: within it, sequence and time disagree.
    let hour = |h: i64| (chrono::Utc::now() + chrono::Duration::hours(h)).to_rfc3339();
    let networks: Vec<Value> = [("05158", 3), ("05111", 1), ("05162", 2)]
        .iter()
        .map(|(region, h)| {
            json!({"id": uuid::Uuid::new_v4(), "slug": format!("netz-{region}"), "name": format!("Netz {region}"),
                   "regionKey": region, "updatedAt": hour(*h), "createdAt": hour(0)})
        })
        .collect();
    let file = json!({"format": "rbn-registry-dataset", "formatVersion": 1, "networks": networks});
    app.db.import(&file, &Actor::default()).expect("import");
    // Then writes through the API, after all of that.
    let admin = app.admin();
    for i in 0..12 {
        let contact =
            admin.create("contacts", &json!({"districtKey": 1, "name": format!("Kontakt {i}"), "isPerson": false}));
        if i % 4 == 0 {
            let path = format!("/v1/contacts/{}", contact["id"].as_str().unwrap());
            assert_eq!(admin.delete(&path, &admin.get(&path).etag()).status, 204);
        }
    }

    let feed = whole_feed(&admin);
    assert!(feed.len() > 3000);
    let time = |entry: &Value| chrono::DateTime::parse_from_rfc3339(entry["updatedAt"].as_str().unwrap()).unwrap();
    let mut marks: Vec<String> = [0, 1, 1500, 2999, 3000, 3001, 3002, feed.len() - 5, feed.len() - 1]
        .iter()
        .map(|&i| feed[i]["updatedAt"].as_str().unwrap().to_string())
        .collect();
    marks.push(hour(24));
    for mark in &marks {
        let since = chrono::DateTime::parse_from_rfc3339(mark).unwrap();
        for types in [None, Some("contacts"), Some("networks,contacts"), Some("contracts,bodies")] {
            let wanted: Vec<&Value> = feed
                .iter()
                .filter(|entry| time(entry) >= since)
                .filter(|entry| types.is_none_or(|types| types.split(',').any(|t| t == entry["type"])))
                .collect();
            let filter = types.map(|t| format!("&type={t}")).unwrap_or_default();
            let mark = mark.replace('+', "%2B");
            for limit in [500, 7] {
                if limit == 7 && wanted.len() > 100 {
                    continue;
                }
                let got = admin.all(&format!("/v1/changes?modifiedSince={mark}{filter}&limit={limit}"));
                let seqs = |entries: &[&Value]| entries.iter().map(|e| e["seq"].as_i64().unwrap()).collect::<Vec<_>>();
                assert_eq!(
                    seqs(&got.iter().collect::<Vec<_>>()),
                    seqs(&wanted),
                    "modifiedSince={mark}{filter}&limit={limit}"
                );
            }
        }
    }
}
