//! `/metrics` as a monitoring system reads it: parsed by the reference Prometheus parser (Python's
//! `prometheus_client.parser`, see tests/metrics/parse.py), with series one can alert on.

mod common;

use common::{Backend, Options, python_with, run_python, spawn_app_with};
use serde_json::{Value, json};

/// The exposition parsed by the reference parser: family name → {type, samples}.
fn parse(text: &str) -> Option<Value> {
    let python = python_with("prometheus_client.parser", "RBN_PROMETHEUS_PYTHON")?;
    Some(run_python(&python, "tests/metrics/parse.py", text))
}

/// The value of the sample `name` whose labels include `labels`.
fn sample(families: &Value, family: &str, name: &str, labels: &Value) -> Option<f64> {
    families[family]["samples"].as_array()?.iter().find_map(|s| {
        let matches = s["name"] == name && labels.as_object().unwrap().iter().all(|(k, v)| s["labels"][k] == *v);
        matches.then(|| s["value"].as_f64().unwrap())
    })
}

fn metrics_parse_and_say_what_happened(backend: Backend) {
    let app = spawn_app_with(&backend, Options { seed: true, ..Default::default() });
    let anon = app.anonymous();
    let admin = app.admin();
    for _ in 0..3 {
        assert_eq!(anon.get("/v1/networks/kreis-mettmann").status, 200);
    }
    assert_eq!(anon.get("/v1/networks/no-such-network").status, 404);
    assert_eq!(anon.get("/no/such/path").status, 404);
    let etag = admin.get("/v1/networks/kreis-mettmann").etag();
    assert_eq!(admin.patch("/v1/networks/kreis-mettmann", &etag, &json!({"description": "x"})).status, 200);
    // Compressed twice from the read cache (compressed once) and once on the fly (with a key).
    for client in [&anon, &anon, &admin] {
        let reply = client.get_with("/v1/openapi.json", &[("Accept-Encoding", "gzip")]);
        assert_eq!(reply.header("content-encoding"), Some("gzip"));
    }

    // Made-up methods: answered 405, and counted under one label however many there are.
    for i in 0..20 {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(app.address.trim_start_matches("http://")).unwrap();
        write!(stream, "MADEUP{i} /v1/networks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    }

    let reply = anon.get("/metrics");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = reply.text();
    // Raw paths never become labels: the series stay few however many ids are asked for.
    assert!(!text.contains("kreis-mettmann") && !text.contains("no/such"), "{text}");
    let Some(families) = parse(&text) else {
        eprintln!("python3 has no prometheus_client: the exposition was not parsed");
        return;
    };
    let network = json!({"method": "GET", "route": "/v1/networks/{id}"});
    let ok = json!({"method": "GET", "route": "/v1/networks/{id}", "status": "200"});
    assert_eq!(families["rbn_http_requests"]["type"], "counter");
    assert_eq!(sample(&families, "rbn_http_requests", "rbn_http_requests_total", &ok), Some(4.0));
    let missing = json!({"route": "/v1/networks/{id}", "status": "404"});
    assert_eq!(sample(&families, "rbn_http_requests", "rbn_http_requests_total", &missing), Some(1.0));
    let unmatched = json!({"route": "(unmatched)", "status": "404"});
    assert_eq!(sample(&families, "rbn_http_requests", "rbn_http_requests_total", &unmatched), Some(1.0));
    assert!(!text.contains("MADEUP"), "{text}");
    let other = json!({"method": "OTHER", "route": "/v1/networks", "status": "405"});
    assert_eq!(sample(&families, "rbn_http_requests", "rbn_http_requests_total", &other), Some(20.0));
    let patched = json!({"method": "PATCH", "route": "/v1/networks/{id}", "status": "200"});
    assert_eq!(sample(&families, "rbn_http_requests", "rbn_http_requests_total", &patched), Some(1.0));
    // A histogram per route: 5 GETs of a network (4 answered, 1 not found), every one in the +Inf bucket.
    let histogram = "rbn_http_request_duration_seconds";
    assert_eq!(families[histogram]["type"], "histogram");
    assert_eq!(sample(&families, histogram, &format!("{histogram}_count"), &network), Some(5.0));
    let inf = json!({"method": "GET", "route": "/v1/networks/{id}", "le": "+Inf"});
    assert_eq!(sample(&families, histogram, &format!("{histogram}_bucket"), &inf), Some(5.0));
    assert!(sample(&families, histogram, &format!("{histogram}_sum"), &network).unwrap() > 0.0);
    // The scrape itself is in flight.
    assert_eq!(sample(&families, "rbn_http_requests_in_flight", "rbn_http_requests_in_flight", &json!({})), Some(1.0));
    // The read cache answered the second and third anonymous read.
    let hits = sample(&families, "rbn_read_cache_hits", "rbn_read_cache_hits_total", &json!({})).unwrap();
    assert!(hits >= 2.0, "{hits}");
    assert!(sample(&families, "rbn_read_cache_entries", "rbn_read_cache_entries", &json!({})).unwrap() >= 1.0);
    assert!(sample(&families, "rbn_read_cache_bytes", "rbn_read_cache_bytes", &json!({})).unwrap() > 100.0);
    let compressions = "rbn_http_compressions";
    assert_eq!(families[compressions]["type"], "counter");
    let total = format!("{compressions}_total");
    assert_eq!(sample(&families, compressions, &total, &json!({"encoding": "gzip", "mode": "cached"})), Some(1.0));
    assert_eq!(sample(&families, compressions, &total, &json!({"encoding": "gzip", "mode": "on_the_fly"})), Some(1.0));
    // The pool: its size (the tests open 4), what is open and idle, how checkouts went.
    let one = |family: &str, name: &str| sample(&families, family, name, &json!({})).unwrap();
    assert_eq!(one("rbn_db_pool_max_connections", "rbn_db_pool_max_connections"), 4.0);
    let open = one("rbn_db_pool_connections", "rbn_db_pool_connections");
    assert!((1.0..=4.0).contains(&open), "{open}");
    assert!(one("rbn_db_pool_idle_connections", "rbn_db_pool_idle_connections") <= open);
    assert!(one("rbn_db_pool_checkouts", "rbn_db_pool_checkouts_total") >= 3.0);
    assert!(one("rbn_db_pool_waits", "rbn_db_pool_waits_total") >= 0.0);
    assert!(one("rbn_db_pool_wait_seconds", "rbn_db_pool_wait_seconds_total") >= 0.0);
    assert_eq!(one("rbn_db_pool_timeouts", "rbn_db_pool_timeouts_total"), 0.0);
    // The process's resident memory, as /proc says: more than a megabyte, less than a gigabyte.
    let rss = one("process_resident_memory_bytes", "process_resident_memory_bytes");
    assert!((1e6..1e9).contains(&rss), "{rss}");
}

backend_tests!(metrics_parse_and_say_what_happened);
