//! Bad input under fire: a table of hostile or broken requests. Each must be a clean 4xx problem+json,
//! leave the data unchanged and the service healthy.

mod common;

use common::{Backend, spawn_app};
use serde_json::json;

backend_tests!(hostile_requests_are_clean_4xx_and_change_nothing);

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
