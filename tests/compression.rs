//! Content codings: gzip, brotli and zstd negotiated by `Accept-Encoding` for JSON, CSV, HTML and text
//! assets; an ETag per coding, 304 for every coding, `If-Match` with the tag of a compressed read, `Vary`,
//! small bodies as they are, hostile headers, HEAD, and the read cache compressing each answer once.

mod common;

use std::io::Read;

use common::{Backend, Client, Options, Reply, network_body, spawn_app, spawn_app_with};
use serde_json::json;

backend_tests!(
    codings_are_negotiated_and_decode_to_the_same_bytes,
    every_coding_has_its_etag_and_revalidates,
    writes_accept_the_etag_of_a_compressed_read,
    small_bodies_stay_as_they_are_but_vary,
    hostile_accept_encoding_is_never_an_error,
    pages_exports_and_assets_are_compressed_and_head_agrees,
    a_cached_answer_is_compressed_once_per_coding,
    the_docs_are_compressed_once,
    the_streamed_export_is_kept_when_it_fits_and_compressed_once,
);

/// The body as the client reads it: decoded by its `Content-Encoding`.
#[track_caller]
fn decoded(reply: &Reply) -> Vec<u8> {
    let body = &reply.body[..];
    let mut out = Vec::new();
    match reply.header("content-encoding") {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body).read_to_end(&mut out).expect("valid gzip");
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096).read_to_end(&mut out).expect("valid brotli");
        }
        Some("zstd") => {
            zstd::stream::read::Decoder::new(body).unwrap().read_to_end(&mut out).expect("valid zstd");
        }
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
    out
}

fn vary(reply: &Reply) -> Vec<String> {
    reply.header("vary").unwrap_or_default().split(',').map(|v| v.trim().to_ascii_lowercase()).collect()
}

/// `rbn_http_compressions_total` for one coding and mode, from `/metrics`.
fn compressions(client: &Client, encoding: &str, mode: &str) -> u64 {
    let metrics = client.get("/metrics").text();
    let prefix = format!("rbn_http_compressions_total{{encoding=\"{encoding}\",mode=\"{mode}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |v| v.trim().parse().unwrap())
}

/// A network whose representation is well above the threshold.
fn large_network(admin: &Client, slug: &str, region: &str) -> serde_json::Value {
    let mut body = network_body(slug, region);
    body["description"] = json!("Das Regionale Bildungsnetzwerk arbeitet mit Schulen und Partnern. ".repeat(40));
    admin.create("networks", &body)
}

fn codings_are_negotiated_and_decode_to_the_same_bytes(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    large_network(&admin, "kreis-mettmann", "05158");
    // Cached (anonymous) and on the fly (with a key); the OpenAPI document is far above the threshold.
    for client in [app.anonymous(), admin.clone()] {
        for path in ["/v1/openapi.json", "/v1/networks/kreis-mettmann"] {
            let identity = client.get(path);
            assert_eq!(identity.status, 200);
            assert_eq!(identity.header("content-encoding"), None, "no Accept-Encoding, no coding");
            for (accept, expected) in [
                ("gzip", Some("gzip")),
                ("GZIP", Some("gzip")),
                ("x-gzip", Some("gzip")),
                ("br", Some("br")),
                ("zstd", Some("zstd")),
                ("gzip, deflate, br, zstd", Some("br")), // what Chromium sends: the smallest
                ("gzip, deflate", Some("gzip")),         // python requests, curl --compressed
                ("br;q=0.5, gzip;q=0.9", Some("gzip")),
                ("br;Q=1, gzip ; q=0.9", Some("br")),
                ("gzip;q=0.4, identity", None),
                ("gzip;q=0", None),
                ("*", Some("br")),
                ("*;q=0.5, br;q=0, zstd;q=0", Some("gzip")),
                ("*;q=0", None),
                ("identity", None),
                ("identity;q=0", None), // nothing acceptable: the body as it is, not an error
                ("deflate, compress", None),
                ("", None),
            ] {
                let reply = client.get_with(path, &[("Accept-Encoding", accept), ("Origin", "https://example.org")]);
                assert_eq!(reply.status, 200, "{accept}");
                assert_eq!(reply.header("content-encoding"), expected, "{path} Accept-Encoding: {accept}");
                assert_eq!(decoded(&reply), identity.body, "{path} {accept}: the same bytes");
                assert_eq!(reply.header("content-length"), Some(reply.body.len().to_string().as_str()));
                let vary = vary(&reply);
                for name in ["authorization", "origin", "accept-encoding"] {
                    assert!(vary.contains(&name.to_string()), "{path} {accept}: Vary {vary:?} lacks {name}");
                }
                assert_eq!(reply.header("content-type"), identity.header("content-type"));
                assert_eq!(reply.header("cache-control"), identity.header("cache-control"));
                if expected.is_some() {
                    assert!(reply.body.len() * 3 < identity.body.len(), "{path} {accept}: compressed");
                }
            }
        }
    }
}

fn every_coding_has_its_etag_and_revalidates(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    large_network(&admin, "kreis-mettmann", "05158");
    for client in [app.anonymous(), admin.clone()] {
        let path = "/v1/networks/kreis-mettmann";
        let identity = client.get(path).etag();
        let bare = identity.trim_matches('"');
        let mut tags = vec![identity.clone()];
        for coding in ["gzip", "br", "zstd"] {
            let reply = client.get_with(path, &[("Accept-Encoding", coding)]);
            assert_eq!(reply.header("content-encoding"), Some(coding));
            let tag = reply.etag();
            assert_eq!(tag, format!("\"{bare}-{coding}\""), "a strong ETag of its own per coding");
            tags.push(tag.clone());
            // The client's own tag: 304, with that tag, Vary and no body.
            for sent in [tag.clone(), format!("W/{tag}"), format!("\"other\", {tag}"), "*".to_string()] {
                let revalidated = client.get_with(path, &[("Accept-Encoding", coding), ("If-None-Match", &sent)]);
                assert_eq!(revalidated.status, 304, "{coding}: If-None-Match {sent}");
                assert_eq!(revalidated.etag(), tag);
                assert!(vary(&revalidated).contains(&"accept-encoding".to_string()));
                assert!(revalidated.body.is_empty());
                assert_eq!(revalidated.header("content-encoding"), None);
            }
            // A tag of another coding of the same body also stands for it (weak comparison); the 304
            // names the tag of the coding this request gets.
            let other = client.get_with(path, &[("Accept-Encoding", coding), ("If-None-Match", &identity)]);
            assert_eq!((other.status, other.etag()), (304, tag.clone()));
            let plain = client.get_with(path, &[("If-None-Match", &tag)]);
            assert_eq!((plain.status, plain.etag()), (304, identity.clone()));
            // A tag of another body does not.
            let stale = client.get_with(path, &[("Accept-Encoding", coding), ("If-None-Match", "\"0123-gzip\"")]);
            assert_eq!(stale.status, 200);
        }
        let distinct: std::collections::HashSet<_> = tags.iter().collect();
        assert_eq!(distinct.len(), 4, "{tags:?}");
        // HEAD revalidates the same way.
        let head = client.send("HEAD", path, &[("Accept-Encoding", "gzip"), ("If-None-Match", &tags[1])], None);
        assert_eq!((head.status, head.etag()), (304, tags[1].clone()));
    }
    // After a change, no old tag of any coding matches.
    let current = admin.get("/v1/networks/kreis-mettmann").etag();
    assert_eq!(admin.patch("/v1/networks/kreis-mettmann", &current, &json!({"name": "Neu"})).status, 200);
    for coding in ["gzip", "br", "zstd"] {
        let old = format!("\"{}-{coding}\"", current.trim_matches('"'));
        let reply = app
            .anonymous()
            .get_with("/v1/networks/kreis-mettmann", &[("Accept-Encoding", coding), ("If-None-Match", &old)]);
        assert_eq!(reply.status, 200, "{coding}");
        assert_eq!(reply.header("content-encoding"), Some(coding));
    }
}

fn writes_accept_the_etag_of_a_compressed_read(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = large_network(&admin, "kreis-mettmann", "05158");
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    // As python requests and curl --compressed do: read with gzip, write back with the tag they got.
    let read = admin.get_with(&path, &[("Accept-Encoding", "gzip, deflate")]);
    assert_eq!(read.header("content-encoding"), Some("gzip"));
    let gzip_tag = read.etag();
    assert!(gzip_tag.ends_with("-gzip\""));
    let patched = admin.send(
        "PATCH",
        &path,
        &[("Content-Type", "application/merge-patch+json"), ("If-Match", &gzip_tag), ("Accept-Encoding", "gzip")],
        Some(br#"{"name": "Regionales Bildungsnetzwerk Kreis Mettmann"}"#),
    );
    assert_eq!(patched.status, 200, "If-Match with the gzip ETag: {}", String::from_utf8_lossy(&decoded(&patched)));
    assert_eq!(patched.header("content-encoding"), Some("gzip"));
    let after: serde_json::Value = serde_json::from_slice(&decoded(&patched)).unwrap();
    assert_eq!(after["name"], "Regionales Bildungsnetzwerk Kreis Mettmann");
    // The tag it answered with is the gzip tag of the new state: the next write may use it.
    let new_tag = patched.etag();
    assert_eq!(admin.get_with(&path, &[("Accept-Encoding", "gzip")]).etag(), new_tag);
    // The old tag, in any coding, is stale: 412, as with the identity tag.
    for stale in [gzip_tag.clone(), gzip_tag.replace("-gzip", "-br"), gzip_tag.replace("-gzip\"", "\"")] {
        let reply = admin.patch(&path, &stale, &json!({"website": "https://example.org"}));
        reply.problem(412);
    }
    // Strong comparison: a weak tag never matches, compressed or not.
    admin.patch(&path, &format!("W/{new_tag}"), &json!({"website": "https://example.org"})).problem(412);
    // PUT with the brotli tag, DELETE with the zstd tag.
    let br_tag = admin.get_with(&path, &[("Accept-Encoding", "br")]).etag();
    assert!(br_tag.ends_with("-br\""));
    let mut replacement = network_body("kreis-mettmann", "05158");
    replacement["description"] = json!("x".repeat(1500));
    let put = admin.put(&path, &br_tag, &replacement);
    assert_eq!(put.status, 200, "{}", put.text());
    let zstd_tag = admin.get_with(&path, &[("Accept-Encoding", "zstd")]).etag();
    assert!(zstd_tag.ends_with("-zstd\""));
    assert_eq!(admin.delete(&path, &zstd_tag).status, 204);
    assert_eq!(admin.get(&path).status, 404);
}

fn small_bodies_stay_as_they_are_but_vary(backend: Backend) {
    let app = spawn_app_with(&backend, Options { seed: true, ..Options::default() });
    for client in [app.anonymous(), app.admin()] {
        for path in ["/v1/districts/1", "/v1/networks/nicht-da", "/healthz"] {
            let plain = client.get(path);
            let reply = client.get_with(path, &[("Accept-Encoding", "gzip, br, zstd")]);
            assert!(plain.body.len() < 1024, "{path} is small");
            assert_eq!(reply.status, plain.status);
            assert_eq!(reply.header("content-encoding"), None, "{path}");
            assert_eq!(reply.body, plain.body);
            assert_eq!(reply.header("etag"), plain.header("etag"), "{path}: the identity tag");
            assert!(vary(&reply).contains(&"accept-encoding".to_string()), "{path}: Vary {:?}", vary(&reply));
        }
        let etag = client.get("/v1/districts/1").etag();
        let revalidated = client.get_with("/v1/districts/1", &[("Accept-Encoding", "gzip"), ("If-None-Match", &etag)]);
        assert_eq!((revalidated.status, revalidated.etag()), (304, etag));
    }
}

fn hostile_accept_encoding_is_never_an_error(backend: Backend) {
    let app = spawn_app_with(&backend, Options { seed: true, ..Options::default() });
    let client = app.anonymous();
    let identity = client.get("/v1/networks?limit=50").body;
    let long = "gzip;q=0.5, ".repeat(2000);
    let many = (0..3000).map(|i| format!("x-{i};q=0.{}", i % 10)).collect::<Vec<_>>().join(",");
    let hostile: Vec<(&str, Option<&str>)> = vec![
        (",,,,", None),
        (";;;;", None),
        ("gzip;q", None),
        ("gzip;q=", None),
        ("gzip;q=2", None),
        ("gzip;q=-0.5", None),
        ("gzip;q=NaN, br;q=inf, zstd;q=1e999", None),
        ("gzip;q=0.5;q=0", None),
        ("gzip;;q=1", None),
        ("gzip;q=0.33333333333", Some("gzip")),
        ("gzip;level=9;q=1", Some("gzip")),
        ("\t gzip \t", Some("gzip")),
        ("=, ;q=1, *;q=, br;q=0.001", Some("br")),
        ("identity;q=0, *;q=0", None),
        ("br, br;q=0, br", Some("br")),
        (&long, Some("gzip")),
        (&many, None),
    ];
    for (value, expected) in hostile {
        let reply = client.get_with("/v1/networks?limit=50", &[("Accept-Encoding", value)]);
        let shown: String = value.chars().take(40).collect();
        assert_eq!(reply.status, 200, "Accept-Encoding: {shown}");
        assert_eq!(reply.header("content-encoding"), expected, "Accept-Encoding: {shown}");
        assert_eq!(decoded(&reply), identity, "Accept-Encoding: {shown}");
    }
    // Bytes that are not text, and several header lines.
    let raw = common::agent()
        .get(format!("{}/v1/networks?limit=50", app.address))
        .header("Accept-Encoding", ureq::http::HeaderValue::from_bytes(b"gz\xffip, \xfe").unwrap())
        .call()
        .unwrap();
    assert_eq!(raw.status().as_u16(), 200);
    assert!(raw.headers().get("content-encoding").is_none());
    let lines =
        client.get_with("/v1/networks?limit=50", &[("Accept-Encoding", "identity;q=0.1"), ("Accept-Encoding", "zstd")]);
    assert_eq!(lines.header("content-encoding"), Some("zstd"));
    assert_eq!(decoded(&lines), identity);
}

fn pages_exports_and_assets_are_compressed_and_head_agrees(backend: Backend) {
    let app = spawn_app_with(&backend, Options { seed: true, ..Options::default() });
    for client in [app.anonymous(), app.admin()] {
        for (path, media_type) in [
            ("/", "text/html"),
            ("/netzwerke/kreis-mettmann", "text/html"),
            ("/einbetten/karte", "text/html"),
            ("/static/site.css", "text/css"),
            ("/v1/exports/dataset.json", "application/json"),
            ("/v1/exports/networks.csv", "text/csv"),
            ("/v1/openapi.json", "application/json"),
            ("/v1/networks?limit=500", "application/json"),
            ("/metrics", "text/plain"),
        ] {
            let identity = client.get(path);
            assert_eq!(identity.status, 200, "{path}");
            assert!(identity.header("content-type").unwrap().starts_with(media_type), "{path}");
            assert!(identity.body.len() >= 1024, "{path} is above the threshold");
            for coding in ["gzip", "br", "zstd"] {
                let reply = client.get_with(path, &[("Accept-Encoding", coding)]);
                assert_eq!(reply.header("content-encoding"), Some(coding), "{path}");
                if path != "/metrics" {
                    assert_eq!(decoded(&reply), identity.body, "{path} {coding}");
                }
                assert!(vary(&reply).contains(&"accept-encoding".to_string()), "{path}");
                // HEAD: the GET's headers (Content-Length of the encoded body, its ETag), no body.
                let head = client.send("HEAD", path, &[("Accept-Encoding", coding)], None);
                assert_eq!(head.status, 200);
                assert!(head.body.is_empty());
                for name in ["content-encoding", "content-length", "etag", "vary", "content-type", "cache-control"] {
                    if path == "/metrics" && name == "content-length" {
                        continue; // the exposition changes from one request to the next
                    }
                    assert_eq!(head.header(name), reply.header(name), "HEAD {path} {coding}: {name}");
                }
            }
        }
        // An unknown page's German 404 and a problem+json error are textual too.
        let missing = client.get_with("/netzwerke/nicht-da", &[("Accept-Encoding", "gzip")]);
        assert_eq!(missing.status, 404);
        assert!(vary(&missing).contains(&"accept-encoding".to_string()));
        assert!(String::from_utf8(decoded(&missing)).unwrap().contains("Seite nicht gefunden"));
    }
}

fn a_cached_answer_is_compressed_once_per_coding(backend: Backend) {
    let app = spawn_app_with(&backend, Options { seed: true, ..Options::default() });
    let anonymous = app.anonymous();
    let observer = app.admin();
    // The network list: large enough to compress, and kept by the read cache (the export streams).
    let path = "/v1/networks?limit=100";
    let identity = anonymous.get(path).body;
    let bytes_before = cache_bytes(&observer);
    let hits_before = anonymous.read_cache_hits();
    for coding in ["gzip", "br", "zstd"] {
        assert_eq!(compressions(&observer, coding, "cached"), 0);
        let first = anonymous.get_with(path, &[("Accept-Encoding", coding)]);
        assert_eq!(first.header("content-encoding"), Some(coding));
        assert_eq!(compressions(&observer, coding, "cached"), 1, "{coding}: compressed for the cache");
        for _ in 0..5 {
            let again = anonymous.get_with(path, &[("Accept-Encoding", coding)]);
            assert_eq!(again.body, first.body, "{coding}: the same bytes, copied");
            assert_eq!(again.etag(), first.etag());
            anonymous.send("HEAD", path, &[("Accept-Encoding", coding)], None);
        }
        assert_eq!(compressions(&observer, coding, "cached"), 1, "{coding}: no compression work for cached reads");
        assert_eq!(compressions(&observer, coding, "on_the_fly"), 0, "{coding}");
        assert_eq!(decoded(&first), identity);
    }
    assert!(anonymous.read_cache_hits() >= hits_before + 18, "answered from the read cache");
    // The encoded bodies count in the cache's byte budget.
    assert!(cache_bytes(&observer) > bytes_before, "{} > {bytes_before}", cache_bytes(&observer));
    // Reads with a key are never cached: compressed on the fly, each time.
    for _ in 0..3 {
        assert_eq!(observer.get_with(path, &[("Accept-Encoding", "gzip")]).header("content-encoding"), Some("gzip"));
    }
    assert_eq!(compressions(&observer, "gzip", "on_the_fly"), 3);
    // After a write the cached answer is new, and compressed once more.
    let etag = observer.get("/v1/networks/kreis-mettmann").etag();
    assert_eq!(observer.patch("/v1/networks/kreis-mettmann", &etag, &json!({"name": "Neu"})).status, 200);
    let changed = anonymous.get_with(path, &[("Accept-Encoding", "gzip")]);
    assert!(String::from_utf8(decoded(&changed)).unwrap().contains("\"Neu\""));
    anonymous.get_with(path, &[("Accept-Encoding", "gzip")]);
    assert_eq!(compressions(&observer, "gzip", "cached"), 2);
}

/// `rbn_read_cache_bytes`.
fn cache_bytes(client: &Client) -> u64 {
    let metrics = client.get("/metrics").text();
    metrics.lines().find_map(|l| l.strip_prefix("rbn_read_cache_bytes ")).unwrap().trim().parse().unwrap()
}

/// Swagger UI's 1.5 MB of JavaScript: compressed once for the read cache, not on every view of the docs.
fn the_docs_are_compressed_once(backend: Backend) {
    let app = spawn_app(&backend);
    let anonymous = app.anonymous();
    let path = "/docs/swagger-ui-bundle.js";
    let identity = anonymous.get(path);
    assert_eq!(identity.status, 200);
    assert!(identity.header("content-type").unwrap().contains("javascript"));
    let first = anonymous.get_with(path, &[("Accept-Encoding", "br")]);
    assert_eq!(first.header("content-encoding"), Some("br"));
    assert_eq!(decoded(&first), identity.body);
    assert!(first.body.len() * 3 < identity.body.len());
    for _ in 0..3 {
        assert_eq!(anonymous.get_with(path, &[("Accept-Encoding", "br")]).body, first.body);
    }
    assert_eq!(compressions(&anonymous, "br", "cached"), 1);
    assert_eq!(compressions(&anonymous, "br", "on_the_fly"), 0);
    let revalidated = anonymous.get_with(path, &[("Accept-Encoding", "br"), ("If-None-Match", &first.etag())]);
    assert_eq!(revalidated.status, 304);
}

/// The export streams, but at today's size it fits an entry of the read cache: the copy made while it
/// streamed answers the next downloads, and each coding is compressed once. A HEAD or a revalidation,
/// which stream nothing, never leave an empty answer behind.
fn the_streamed_export_is_kept_when_it_fits_and_compressed_once(backend: Backend) {
    let app = spawn_app_with(&backend, Options { seed: true, ..Options::default() });
    let anonymous = app.anonymous();
    let observer = app.admin();
    let path = "/v1/exports/dataset.json";
    let head = anonymous.send("HEAD", path, &[], None);
    assert_eq!(head.status, 200);
    let etag = head.etag();
    assert_eq!(anonymous.get_with(path, &[("If-None-Match", &etag)]).status, 304);
    let full = anonymous.get(path);
    assert_eq!(full.etag(), etag);
    let document: serde_json::Value = serde_json::from_slice(&full.body).expect("the whole export");
    assert!(document["networks"].as_array().is_some_and(|n| n.len() > 40));
    let hits = anonymous.read_cache_hits();
    for _ in 0..3 {
        let again = anonymous.get_with(path, &[("Accept-Encoding", "gzip")]);
        assert_eq!(again.header("content-encoding"), Some("gzip"));
        assert_eq!(decoded(&again), full.body);
    }
    assert_eq!(anonymous.read_cache_hits(), hits + 3, "answered from the read cache");
    assert_eq!(compressions(&observer, "gzip", "cached"), 1);
    assert_eq!(compressions(&observer, "gzip", "on_the_fly"), 0);
    // A write makes a new export, streamed (and kept) again.
    let etag = observer.get("/v1/networks/kreis-mettmann").etag();
    assert_eq!(observer.patch("/v1/networks/kreis-mettmann", &etag, &json!({"name": "Neu"})).status, 200);
    let changed = anonymous.get(path);
    assert_ne!(changed.etag(), full.etag());
    assert!(String::from_utf8(changed.body.clone()).unwrap().contains("\"Neu\""));
    assert_eq!(anonymous.get(path).body, changed.body);
}
