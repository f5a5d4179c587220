//! The pages for people: the map, a network's page, the embeds. Same data, caches and freshness as the
//! API; German; escaped; never internal contacts; framed only where meant to be.

mod common;

use common::{Backend, Options, Reply, network_body, spawn_app, spawn_app_with};
use serde_json::{Value, json};

backend_tests!(
    the_map_links_all_53_regions,
    names_are_escaped_everywhere,
    dates_are_german_at_the_data_precision,
    internal_contacts_and_withheld_channels_never_show,
    unknown_pages_are_german_html,
    pages_have_etags_and_revalidate,
    a_write_shows_on_the_next_page_view,
    only_embeds_may_be_framed,
    the_embedded_map_shows_one_district,
);

fn html(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"));
    reply.text()
}

/// The part of the page between `start` and the next `end`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("{start} not in the page"));
    let rest = &text[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

fn the_map_links_all_53_regions(backend: Backend) {
    let app = spawn_app_with(&backend, Options { seed: true, ..Options::default() });
    let page = html(&app.anonymous().get("/"));
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains(r#"<html lang="de">"#));
    let svg = between(&page, "<svg", "</svg>");
    let areas: Vec<&str> = svg.split("<a href=\"").skip(1).collect();
    assert_eq!(areas.len(), 53, "one linked area per Kreis and kreisfreie Stadt");
    assert!(areas.iter().all(|a| a.starts_with("/netzwerke/") || a.starts_with("/regionen/")));
    assert!(svg.contains(r#"<a href="/netzwerke/kreis-mettmann" class="area aktiv" aria-label="Kreis Mettmann""#));
    assert!(svg.contains("<title>Kreis Mettmann</title>"));
    // Regions without a network link to their own page, which says so.
    let without = areas.iter().filter(|a| a.starts_with("/regionen/")).count();
    assert_eq!(without, 53 - app.anonymous().all("/v1/networks?limit=500").len());
    let minden = html(&app.anonymous().get("/regionen/05770"));
    assert!(minden.contains("kein Regionales Bildungsnetzwerk verzeichnet"), "{minden}");
    // A region with a network is that network's page.
    let mettmann = app.anonymous().get("/regionen/05158");
    assert_eq!((mettmann.status, mettmann.header("location")), (302, Some("/netzwerke/kreis-mettmann")));
    // The list below the map, grouped by Regierungsbezirk.
    for district in ["Düsseldorf", "Köln", "Münster", "Detmold", "Arnsberg"] {
        assert!(page.contains(&format!("Regierungsbezirk {district}</h3>")), "{district}");
    }
    let list = between(&page, r#"<div class="districts">"#, "</div>");
    assert_eq!(list.matches("<li").count(), 53);
    // The attribution the boundaries' licence requires, and the registry's own licence.
    assert!(page.contains(r#"<a href="https://www.bkg.bund.de">© GeoBasis-DE / BKG 2021 (Daten verändert)</a>"#));
    assert!(page.contains("dl-de/by-2-0"));
    // Nothing from anyone else's server: every src and stylesheet is the service's own.
    assert!(!page.contains("<script src") && !page.contains("src=\"http"));
    assert!(page.contains(r#"<link rel="stylesheet" href="/static/site.css">"#));
    let css = app.anonymous().get("/static/site.css");
    assert_eq!(css.status, 200);
    assert!(!css.text().contains("url(") && !css.text().contains("@import"), "the stylesheet loads nothing");
}

fn names_are_escaped_everywhere(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let hostile = "<script>alert(1)</script> & \"Bildung\"";
    admin.create(
        "networks",
        &json!({"slug": "boese", "name": hostile, "regionKey": "05158",
        "description": "</script><img src=x onerror=alert(2)>"}),
    );
    for path in ["/netzwerke/boese", "/einbetten/netzwerke/boese"] {
        let page = html(&app.anonymous().get(path));
        assert!(!page.contains("<script>alert(1)"), "{path}: {page}");
        assert!(!page.contains("<img src=x"), "{path}");
        assert!(page.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;Bildung&#34;"), "{path}: {page}");
    }
    let page = app.anonymous().get("/netzwerke/boese").text();
    // In the JSON-LD, nothing can end the script element, and the name is still the name.
    let json_ld = between(&page, r#"<script type="application/ld+json">"#, "</script>");
    assert!(!json_ld[1..].contains('<'));
    let document: Value =
        serde_json::from_str(json_ld.trim_start_matches(r#"<script type="application/ld+json">"#)).unwrap();
    assert_eq!(document["name"], hostile);
    assert_eq!(page.matches("<script").count(), 1, "the JSON-LD is the only script element");
}

fn dates_are_german_at_the_data_precision(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let id = network["id"].as_str().unwrap();
    for (kind, signed_on) in [("founding", "2008"), ("resumption", "2019-07"), ("amendment", "2013-11-19")] {
        admin.create("contracts", &json!({"networkId": id, "kind": kind, "signedOn": signed_on}));
    }
    admin.create("contracts", &json!({"networkId": id, "kind": "renewal"}));
    let page = html(&app.anonymous().get("/netzwerke/kreis-mettmann"));
    let history = between(&page, r#"<ol class="history">"#, "</ol>");
    let dates: Vec<&str> = history.split("<time datetime=\"").skip(1).map(|t| &t[..t.find('<').unwrap()]).collect();
    assert_eq!(dates, [r#"2008">2008"#, r#"2013-11-19">19. November 2013"#, r#"2019-07">Juli 2019"#]);
    assert!(history.contains("Datum nicht bekannt"), "a contract without a date says so");
    assert!(!page.contains("1. Januar 2008") && !page.contains("1. Juli 2019"), "no invented day");
    assert!(page.contains(r#"<dt>Gegründet</dt><dd><time datetime="2008">2008</time></dd>"#));
    let json_ld = between(&page, r#"<script type="application/ld+json">"#, "</script>");
    let document: Value =
        serde_json::from_str(json_ld.trim_start_matches(r#"<script type="application/ld+json">"#)).unwrap();
    assert_eq!(document["foundingDate"], "2008");
    assert_eq!(document["@type"], "Organization");
    assert_eq!(document["areaServed"]["name"], "Kreis Mettmann");
    assert_eq!(document["parentOrganization"]["name"], "Bezirksregierung Düsseldorf");
    // The time of the last change, in German.
    assert!(page.contains("Zuletzt geändert: <time datetime=\""));
    assert!(page.contains(" Uhr</time>"));
}

fn internal_contacts_and_withheld_channels_never_show(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let network = admin.create(
        "networks",
        &json!({"slug": "kreis-mettmann", "name": "RBN Kreis Mettmann", "regionKey": "05158",
            "website": "https://bildung.kreis-mettmann.example/"}),
    );
    let id = network["id"].as_str().unwrap();
    admin.create(
        "contacts",
        &json!({"networkId": id, "name": "Funktionspostfach Bildungsbüro",
        "email": "bildungsbuero@kreis-mettmann.example", "phone": "+49 2104 99 1234"}),
    );
    admin.create(
        "contacts",
        &json!({"networkId": id, "name": "Interne Geheimrunde", "visibility": "internal",
        "email": "intern@kreis-mettmann.example"}),
    );
    admin.create(
        "contacts",
        &json!({"networkId": id, "name": "Erika Mustermann", "isPerson": true,
        "publicationConsent": false, "email": "erika@kreis-mettmann.example", "phone": "+49 2104 99 1"}),
    );
    admin.create(
        "contacts",
        &json!({"networkId": id, "name": "Max Muster", "isPerson": true,
        "publicationConsent": true, "email": "max@kreis-mettmann.example"}),
    );
    // With an API key too: pages are public, they show what anyone may see.
    for client in [app.anonymous(), admin.clone()] {
        for path in ["/netzwerke/kreis-mettmann", "/einbetten/netzwerke/kreis-mettmann"] {
            let page = html(&client.get(path));
            assert!(page.contains("bildungsbuero@kreis-mettmann.example") && page.contains("tel:+492104991234"));
            assert!(page.contains("Erika Mustermann"), "the person is named");
            assert!(!page.contains("erika@") && !page.contains("+49 2104 99 1<"), "{path}: withheld channels");
            assert!(page.contains("max@kreis-mettmann.example"), "{path}: channels published with consent");
            assert!(!page.contains("Geheimrunde") && !page.contains("intern@"), "{path}: internal contact");
            assert!(page.contains(r#"<a class="button" href="https://bildung.kreis-mettmann.example/"#));
            assert!(page.contains("Zum Internetauftritt des Regionalen Bildungsbüros"));
        }
    }
    let page = app.anonymous().get("/netzwerke/kreis-mettmann").text();
    let json_ld = between(&page, r#"<script type="application/ld+json">"#, "</script>");
    assert!(json_ld.contains("bildungsbuero@kreis-mettmann.example") && !json_ld.contains("erika@"));
    assert!(json_ld.contains(r#""url":"https://bildung.kreis-mettmann.example/""#));
}

fn unknown_pages_are_german_html(backend: Backend) {
    let app = spawn_app(&backend);
    let anon = app.anonymous();
    for path in ["/netzwerke/gibt-es-nicht", "/netzwerke/%3Cscript%3E", "/einbetten/netzwerke/nein", "/regionen/99999"]
    {
        let reply = anon.get(path);
        assert_eq!(reply.status, 404, "{path}");
        let page = reply.text();
        assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
        assert!(page.contains("Seite nicht gefunden") && page.contains(r#"<a href="/">"#), "{path}: {page}");
        assert!(!page.contains("<script"), "{path}");
    }
    for path in ["/?utm_source=x", "/netzwerke/gibt-es-nicht?x=1", "/einbetten/karte?bezirk=2", "/einbetten/karte?x=1"]
    {
        let reply = anon.get(path);
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
        assert!(reply.text().contains("Ungültige Adresse"), "{path}");
    }
    assert!(anon.get("/?x=1").text().contains("Der Parameter „x“ ist hier unbekannt"));
    // The API and unknown paths keep answering problem+json.
    anon.get("/v1/networks/gibt-es-nicht").problem(404);
    anon.get("/gibt-es-nicht").problem(404);
}

fn pages_have_etags_and_revalidate(backend: Backend) {
    let app = spawn_app(&backend);
    app.admin().create("networks", &network_body("kreis-mettmann", "05158"));
    let anon = app.anonymous();
    for path in ["/", "/netzwerke/kreis-mettmann", "/einbetten/netzwerke/kreis-mettmann", "/static/site.css"] {
        let first = anon.get(path);
        assert_eq!(first.status, 200, "{path}");
        assert_eq!(first.header("cache-control"), Some("public, max-age=60"), "{path}");
        let etag = first.etag();
        let again = anon.get_with(path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(anon.get(path).body, first.body, "{path}: the same bytes from the cache");
    }
    let hits = anon.read_cache_hits();
    anon.get("/");
    assert!(anon.read_cache_hits() > hits, "pages come from the read cache");
}

fn a_write_shows_on_the_next_page_view(backend: Backend) {
    let app = spawn_app(&backend);
    let admin = app.admin();
    let anon = app.anonymous();
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    let before = anon.get("/netzwerke/kreis-mettmann");
    assert!(before.text().contains("Regionales Bildungsnetzwerk kreis-mettmann"));
    anon.get("/netzwerke/kreis-mettmann"); // now from the cache
    let map = anon.get("/").text();
    assert!(map.contains(r#"<a href="/netzwerke/kreis-mettmann" class="area aktiv""#));
    assert!(map.contains(r#"<a href="/regionen/05154" class="area ohne""#));
    let etag = admin.get(&path).etag();
    let patched =
        admin.patch(&path, &etag, &json!({"name": "Bildungsnetzwerk im Kreis Mettmann", "status": "inactive"}));
    assert_eq!(patched.status, 200, "{}", patched.text());
    admin.create("networks", &network_body("kreis-kleve", "05154"));
    let after = anon.get_with("/netzwerke/kreis-mettmann", &[("If-None-Match", &before.etag())]);
    assert_eq!(after.status, 200, "the page changed: not 304");
    assert!(after.text().contains("<h1>Bildungsnetzwerk im Kreis Mettmann</h1>"));
    assert!(after.text().contains("derzeit nicht aktiv"));
    let map = anon.get("/").text();
    assert!(map.contains(r#"<a href="/netzwerke/kreis-mettmann" class="area inaktiv""#));
    assert!(map.contains(r#"<a href="/netzwerke/kreis-kleve" class="area aktiv""#));
}

fn only_embeds_may_be_framed(backend: Backend) {
    let app = spawn_app(&backend);
    app.admin().create("networks", &network_body("kreis-mettmann", "05158"));
    let anon = app.anonymous();
    for path in ["/", "/netzwerke/kreis-mettmann", "/regionen/05154", "/netzwerke/nein", "/v1", "/v1/networks"] {
        let reply = anon.get(path);
        let policy = reply.header("content-security-policy").unwrap_or_default();
        assert!(policy.contains("frame-ancestors 'none'"), "{path}: {policy}");
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{path}");
    }
    for path in ["/einbetten/netzwerke/kreis-mettmann", "/einbetten/karte", "/einbetten/karte?bezirk=1"] {
        for _ in 0..2 {
            // Rendered, then from the read cache: the same headers.
            let reply = anon.get(path);
            assert_eq!(reply.status, 200, "{path}");
            let policy = reply.header("content-security-policy").unwrap_or_default();
            assert!(policy.contains("frame-ancestors *"), "{path}: {policy}");
            assert!(policy.contains("default-src 'none'") && policy.contains("style-src 'self'"), "{path}");
            assert_eq!(reply.header("x-frame-options"), None, "{path}");
        }
    }
    let policy = anon.get("/").header("content-security-policy").unwrap().to_string();
    assert!(!policy.contains("unsafe-inline") && !policy.contains("script-src"), "{policy}");
}

fn the_embedded_map_shows_one_district(backend: Backend) {
    let app = spawn_app_with(&backend, Options { seed: true, ..Options::default() });
    let anon = app.anonymous();
    let whole = html(&anon.get("/einbetten/karte"));
    assert_eq!(between(&whole, "<svg", "</svg>").matches("<a href=").count(), 53);
    let muenster = html(&anon.get("/einbetten/karte?bezirk=5"));
    let svg = between(&muenster, "<svg", "</svg>");
    assert_eq!(svg.matches("<a href=").count(), 8, "the eight regions of the Regierungsbezirk Münster");
    assert!(svg.contains(r#"<a href="/netzwerke/muenster""#) && svg.contains(r#"target="_top""#));
    assert!(muenster.contains("© GeoBasis-DE / BKG 2021 (Daten verändert)"));
    assert!(!muenster.contains(r#"class="skip""#), "an embed has no site header");
}
