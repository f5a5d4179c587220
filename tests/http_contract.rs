//! The HTTP contract every consumer relies on: the OpenAPI document, problem+json on every error path,
//! the headers of every response, CORS, discovery and operations endpoints.

mod common;

use common::{Backend, spawn_app};
use serde_json::{Value, json};

backend_tests!(
    openapi_document_matches_the_committed_one,
    every_error_path_is_problem_json,
    every_response_has_the_common_headers,
    cors_allows_reads_from_any_origin,
    discovery_and_operations,
    head_answers_every_get_route_without_a_body,
);

fn openapi_document_matches_the_committed_one(backend: Backend) {
    let app = spawn_app(&backend);
    let served = app.anonymous().get("/v1/openapi.json");
    assert_eq!(served.status, 200);
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap();
    assert!(
        served.text() == committed,
        "openapi/openapi.json is out of date: regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
    let document = served.json();
    assert_eq!(document["openapi"], "3.1.0");
    // Every route of the service is documented.
    for path in [
        "/v1",
        "/v1/networks",
        "/v1/networks/{id}",
        "/v1/networks/{id}/contracts",
        "/v1/networks/{id}/bodies",
        "/v1/networks/{id}/handlungsfelder",
        "/v1/networks/{id}/contacts",
        "/v1/networks/{id}/handlungsfelder/{handlungsfeld}",
        "/v1/contracts",
        "/v1/contracts/{id}",
        "/v1/bodies",
        "/v1/bodies/{id}",
        "/v1/handlungsfelder",
        "/v1/handlungsfelder/{id}",
        "/v1/contacts",
        "/v1/contacts/{id}",
        "/v1/districts",
        "/v1/districts/{key}",
        "/v1/regions",
        "/v1/regions/{key}",
        "/v1/changes",
        "/v1/audit",
        "/v1/api-keys",
        "/v1/api-keys/{id}",
        "/v1/exports/dataset.json",
        "/v1/exports/{file}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/openapi.json",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path} is not documented");
    }
    let delete = &document["paths"]["/v1/networks/{id}"]["delete"];
    assert!(delete["description"].as_str().unwrap().contains("409"), "the refusal to cascade is documented");
    assert!(delete["responses"].get("409").is_some() && delete["responses"].get("428").is_some());
    assert_eq!(document["components"]["securitySchemes"]["apiKey"]["scheme"], "bearer");
}

#[test]
fn rbn_openapi_prints_the_committed_document() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rbn")).arg("openapi").output().unwrap();
    assert!(output.status.success());
    let committed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap();
    assert!(
        output.stdout == committed,
        "regenerate openapi/openapi.json with `cargo run -- openapi > openapi/openapi.json`"
    );
}

fn every_error_path_is_problem_json(backend: Backend) {
    let app = spawn_app(&backend);
    let anon = app.anonymous();
    let admin = app.admin();
    anon.get("/no/such/route").problem(404);
    anon.get("/v1/networks/0190b7e2-3c4d-7a1b-9f00-1234567890ab").problem(404);
    anon.get("/v1/networks/../../etc/passwd").problem(404);
    anon.send("DELETE", "/v1/networks", &[], None).problem(405);
    anon.send("PATCH", "/v1/regions/05158", &[], None).problem(405);
    anon.post("/v1/networks", &json!({})).problem(401);
    app.with_key("rbn_not-a-key").get("/v1/networks").problem(401);
    admin.send("POST", "/v1/networks", &[("Content-Type", "application/xml")], Some(b"<a/>")).problem(415);
    let big = vec![b' '; 300 * 1024];
    admin.send("POST", "/v1/networks", &[("Content-Type", "application/json")], Some(&big)).problem(413);
    let network = admin.create("networks", &common::network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    admin.send("PATCH", &path, &[("Content-Type", "application/merge-patch+json")], Some(b"{}")).problem(428);
    admin.patch(&path, "\"stale\"", &json!({"name": "x"})).problem(412);
    admin
        .send("PATCH", &path, &[("Content-Type", "application/merge-patch+json"), ("If-Match", "*")], Some(b"[]"))
        .problem(400);
    admin.post("/v1/networks", &common::network_body("kreis-mettmann", "05162")).problem(409);
    // A 500 never leaks internals; a 401 says how to authenticate.
    let unauthorized = anon.post("/v1/networks", &json!({}));
    assert_eq!(unauthorized.header("www-authenticate"), Some("Bearer realm=\"rbn-registry\""));
}

fn every_response_has_the_common_headers(backend: Backend) {
    let app = spawn_app(&backend);
    let anon = app.anonymous();
    for reply in [
        anon.get("/v1/networks"),
        anon.get("/nowhere"),
        anon.get("/healthz"),
        anon.send("PUT", "/v1/networks", &[], None),
    ] {
        assert_eq!(reply.header("api-version"), Some("1"));
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        assert!(reply.header("content-security-policy").unwrap().contains("default-src 'none'"));
        assert!(!reply.header("x-request-id").unwrap().is_empty());
    }
    // The client's request id is honoured; otherwise each request gets its own.
    let mine = anon.get_with("/v1/networks", &[("X-Request-Id", "website-abc-123")]);
    assert_eq!(mine.header("x-request-id"), Some("website-abc-123"));
    assert_ne!(anon.get("/healthz").header("x-request-id"), anon.get("/healthz").header("x-request-id"));
    // Swagger UI (vendored) works without the restrictive policy.
    let docs = anon.get("/docs/");
    assert_eq!(docs.status, 200);
    assert!(docs.text().contains("swagger"), "{}", docs.text());
    assert!(docs.header("content-security-policy").is_none());
    assert_eq!(anon.get("/docs").status, 308);
}

fn cors_allows_reads_from_any_origin(backend: Backend) {
    let app = spawn_app(&backend);
    let anon = app.anonymous();
    let read = anon.get_with("/v1/networks", &[("Origin", "https://bildung.kreis-mettmann.de")]);
    assert_eq!(read.header("access-control-allow-origin"), Some("https://bildung.kreis-mettmann.de"));
    let exposed = read.header("access-control-expose-headers").unwrap().to_ascii_lowercase();
    for header in ["etag", "link", "location", "x-request-id", "api-version"] {
        assert!(exposed.contains(header), "{header} not exposed: {exposed}");
    }
    let preflight = anon.send(
        "OPTIONS",
        "/v1/networks/kreis-mettmann",
        &[
            ("Origin", "https://bildung.kreis-mettmann.de"),
            ("Access-Control-Request-Method", "PATCH"),
            ("Access-Control-Request-Headers", "authorization, if-match, if-none-match, content-type"),
        ],
        None,
    );
    assert!(preflight.status == 200 || preflight.status == 204, "{} {}", preflight.status, preflight.text());
    let allowed = preflight.header("access-control-allow-headers").unwrap().to_ascii_lowercase();
    for header in ["authorization", "if-match", "if-none-match", "content-type"] {
        assert!(allowed.contains(header), "{header} not allowed: {allowed}");
    }
}

fn discovery_and_operations(backend: Backend) {
    let app = spawn_app(&backend);
    let anon = app.anonymous();
    let discovery = anon.get("/v1").json();
    assert_eq!(discovery["name"], "rbn-registry");
    assert_eq!(discovery["licence"]["id"], "dl-de/by-2-0");
    for link in [
        "openapi",
        "docs",
        "networks",
        "contracts",
        "bodies",
        "handlungsfelder",
        "contacts",
        "meetings",
        "calendar",
        "districts",
        "regions",
        "changes",
    ] {
        let target = discovery["links"][link].as_str().unwrap();
        let status = anon.get(target).status;
        assert!(status == 200 || status == 308, "{link} → {target}: {status}");
    }
    assert!(discovery["lastChange"].is_null(), "nothing written yet");
    app.admin().create("networks", &common::network_body("kreis-mettmann", "05158"));
    assert!(anon.get("/v1").json()["lastChange"].as_str().unwrap().ends_with('Z'));
    assert_eq!(anon.get("/healthz").json()["status"], "ok");
    assert_eq!(anon.get("/readyz").json()["status"], "ready");
    let metrics = anon.get("/metrics");
    assert!(metrics.header("content-type").unwrap().starts_with("text/plain"));
    assert!(metrics.text().contains("rbn_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"));
}

/// What linters and client generators read: servers and contact, `/metrics` as text, the 400 of revoking
/// a key, and the headers every response repeats stated once, in `components/headers`.
#[test]
fn openapi_states_shared_parts_once() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap();
    // About 45 KB a resource of the usual shape (meetings, the sixth, took it from 276 to 322 KB); webhooks
    // added eight operations and the `webhooks` entry (about 38 KB).
    assert!(text.len() < 380_000, "the document grew to {} bytes", text.len());
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["servers"][0]["url"], "/");
    assert!(document["info"]["contact"]["name"].is_string());
    let metrics = &document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]["text/plain"];
    assert_eq!(metrics["schema"], json!({"type": "string"}));
    assert!(metrics["example"].as_str().unwrap().contains("# TYPE rbn_http_requests_total counter"));
    assert!(document["paths"]["/v1/api-keys/{id}"]["delete"]["responses"]["400"].is_object());
    let shared = document["components"]["headers"].as_object().unwrap();
    for name in ["X-Request-Id", "API-Version", "X-Content-Type-Options", "Referrer-Policy", "ETag"] {
        assert!(shared.contains_key(name), "components/headers has no {name}");
    }
    let mut responses = 0;
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for response in operation["responses"].as_object().unwrap().values() {
                let response = match response["$ref"].as_str() {
                    Some(reference) => &document["components"]["responses"][reference.rsplit('/').next().unwrap()],
                    None => response,
                };
                let headers = response["headers"].as_object().unwrap();
                for name in ["X-Request-Id", "API-Version", "X-Content-Type-Options", "Referrer-Policy"] {
                    assert_eq!(headers[name], json!({"$ref": format!("#/components/headers/{name}")}));
                }
                responses += 1;
            }
        }
    }
    assert!(responses > 300, "{responses}");
}

/// HEAD on every GET route: the GET's status and headers, no body (RFC 9110 §9.3.2); every 405's `Allow`
/// names HEAD where it names GET. (HEAD used to be a 405 everywhere.)
fn head_answers_every_get_route_without_a_body(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create("networks", &common::network_body("kreis-mettmann", "05158"));
    let id = network["id"].as_str().unwrap();
    let paths = [
        "/v1".to_string(),
        "/v1/networks".into(),
        "/v1/networks?limit=1".into(),
        format!("/v1/networks/{id}"),
        "/v1/networks/kreis-mettmann?expand=contracts,bodies".into(),
        format!("/v1/networks/{id}/contacts"),
        "/v1/regions".into(),
        "/v1/regions/05158".into(),
        "/v1/districts/1".into(),
        "/v1/contracts".into(),
        "/v1/handlungsfelder".into(),
        "/v1/changes".into(),
        "/v1/openapi.json".into(),
        "/v1/exports/dataset.json".into(),
        "/v1/exports/networks.csv".into(),
        "/healthz".into(),
        "/readyz".into(),
        "/metrics".into(),
        "/v1/networks/nicht-da".into(),
        "/v1/networks?unbekannt=1".into(),
    ];
    // How a message is framed (a length, or chunks) is no header of the representation: a streamed GET is
    // chunked, and a HEAD answered from the read cache's copy of it says its length.
    let volatile = ["date", "x-request-id", "content-length", "transfer-encoding"];
    for client in [app.anonymous(), admin.clone()] {
        for path in &paths {
            let get = client.get(path);
            let head = client.send("HEAD", path, &[], None);
            assert_eq!(head.status, get.status, "HEAD {path}");
            assert!(head.body.is_empty(), "HEAD {path} has a body");
            let same = |reply: &common::Reply| {
                let mut headers: Vec<_> =
                    reply.headers.iter().filter(|(n, _)| !volatile.contains(&n.as_str())).collect();
                headers.sort();
                headers.into_iter().map(|(n, v)| format!("{n}: {v}")).collect::<Vec<_>>()
            };
            if !path.starts_with("/metrics") && !path.starts_with("/v1/changes") && path != "/v1" {
                assert_eq!(same(&head), same(&get), "HEAD {path}: the GET's headers");
            }
            if get.status == 200 && !path.starts_with("/metrics") {
                // A streamed answer (the dataset export) has no length up front, for HEAD as for GET.
                match get.header("content-length") {
                    Some(length) => {
                        assert_eq!(length, get.body.len().to_string(), "GET {path}");
                        assert_eq!(head.header("content-length"), Some(length), "HEAD {path}");
                    }
                    None => match head.header("content-length") {
                        Some(length) => assert_eq!(length, get.body.len().to_string(), "HEAD {path}"),
                        None => assert_eq!(head.header("transfer-encoding"), Some("chunked"), "HEAD {path}"),
                    },
                }
                if let Some(etag) = get.header("etag") {
                    let revalidated = client.send("HEAD", path, &[("If-None-Match", etag)], None);
                    assert_eq!(revalidated.status, 304, "HEAD {path} with the ETag");
                }
            }
        }
    }
    for (method, path) in
        [("DELETE", "/v1/networks"), ("POST", "/v1/regions"), ("PUT", "/v1/changes"), ("POST", "/healthz")]
    {
        let reply = app.anonymous().send(method, path, &[], None);
        reply.problem(405);
        let allow: Vec<String> = reply.header("allow").unwrap().split(',').map(|m| m.trim().to_string()).collect();
        assert!(
            allow.contains(&"GET".to_string()) && allow.contains(&"HEAD".to_string()),
            "{method} {path}: {allow:?}"
        );
        assert!(!allow.contains(&method.to_string()), "{method} {path}: {allow:?}");
    }
}
