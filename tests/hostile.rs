//! Bad input under fire: a table of hostile or broken requests. Each must be a clean 4xx problem+json,
//! leave the data unchanged and the service healthy.

mod common;

use common::{Backend, Reply, spawn_app};
use serde_json::{Value, json};

backend_tests!(
    hostile_requests_are_clean_4xx_and_change_nothing,
    a_cursor_with_a_multibyte_character_is_a_400_on_every_list,
    nul_bytes_in_the_url_or_body_are_clean_4xx,
    racing_creates_of_a_unique_value_are_one_201_and_clean_409s,
    the_bearer_scheme_is_case_insensitive,
    an_overlong_url_is_answered,
    csv_cells_are_no_formulas_with_either_list_separator,
);

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    status: u16,
}

fn case(what: &'static str, method: &'static str, path: impl Into<String>, status: u16) -> Case {
    Case { what, method, path: path.into(), headers: Vec::new(), body: None, status }
}

impl Case {
    fn json(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.headers.push(("Content-Type", "application/json".into()));
        self.body = Some(body.into());
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = Some(body.into());
        self
    }
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn hostile_requests_are_clean_4xx_and_change_nothing(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create("networks", &common::network_body("kreis-mettmann", "05158"));
    let id = network["id"].as_str().unwrap().to_string();
    let net = format!("/v1/networks/{id}");
    let etag = admin.get(&net).etag();
    let valid = |slug: &str, region: &str| json!({"slug": slug, "name": "Netz", "regionKey": region});
    let with_name = |name: &str| json!({"slug": "neu", "name": name, "regionKey": "05162"}).to_string();

    let cases = vec![
        // SQL-like strings where they cannot be valid.
        case("sql in id", "GET", "/v1/networks/1'%20OR%20'1'='1", 404),
        case("sql in contract id", "GET", "/v1/contracts/1;DROP%20TABLE%20contracts", 404),
        case("sql in district", "GET", "/v1/networks?district=1%20OR%201=1", 400),
        case("sql in limit", "GET", "/v1/networks?limit=1;DELETE%20FROM%20networks", 400),
        case("sql in status", "GET", "/v1/networks?status=active'--", 400),
        case("sql in slug", "POST", "/v1/networks", 400).json(valid("x'; DROP TABLE networks;--", "05162").to_string()),
        case("sql in regionKey", "POST", "/v1/networks", 400).json(valid("neu", "05162' OR '1'='1").to_string()),
        case("sql in networkId", "POST", "/v1/contracts", 400).json(r#"{"networkId":"' OR 1=1 --","kind":"founding"}"#),
        case("sql in body filter", "GET", "/v1/contacts?body=1%27%20OR%201%3D1", 400),
        case("sql in modifiedSince", "GET", "/v1/networks?modifiedSince=2020'--", 400),
        // Huge and deeply nested JSON.
        case("body over the limit", "POST", "/v1/networks", 413).json(with_name(&"x".repeat(300 * 1024))),
        case("deeply nested array", "POST", "/v1/networks", 400).json(nested(5000)),
        case("deeply nested object", "POST", "/v1/networks", 400).json(format!("{}1{}", "{\"a\":".repeat(3000), "}".repeat(3000))),
        case("nested in a field", "POST", "/v1/networks", 400).json(format!(r#"{{"slug":"neu","name":{},"regionKey":"05162"}}"#, nested(200))),
        case("many unknown fields", "POST", "/v1/networks", 400).json(format!("{{{}\"slug\":\"neu\"}}", (0..2000).map(|i| format!("\"f{i}\":1,")).collect::<String>())),
        case("huge list", "POST", "/v1/contracts", 400).json(json!({"networkId": id, "kind": "founding", "handlungsfeldIds": vec!["0190b7e2-3c4d-7a1b-9f00-1234567890ab"; 1000]}).to_string()),
        case("huge number", "POST", "/v1/contacts", 400).json(r#"{"name":"X","districtKey":1e400}"#),
        // Invalid UTF-8 and control characters.
        case("invalid utf-8 body", "POST", "/v1/networks", 400).json(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']),
        case("invalid utf-8 in a string", "POST", "/v1/networks", 400).json([b"{\"slug\":\"neu\",\"name\":\"".as_slice(), &[0xc3, 0x28], b"\",\"regionKey\":\"05162\"}"].concat()),
        case("invalid utf-8 in the query", "GET", "/v1/networks?district=%FF", 400),
        case("NUL in name", "POST", "/v1/networks", 400).json(with_name("Netz\u{0}")),
        case("escape sequence in name", "POST", "/v1/networks", 400).json(with_name("Netz\u{1b}[31m")),
        case("newline in a one-line field", "POST", "/v1/networks", 400).json(with_name("Netz\nzwei")),
        case("NUL in the query", "GET", "/v1/networks?q=a%00b", 400),
        case("bidi override in slug", "POST", "/v1/networks", 400).json(valid("neu\u{202e}", "05162").to_string()),
        case("umlaut in slug", "POST", "/v1/networks", 400).json(valid("düren", "05358").to_string()),
        // Overlong fields.
        case("overlong name", "POST", "/v1/networks", 400).json(with_name(&"n".repeat(301))),
        case("overlong slug", "POST", "/v1/networks", 400).json(valid(&"a".repeat(101), "05162").to_string()),
        case("overlong description", "PATCH", net.clone(), 400).header("Content-Type", "application/merge-patch+json").header("If-Match", etag.clone()).body(json!({"description": "d".repeat(5001)}).to_string()),
        case("overlong url", "PATCH", net.clone(), 400).header("Content-Type", "application/merge-patch+json").header("If-Match", etag.clone()).body(json!({"website": format!("https://example.org/{}", "p".repeat(2100))}).to_string()),
        case("overlong query value", "GET", format!("/v1/networks?q={}", "q".repeat(300)), 400),
        case("overlong email", "POST", "/v1/contacts", 400).json(json!({"name": "X", "districtKey": 1, "email": format!("{}@example.org", "e".repeat(300))}).to_string()),
        // Wrong content types and shapes.
        case("no content type", "POST", "/v1/networks", 415).body(valid("neu", "05162").to_string()),
        case("text/plain", "POST", "/v1/networks", 415).header("Content-Type", "text/plain").body(valid("neu", "05162").to_string()),
        case("form encoding", "POST", "/v1/networks", 415).header("Content-Type", "application/x-www-form-urlencoded").body("slug=neu"),
        case("xml", "PUT", net.clone(), 415).header("Content-Type", "application/xml").header("If-Match", etag.clone()).body("<network/>"),
        case("merge-patch on POST", "POST", "/v1/networks", 415).header("Content-Type", "application/merge-patch+json").body(valid("neu", "05162").to_string()),
        case("multipart", "POST", "/v1/contacts", 415).header("Content-Type", "multipart/form-data; boundary=x").body("--x--"),
        case("JSON null body", "POST", "/v1/networks", 400).json("null"),
        case("JSON array body", "POST", "/v1/bodies", 400).json("[]"),
        case("JSON string body", "POST", "/v1/handlungsfelder", 400).json("\"text\""),
        case("trailing garbage", "POST", "/v1/networks", 400).json(format!("{} x", valid("neu", "05162"))),
        case("truncated JSON", "POST", "/v1/networks", 400).json("{\"slug\": \"neu\""),
        case("empty body", "POST", "/v1/networks", 400).json(""),
        case("patch removing an unknown field", "PATCH", net.clone(), 400).header("Content-Type", "application/merge-patch+json").header("If-Match", etag.clone()).body("{\"\": null, \"nope\": null}"),
        case("patch with an array", "PATCH", net.clone(), 400).header("Content-Type", "application/merge-patch+json").header("If-Match", etag.clone()).body("[{\"op\":\"remove\",\"path\":\"/name\"}]"),
        case("wrong types", "POST", "/v1/networks", 400).json(r#"{"slug":true,"name":{},"regionKey":5158}"#),
        // Duplicate keys.
        case("duplicate key", "POST", "/v1/networks", 400).json(r#"{"slug":"neu","slug":"neu2","name":"N","regionKey":"05162"}"#),
        case("duplicate nested key", "POST", "/v1/contacts", 400).json(r#"{"name":"X","districtKey":1,"address":{"city":"A","city":"B"}}"#),
        // Path traversal in ids and slugs.
        case("traversal in id", "GET", "/v1/networks/..%2F..%2Fetc%2Fpasswd", 404),
        case("dot segments", "GET", "/v1/contracts/%2e%2e", 404),
        case("traversal in export", "GET", "/v1/exports/..%2F..%2Fetc%2Fpasswd.csv", 404),
        case("traversal in slug", "POST", "/v1/networks", 400).json(valid("../../etc", "05162").to_string()),
        case("backslash in id", "DELETE", "/v1/bodies/..%5C..%5Cwindows", 404).header("If-Match", "*"),
        case("traversal in region key", "GET", "/v1/regions/..%2F05158", 404),
        // Enormous limits and cursors, forged cursors.
        case("enormous limit", "GET", "/v1/networks?limit=99999999999999999999999", 400),
        case("negative limit", "GET", "/v1/networks?limit=-1", 400),
        case("limit zero", "GET", "/v1/contacts?limit=0", 400),
        case("fractional limit", "GET", "/v1/bodies?limit=2.5", 400),
        case("enormous cursor", "GET", format!("/v1/networks?cursor={}", "A".repeat(10_000)), 400),
        case("forged cursor", "GET", "/v1/networks?cursor=Zm9yZ2Vk", 400),
        case("forged cursor with a bad uuid", "GET", format!("/v1/networks?cursor={}", "aXxub3QtYS11dWlk"), 400),
        case("cursor of another list", "GET", "/v1/networks?cursor=a3wwNTE1OA", 400),
        case("non-base64 cursor", "GET", "/v1/changes?cursor=%25%25%25", 400),
        case("cursor with sql", "GET", "/v1/changes?cursor=1%20OR%201=1", 400),
        // Headers: preconditions and credentials.
        case("garbage If-Match", "DELETE", net.clone(), 412).header("If-Match", "garbage"),
        case("weak If-Match", "DELETE", net.clone(), 412).header("If-Match", format!("W/{etag}")),
        case("empty If-Match", "DELETE", net.clone(), 428).header("If-Match", ""),
        case("garbage bearer", "POST", "/v1/networks", 401).header("Authorization", "Bearer ' OR 1=1 --").json(valid("neu", "05162").to_string()),
        case("basic auth", "GET", "/v1/networks", 401).header("Authorization", "Basic YWRtaW46YWRtaW4="),
        case("overlong bearer", "GET", "/v1/networks", 401).header("Authorization", format!("Bearer {}", "k".repeat(5000))),
        // Methods and routes.
        case("TRACE", "TRACE", "/v1/networks", 405),
        case("PUT on a collection", "PUT", "/v1/networks", 405),
        case("unknown version", "GET", "/v2/networks", 404),
        case("unknown expand", "GET", format!("{net}?expand=contracts,../secrets"), 400),
        case("unknown filter", "GET", "/v1/networks?where=1", 400),
        case("repeated filter", "GET", "/v1/networks?district=1&district=3", 400),
    ];
    assert!(cases.len() >= 60, "{} cases", cases.len());

    let before = admin.get("/v1/exports/dataset.json").text();
    let changes_before = admin.all("/v1/changes?limit=500");
    for case in &cases {
        // The admin key unless the case brings its own Authorization header.
        let client =
            if case.headers.iter().any(|(n, _)| *n == "Authorization") { app.anonymous() } else { admin.clone() };
        let headers: Vec<(&str, &str)> = case.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = client.send(case.method, &case.path, &headers, case.body.as_deref());
        assert_eq!(reply.status, case.status, "{}: {}", case.what, reply.text());
        assert_eq!(reply.header("content-type"), Some("application/problem+json"), "{}: {}", case.what, reply.text());
        let problem = reply.json();
        assert_eq!(problem["status"], case.status, "{}", case.what);
        assert!(!problem["detail"].as_str().unwrap_or("").is_empty(), "{}", case.what);
        assert!(
            !reply.text().contains("diesel") && !reply.text().contains("panicked"),
            "{}: leaks internals",
            case.what
        );
    }
    assert_eq!(admin.get("/v1/exports/dataset.json").text(), before, "the data is unchanged");
    assert_eq!(admin.all("/v1/changes?limit=500"), changes_before, "nothing was written");
    assert_eq!(app.anonymous().get("/healthz").status, 200);
    assert_eq!(app.anonymous().get("/readyz").status, 200);
}

/// Method, path, headers and body of a request.
type Request<'a> = (&'a str, String, &'a [(&'a str, &'a str)], Option<&'a [u8]>);

/// A problem's JSON, with nothing of the database or of Rust in it.
#[track_caller]
fn clean_problem(reply: &Reply, status: u16, what: &str) -> Value {
    assert_eq!(reply.status, status, "{what}: {}", reply.text());
    let problem = reply.problem(status);
    let text = reply.text();
    for internal in ["diesel", "panicked", "duplicate key", "constraint", "UNIQUE", "invalid byte sequence", "0x00"] {
        assert!(!text.contains(internal), "{what}: leaks internals ({internal}): {text}");
    }
    problem
}

fn a_cursor_with_a_multibyte_character_is_a_400_on_every_list(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create("networks", &common::network_body("kreis-mettmann", "05158"));
    let id = network["id"].as_str().unwrap();
    // 65 bytes after the `c`, a '€' (three bytes) across the boundary at byte 32 of the 64.
    let cursors = [
        "c1111111111111111111111111111111%E2%82%AC000000000000000000000000000000",
        "c111111111111111%E2%82%AC11111111111111000000000000000000000000000000000",
        "c11111111111111111111111111111111111111111111111111111111111111111%E2%82%AC",
        "i%E2%82%AC11111111111111111111111111111",
        "%E2%82%AC",
    ];
    let lists = [
        "/v1/networks".to_string(),
        "/v1/contracts".into(),
        "/v1/bodies".into(),
        "/v1/handlungsfelder".into(),
        "/v1/contacts".into(),
        format!("/v1/networks/{id}/contracts"),
        format!("/v1/networks/{id}/bodies"),
        format!("/v1/networks/{id}/handlungsfelder"),
        "/v1/networks/kreis-mettmann/contacts".into(),
        "/v1/regions".into(),
        "/v1/districts".into(),
        "/v1/changes".into(),
        "/v1/audit".into(),
    ];
    for list in &lists {
        for cursor in cursors {
            let path = format!("{list}?cursor={cursor}");
            // Anonymous where the list is public, as the issue found it.
            let client = if list == "/v1/audit" { admin.clone() } else { app.anonymous() };
            let problem = clean_problem(&client.get(&path), 400, &path);
            assert_eq!(problem["errors"][0]["field"], "cursor", "{path}");
        }
    }
    assert_eq!(app.anonymous().get("/healthz").status, 200);
}

fn nul_bytes_in_the_url_or_body_are_clean_4xx(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create("networks", &common::network_body("kreis-mettmann", "05158"));
    let id = network["id"].as_str().unwrap().to_string();
    let hf = admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    let hf_id = hf["id"].as_str().unwrap().to_string();
    let etag = admin.get(&format!("/v1/networks/{id}")).etag();
    let before = admin.get("/v1/exports/dataset.json").text();

    let bad = "kreis%00mettmann";
    let patch_headers = [("Content-Type", "application/merge-patch+json"), ("If-Match", etag.as_str())];
    let put_headers = [("Content-Type", "application/json"), ("If-Match", etag.as_str())];
    let if_match = [("If-Match", etag.as_str())];
    let body = common::network_body("kreis-mettmann", "05158").to_string();
    let patch = br#"{"description":"x"}"#.as_slice();
    // Ids and slugs in the path: no record has them, on either backend.
    let not_found: Vec<Request> = vec![
        ("GET", format!("/v1/networks/{bad}"), &[], None),
        ("GET", format!("/v1/networks/{bad}?expand=contracts,bodies,handlungsfelder,contacts"), &[], None),
        ("GET", "/v1/networks/%00".into(), &[], None),
        ("GET", format!("/v1/networks/{bad}/contracts"), &[], None),
        ("GET", format!("/v1/networks/{bad}/bodies"), &[], None),
        ("GET", format!("/v1/networks/{bad}/handlungsfelder"), &[], None),
        ("GET", format!("/v1/networks/{bad}/contacts"), &[], None),
        ("PATCH", format!("/v1/networks/{bad}"), &patch_headers, Some(patch)),
        ("PUT", format!("/v1/networks/{bad}"), &put_headers, Some(body.as_bytes())),
        ("DELETE", format!("/v1/networks/{bad}"), &if_match, None),
        ("PUT", format!("/v1/networks/{bad}/handlungsfelder/{hf_id}"), &if_match, None),
        ("DELETE", format!("/v1/networks/{bad}/handlungsfelder/{hf_id}"), &if_match, None),
        ("PUT", format!("/v1/networks/{id}/handlungsfelder/inklusion%00"), &if_match, None),
        ("GET", format!("/v1/contracts/{id}%00"), &[], None),
        ("GET", "/v1/handlungsfelder/inklusion%00".into(), &[], None),
        ("PATCH", format!("/v1/bodies/%00{id}"), &patch_headers, Some(patch)),
        ("DELETE", "/v1/contacts/%00".into(), &if_match, None),
        ("GET", "/v1/regions/0515%00".into(), &[], None),
        ("GET", "/v1/districts/1%00".into(), &[], None),
        ("GET", "/v1/exports/networks%00.csv".into(), &[], None),
        ("DELETE", "/v1/api-keys/%00".into(), &[], None),
    ];
    for (method, path, headers, body) in &not_found {
        let reply = admin.send(method, path, headers, *body);
        clean_problem(&reply, 404, &format!("{method} {path}"));
    }
    // Text in the query string: every filter, anonymous and with a key.
    let queries = [
        "/v1/networks?q=kreis%00".to_string(),
        "/v1/networks?region=05158%00".into(),
        "/v1/networks?handlungsfeld=inklusion%00".into(),
        "/v1/networks?status=active%00".into(),
        "/v1/contracts?network=kreis-mettmann%00".into(),
        "/v1/bodies?network=%00".into(),
        "/v1/contacts?network=kreis%00mettmann".into(),
        "/v1/contacts?q=%00".into(),
        "/v1/contacts?body=%00".into(),
        "/v1/handlungsfelder?q=inklusion%00".into(),
        format!("/v1/networks/{id}?expand=contracts%00"),
        format!("/v1/networks/{id}/contracts?network=%00"),
        "/v1/networks?modifiedSince=2020-01-01T00:00:00Z%00".into(),
        "/v1/networks?cursor=%00".into(),
        "/v1/changes?type=networks%00".into(),
        "/v1/audit?resourceId=%00".into(),
        "/v1/networks?%00=1".into(),
    ];
    for path in &queries {
        clean_problem(&admin.get(path), 400, path);
        if !path.starts_with("/v1/audit") {
            clean_problem(&app.anonymous().get(path), 400, path);
        }
    }
    // Strings in JSON bodies, wherever they are: each is a field error.
    let bodies: [(&str, &str, Value); 8] = [
        ("/v1/networks", "slug", json!({"slug": "neu\u{0}", "name": "N", "regionKey": "05162"})),
        ("/v1/networks", "regionKey", json!({"slug": "neu", "name": "N", "regionKey": "0516\u{0}"})),
        ("/v1/networks", "status", json!({"slug": "neu", "name": "N", "regionKey": "05162", "status": "active\u{0}"})),
        (
            "/v1/networks",
            "sources[0].title",
            json!({"slug": "neu", "name": "N", "regionKey": "05162", "sources": [{"title": "T\u{0}"}]}),
        ),
        ("/v1/handlungsfelder", "description", json!({"slug": "neu", "name": "N", "description": "a\u{0}b"})),
        ("/v1/contacts", "address.city", json!({"name": "X", "districtKey": 1, "address": {"city": "K\u{0}ln"}})),
        ("/v1/api-keys", "name", json!({"name": "k\u{0}", "role": "admin"})),
        ("/v1/networks", "n\u{0}", json!({"slug": "neu", "name": "N", "regionKey": "05162", "n\u{0}": 1})),
    ];
    for (path, field, body) in &bodies {
        let reply = admin.post(path, body);
        clean_problem(&reply, 400, &format!("{path} {field}"));
        assert!(reply.error_fields().contains(&field.to_string()), "{path} {field}: {}", reply.text());
    }
    assert_eq!(admin.get("/v1/exports/dataset.json").text(), before, "nothing changed");
    assert_eq!(app.anonymous().get("/readyz").status, 200);
}

fn racing_creates_of_a_unique_value_are_one_201_and_clean_409s(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    // Sequentially: the 409 names the field.
    admin.create("handlungsfelder", &json!({"slug": "bildung", "name": "Bildung"}));
    let sequential = admin.post("/v1/handlungsfelder", &json!({"slug": "bildung", "name": "Doppelt"}));
    let sequential = clean_problem(&sequential, 409, "sequential slug");
    assert_eq!(sequential["errors"][0]["field"], "slug", "{sequential}");
    admin.create("networks", &common::network_body("kreis-mettmann", "05158"));
    let same_slug = clean_problem(
        &admin.post("/v1/networks", &common::network_body("kreis-mettmann", "05162")),
        409,
        "sequential network slug",
    );
    assert_eq!(same_slug["errors"][0]["field"], "slug");
    let same_region = clean_problem(
        &admin.post("/v1/networks", &common::network_body("mettmann", "05158")),
        409,
        "sequential network region",
    );
    assert_eq!(same_region["errors"][0]["field"], "regionKey");

    // In parallel, several rounds (a race is not lost every time): every loser gets the same 409.
    let free_regions = ["05162", "05166", "05170", "05314", "05315", "05316"];
    let slug_regions = ["05334", "05358", "05362", "05366", "05370", "05374", "05378", "05382"];
    for (round, region) in free_regions.iter().enumerate() {
        let cases: [(&str, Vec<Value>, &str); 3] = [
            (
                "/v1/handlungsfelder",
                (0..8).map(|i| json!({"slug": format!("feld-{round}"), "name": format!("Feld {i}")})).collect(),
                "slug",
            ),
            (
                "/v1/networks",
                (0..8).map(|i| common::network_body(&format!("netz-{round}-{i}"), region)).collect(),
                "regionKey",
            ),
            (
                "/v1/networks",
                slug_regions.iter().map(|r| common::network_body(&format!("gleich-{round}"), r)).collect(),
                "slug",
            ),
        ];
        for (path, bodies, field) in &cases {
            let replies: Vec<Reply> = std::thread::scope(|scope| {
                let handles: Vec<_> = bodies
                    .iter()
                    .map(|body| {
                        let client = admin.clone();
                        scope.spawn(move || client.post(path, body))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let created = replies.iter().filter(|r| r.status == 201).count();
            assert_eq!(created, 1, "round {round} {path}: {created} created");
            for reply in replies.iter().filter(|r| r.status != 201) {
                let problem = clean_problem(reply, 409, &format!("round {round} {path} {field}"));
                assert_eq!(problem["errors"][0]["field"], *field, "round {round} {path}: {problem}");
            }
            // Cleans up the slug case's network so that its regions stay free for the next round.
            if *field == "slug"
                && *path == "/v1/networks"
                && let Some(created) = replies.iter().find(|r| r.status == 201)
            {
                let id = created.json()["id"].as_str().unwrap().to_string();
                let path = format!("/v1/networks/{id}");
                assert_eq!(admin.delete(&path, &admin.get(&path).etag()).status, 204);
            }
        }
    }
}

fn the_bearer_scheme_is_case_insensitive(backend: Backend) {
    let app = spawn_app(&backend);
    let anonymous = app.anonymous();
    for (i, scheme) in ["Bearer", "bearer", "BEARER", "bEaReR"].iter().enumerate() {
        let authorization = format!("{scheme} {}", app.admin_key);
        let body = common::network_body(&format!("netz-{i}"), ["05158", "05162", "05166", "05170"][i]).to_string();
        let reply = anonymous.send(
            "POST",
            "/v1/networks",
            &[("Authorization", &authorization), ("Content-Type", "application/json")],
            Some(body.as_bytes()),
        );
        assert_eq!(reply.status, 201, "{scheme}: {}", reply.text());
    }
    // Still: another scheme, or none, is refused.
    for authorization in ["Basic abc", "Bearer", "Bearerx abc", app.admin_key.as_str()] {
        let reply = anonymous.send("GET", "/v1/networks", &[("Authorization", authorization)], None);
        reply.problem(401);
    }
}

fn an_overlong_url_is_answered(backend: Backend) {
    let app = spawn_app(&backend);
    // 40 KB of query string reach the service: a problem+json (the parameter is too long).
    let path = format!("/v1/networks?q={}", "a".repeat(40 * 1024));
    let problem = app.anonymous().get(&path).problem(400);
    assert_eq!(problem["errors"][0]["field"], "q");
    // Beyond what actix-http parses (a URI of 64 KB, a head of 128 KB) it answers itself, before any
    // middleware: 400 or 431 with an empty body. That is its fixed behaviour (no hook for a problem+json
    // or 414); what matters is an answer and a healthy service afterwards.
    for kb in [100, 200] {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(app.address.trim_start_matches("http://")).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let head = format!("GET /v1/networks?q={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(kb * 1024));
        let _ = stream.write_all(head.as_bytes());
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400 ") || answer.starts_with("HTTP/1.1 431 "), "{kb} KB: {answer}");
    }
    assert_eq!(app.anonymous().get("/healthz").status, 200);
}

fn csv_cells_are_no_formulas_with_either_list_separator(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let names = ["x;=1+1", "x,=1+1", "x; =HYPERLINK(\"http://evil\")", "=1+1", "+1", "-1", "@SUM(A1)", "a;\"=1+1"];
    for (i, name) in names.iter().enumerate() {
        let region = ["05158", "05162", "05166", "05170", "05314", "05315", "05316", "05334"][i];
        admin.create("networks", &json!({"slug": format!("netz-{i}"), "name": name, "regionKey": region}));
    }
    // Both files, comma- and semicolon-separated, read as a spreadsheet would with either list separator
    // (quotes only at a cell's start): no cell may begin, after blanks and quotes, with a character that
    // starts a formula.
    for file in ["/v1/exports/networks.csv", "/v1/exports/networks.csv?separator=semicolon"] {
        let csv = app.anonymous().get(file).text();
        for separator in [',', ';'] {
            for line in csv.lines() {
                for cell in spreadsheet_cells(line, separator) {
                    let start = cell.trim_start_matches([' ', '"']);
                    assert!(
                        !start.starts_with(['=', '+', '-', '@', '\t', '\r']),
                        "{file}, separator {separator:?}: the cell {cell:?} of {line:?} is a formula"
                    );
                }
            }
        }
        // The text itself is kept, with the neutralising apostrophe.
        let rows: Vec<&str> = csv.lines().collect();
        assert!(rows.iter().any(|r| r.contains("x;'=1+1")), "{file}: {csv}");
        assert!(rows.iter().any(|r| r.contains("'@SUM(A1)")), "{file}: {csv}");
    }
}

/// The cells of one CSV line as a spreadsheet program splits it: `"` opens a quoted cell only at the
/// start of a cell.
fn spreadsheet_cells(line: &str, separator: char) -> Vec<String> {
    let mut cells = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut cell = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        cell.push('"');
                    } else {
                        break;
                    }
                } else {
                    cell.push(c);
                }
            }
        }
        let mut ended = true;
        for c in chars.by_ref() {
            if c == separator {
                ended = false;
                break;
            }
            cell.push(c);
        }
        cells.push(cell);
        if ended {
            return cells;
        }
    }
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// Anonymous requests that differ only in their query cannot make the read cache pin unbounded memory:
/// it keeps to its byte budget, and what is asked for again is still answered from it. (200 change
/// feeds of about 300 KB each used to stay cached, up to 4,096 of them.)
#[test]
fn the_read_cache_keeps_to_its_byte_budget() {
    let database = common::TestDatabase::new(&Backend::Sqlite);
    let budget = 8 * 1024 * 1024;
    let service = common::ServiceProcess::start(
        &database.url,
        &[("RBN_SEED", "true"), ("RBN_READ_CACHE_BYTES", &budget.to_string())],
    );
    let client = service.client(None);
    let metric = |name: &str| -> u64 {
        let text = client.get("/metrics").text();
        text.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).unwrap().trim().parse().unwrap()
    };
    let first = client.get("/v1/changes?limit=500");
    assert!(first.body.len() > 150_000, "a large page: {} bytes", first.body.len());
    let before = rss(service.child.id());
    for i in 0..200 {
        let reply = client.get(&format!("/v1/changes?limit=500&modifiedSince=2000-01-01T00:00:00.{i:06}Z"));
        assert_eq!(reply.status, 200);
    }
    let grown = rss(service.child.id()).saturating_sub(before);
    assert!(grown < 40 * 1024 * 1024, "resident memory grew by {} MB", grown / 1024 / 1024);
    assert!(metric("rbn_read_cache_bytes") <= budget, "the cache keeps to its budget");
    // What websites ask for again and again is still served from the cache.
    let hits = metric("rbn_read_cache_hits_total");
    for _ in 0..3 {
        assert_eq!(client.get("/v1/networks/kreis-mettmann").status, 200);
    }
    assert!(metric("rbn_read_cache_hits_total") >= hits + 2, "repeated reads are cache hits");
}
