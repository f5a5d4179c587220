//! Issue 15, part 2: meetings (above all the annual Bildungskonferenz) as a resource with everything every
//! resource has, and their calendar feeds as a real iCalendar parser (Python's `icalendar`) reads them.

mod common;

use common::{Backend, Client, TestApp, network_body, python_with, run_python, spawn_app};
use rbn_registry::domain::Role;
use serde_json::{Value, json};

backend_tests!(
    meeting_life_cycle_with_if_match,
    every_field_error_is_reported_at_once,
    references_and_the_body_of_another_network_are_refused,
    filters_combine_with_and,
    lists_are_in_start_order_and_page_across_pages,
    modified_since_brings_tombstones_and_the_feed_and_audit_name_meetings,
    access_is_that_of_the_network,
    dataset_round_trip_and_csv,
    calendar_feeds_parse_and_update,
    network_pages_show_the_next_meetings_as_events,
    every_dated_meeting_is_in_a_feed_a_calendar_can_read,
    equal_instants_sort_the_less_precise_first_across_pages,
);

struct World {
    app: TestApp,
    mettmann: Value,
    muenster: Value,
    konferenz: Value,
}

/// Two networks in two districts (Mettmann in Düsseldorf 1, Münster in Münster 5), a body of the first.
fn world(backend: &Backend) -> World {
    let app = spawn_app(backend);
    let admin = app.admin();
    let mettmann = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let muenster = admin.create("networks", &network_body("stadt-muenster", "05515"));
    let konferenz = admin.create(
        "bodies",
        &json!({"networkId": mettmann["id"], "type": "bildungskonferenz", "name": "Bildungskonferenz Kreis Mettmann"}),
    );
    World { app, mettmann, muenster, konferenz }
}

fn meeting(network: &Value, name: &str, start: &str) -> Value {
    json!({"networkId": network["id"], "name": name, "start": start, "status": "planned"})
}

fn names(items: &[Value]) -> Vec<String> {
    items.iter().map(|m| m["name"].as_str().unwrap_or("(tombstone)").to_string()).collect()
}

fn meeting_life_cycle_with_if_match(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    let body = json!({
        "networkId": w.mettmann["id"], "bodyId": w.konferenz["id"], "name": "Bildungskonferenz 2027",
        "start": "2027-03-15T09:00:00+01:00", "end": "2027-03-15T16:00:00+01:00", "status": "planned",
        "location": {"address": {"street": "Düsseldorfer Straße 26", "postalCode": "40822", "city": "Mettmann"},
                     "onlineUrl": "https://konferenz.example/bk"},
        "description": "Ziele für das Schuljahr", "url": "https://www.kreis-mettmann.example/bk-2027",
        "sources": [{"title": "Einladung"}]
    });
    let created = admin.post("/v1/meetings", &body);
    assert_eq!(created.status, 201, "{}", created.text());
    let record = created.json();
    let id = record["id"].as_str().unwrap().to_string();
    assert_eq!(created.header("location"), Some(format!("/v1/meetings/{id}").as_str()));
    // Times come back exactly as given: the offset is kept, nothing is moved to UTC.
    assert_eq!(record["start"], "2027-03-15T09:00:00+01:00");
    assert_eq!(record["end"], "2027-03-15T16:00:00+01:00");
    assert_eq!(record["location"]["onlineUrl"], "https://konferenz.example/bk");
    assert!(record.get("sequence").is_none(), "the calendar's counter is not part of the record");
    let path = format!("/v1/meetings/{id}");
    let read = w.app.anonymous().get(&path);
    assert_eq!(read.json(), record);
    let etag = read.etag();
    assert_eq!(w.app.anonymous().get_with(&path, &[("If-None-Match", &etag)]).status, 304);
    // Writes need If-Match (428) and the current one (412).
    admin
        .send("PATCH", &path, &[("Content-Type", "application/merge-patch+json")], Some(b"{\"name\":\"x\"}"))
        .problem(428);
    admin.patch(&path, "\"stale\"", &json!({"name": "x"})).problem(412);
    let patched = admin.patch(
        &path,
        &etag,
        &json!({"status": "held", "documentationUrl": "https://d.example/doku", "end": null}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    let patched_json = patched.json();
    assert_eq!(patched_json["status"], "held");
    assert_eq!(patched_json["end"], Value::Null);
    assert_eq!(patched_json["documentationUrl"], "https://d.example/doku");
    admin.patch(&path, &etag, &json!({"name": "y"})).problem(412);
    // A day, or a planning date of reduced precision, is kept at its precision.
    let mut replacement = meeting(&w.mettmann, "Bildungskonferenz 2028", "2028-03");
    let replaced = admin.put(&path, &patched.etag(), &replacement);
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_eq!(replaced.json()["start"], "2028-03");
    assert_eq!(replaced.json()["location"], Value::Null);
    replacement["start"] = json!("2028");
    let year = admin.put(&path, &replaced.etag(), &replacement);
    assert_eq!(year.json()["start"], "2028");
    admin.delete(&path, "\"stale\"").problem(412);
    assert_eq!(admin.delete(&path, &year.etag()).status, 204);
    w.app.anonymous().get(&path).problem(404);
}

fn every_field_error_is_reported_at_once(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    let fields = admin
        .post(
            "/v1/meetings",
            &json!({
                "networkId": "not-a-uuid", "name": "", "start": "15.03.2027", "end": "2027-13", "status": "maybe",
                "location": {"address": {"postalCode": "4082"}, "onlineUrl": "ftp://x"}, "url": "javascript:alert(1)",
                "documentationUrl": "nope", "colour": "red"
            }),
        )
        .error_fields();
    for field in [
        "colour",
        "networkId",
        "name",
        "start",
        "end",
        "status",
        "location.address.postalCode",
        "location.onlineUrl",
        "url",
        "documentationUrl",
    ] {
        assert!(fields.contains(&field.to_string()), "{field} in {fields:?}");
    }
    assert_eq!(admin.post("/v1/meetings", &json!({})).error_fields(), ["networkId", "name", "start", "status"]);
    // An end before the start, or of another kind, is refused: no invented precision.
    let mut body = meeting(&w.mettmann, "K", "2027-03-15T09:00:00+01:00");
    body["end"] = json!("2027-03-15T07:00:00Z");
    assert_eq!(admin.post("/v1/meetings", &body).error_fields(), ["end"]);
    body["end"] = json!("2027-03-15");
    assert_eq!(admin.post("/v1/meetings", &body).error_fields(), ["end"]);
    body["start"] = json!("2027-03-15T09:00");
    body["end"] = Value::Null;
    assert_eq!(admin.post("/v1/meetings", &body).error_fields(), ["start"]);
}

fn references_and_the_body_of_another_network_are_refused(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    let mut body = meeting(&w.mettmann, "K", "2027");
    body["networkId"] = json!("0190b7e2-3c4d-7a1b-9f00-1234567890ab");
    body["bodyId"] = json!("0190b7e2-3c4d-7a1b-9f00-1234567890ac");
    assert_eq!(admin.post("/v1/meetings", &body).error_fields(), ["networkId", "bodyId"]);
    let mut other = meeting(&w.muenster, "K", "2027");
    other["bodyId"] = w.konferenz["id"].clone();
    assert_eq!(admin.post("/v1/meetings", &other).error_fields(), ["bodyId"]);
    // A body with meetings neither moves to another network nor goes; nor does a network with meetings.
    let mut own = meeting(&w.mettmann, "K", "2027");
    own["bodyId"] = w.konferenz["id"].clone();
    admin.create("meetings", &own);
    let body_path = format!("/v1/bodies/{}", w.konferenz["id"].as_str().unwrap());
    let etag = admin.get(&body_path).etag();
    admin.patch(&body_path, &etag, &json!({"networkId": w.muenster["id"]})).problem(409);
    admin.delete(&body_path, &etag).problem(409);
    let muenster_path = format!("/v1/networks/{}", w.muenster["id"].as_str().unwrap());
    admin.create("meetings", &meeting(&w.muenster, "M", "2027"));
    admin.delete(&muenster_path, &admin.get(&muenster_path).etag()).problem(409);
}

fn filters_combine_with_and(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    let mut with_body = meeting(&w.mettmann, "BK 2027", "2027-03-15");
    with_body["bodyId"] = w.konferenz["id"].clone();
    admin.create("meetings", &with_body);
    let mut cancelled = meeting(&w.mettmann, "LK März", "2027-03-20T10:00:00+01:00");
    cancelled["status"] = json!("cancelled");
    admin.create("meetings", &cancelled);
    admin.create("meetings", &meeting(&w.mettmann, "Plan 2028", "2028"));
    admin.create("meetings", &meeting(&w.muenster, "Münster April", "2027-04-02"));
    let anon = w.app.anonymous();
    let list = |query: &str| names(&anon.all(&format!("/v1/meetings?{query}")));
    assert_eq!(list("network=kreis-mettmann"), ["BK 2027", "LK März", "Plan 2028"]);
    assert_eq!(list("district=5"), ["Münster April"]);
    assert_eq!(list(&format!("body={}", w.konferenz["id"].as_str().unwrap())), ["BK 2027"]);
    assert_eq!(list("status=cancelled"), ["LK März"]);
    assert_eq!(list("network=kreis-mettmann&status=planned"), ["BK 2027", "Plan 2028"]);
    // `from` and `to` compare with each meeting's span, as wide as its precision.
    assert_eq!(list("from=2027-03-16"), ["LK März", "Münster April", "Plan 2028"]);
    assert_eq!(list("from=2027-03-15T23:59:59Z&to=2027-03"), ["BK 2027", "LK März"]);
    assert_eq!(list("from=2028-06&network=kreis-mettmann"), ["Plan 2028"]);
    assert_eq!(list("to=2027-03-15"), ["BK 2027"]);
    assert_eq!(list("district=1&from=2027-04&to=2027-12"), Vec::<String>::new());
    let nested = names(&anon.all("/v1/networks/stadt-muenster/meetings"));
    assert_eq!(nested, ["Münster April"]);
    let fields = anon.get("/v1/meetings?from=tomorrow&status=maybe&district=2&body=x&colour=red").error_fields();
    assert_eq!(fields, ["body", "district", "status", "from", "colour"]);
}

fn lists_are_in_start_order_and_page_across_pages(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    // Created in another order than their starts; two start at the same instant (id breaks the tie).
    let starts = [
        "2027-06-01",
        "2027-03-15T09:00:00+01:00",
        "2027",
        "2027-03-15T08:00:00Z",
        "2026-12",
        "2027-03-15T10:00:00+02:00",
        "2029-01-01",
    ];
    let mut created = Vec::new();
    for (i, start) in starts.iter().enumerate() {
        created.push(admin.create("meetings", &meeting(&w.mettmann, &format!("m{i}"), start)));
    }
    let anon = w.app.anonymous();
    let mut seen = Vec::new();
    let mut next = Some("/v1/meetings?limit=2".to_string());
    let mut pages = 0;
    while let Some(path) = next {
        let reply = anon.get(&path);
        assert_eq!(reply.status, 200, "{}", reply.text());
        let page = reply.json();
        seen.extend(page["data"].as_array().unwrap().iter().map(|m| m["start"].as_str().unwrap().to_string()));
        next = page["links"]["next"].as_str().map(str::to_string);
        if let Some(next) = &next {
            assert!(reply.header("link").unwrap().contains("rel=\"next\""));
            assert!(next.contains("cursor=s"), "{next}");
        }
        pages += 1;
    }
    assert_eq!(pages, 4);
    // The three that start at the same instant (08:00 UTC) come in id order, which is creation order here.
    assert_eq!(
        seen,
        [
            "2026-12",
            "2027",
            "2027-03-15T09:00:00+01:00",
            "2027-03-15T08:00:00Z",
            "2027-03-15T10:00:00+02:00",
            "2027-06-01",
            "2029-01-01"
        ]
    );
    // A meeting that moves changes its place; the cursor of another list is refused.
    anon.get("/v1/meetings?cursor=i0190b7e23c4d7a1b9f001234567890ab").problem(400);
    let first = created[6]["id"].as_str().unwrap();
    let path = format!("/v1/meetings/{first}");
    admin.patch(&path, &admin.get(&path).etag(), &json!({"start": "2026-01-05"}));
    assert_eq!(anon.get("/v1/meetings?limit=1").json()["data"][0]["id"], json!(first));
}

fn modified_since_brings_tombstones_and_the_feed_and_audit_name_meetings(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    let kept = admin.create("meetings", &meeting(&w.mettmann, "kept", "2027-05-01"));
    let gone = admin.create("meetings", &meeting(&w.mettmann, "gone", "2027-01-01"));
    let since = kept["updatedAt"].as_str().unwrap().to_string();
    let gone_path = format!("/v1/meetings/{}", gone["id"].as_str().unwrap());
    assert_eq!(admin.delete(&gone_path, &admin.get(&gone_path).etag()).status, 204);
    let anon = w.app.anonymous();
    let changed = anon.all(&format!("/v1/meetings?modifiedSince={since}&limit=1"));
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(changed[0]["id"], kept["id"]);
    assert_eq!(changed[1], json!({"id": gone["id"], "deleted": true, "updatedAt": changed[1]["updatedAt"]}));
    let feed = anon.get("/v1/changes?type=meetings").json();
    let entries = feed["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["type"], "meetings");
    assert_eq!(entries[0]["data"]["name"], "kept");
    assert_eq!(entries[1]["deleted"], true);
    let audit = admin.all("/v1/audit?resourceType=meetings");
    let actions: Vec<&str> = audit.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "create", "delete"]);
    assert!(audit[0]["changedFields"].as_array().unwrap().contains(&json!("start")));
}

fn access_is_that_of_the_network(backend: Backend) {
    let w = world(&backend);
    let mettmann_id: uuid::Uuid = w.mettmann["id"].as_str().unwrap().parse().unwrap();
    let editor = w.app.with_key(&w.app.key(Role::Editor, None, vec![mettmann_id]));
    let duesseldorf = w.app.with_key(&w.app.key(Role::District, Some(1), vec![]));
    let muenster_district = w.app.with_key(&w.app.key(Role::District, Some(5), vec![]));
    let anon = w.app.anonymous();
    anon.post("/v1/meetings", &meeting(&w.mettmann, "K", "2027")).problem(401);
    let own = editor.create("meetings", &meeting(&w.mettmann, "K", "2027"));
    editor.post("/v1/meetings", &meeting(&w.muenster, "K", "2027")).problem(403);
    muenster_district.post("/v1/meetings", &meeting(&w.mettmann, "K", "2027")).problem(403);
    duesseldorf.create("meetings", &meeting(&w.mettmann, "D", "2027"));
    muenster_district.create("meetings", &meeting(&w.muenster, "M", "2027"));
    let path = format!("/v1/meetings/{}", own["id"].as_str().unwrap());
    let etag = anon.get(&path).etag();
    muenster_district.patch(&path, &etag, &json!({"name": "x"})).problem(403);
    // Moving a meeting to a network the key may not write is refused too.
    editor.patch(&path, &etag, &json!({"networkId": w.muenster["id"]})).problem(403);
    let renamed = duesseldorf.patch(&path, &etag, &json!({"name": "Bildungskonferenz"}));
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(editor.delete(&path, &renamed.etag()).status, 204);
}

fn dataset_round_trip_and_csv(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    let mut full = meeting(&w.mettmann, "Bildungskonferenz; \"2027\"", "2027-03-15T09:00:00+01:00");
    full["end"] = json!("2027-03-15T16:00:00+01:00");
    full["bodyId"] = w.konferenz["id"].clone();
    full["location"] = json!({"address": {"street": "Düsseldorfer Straße 26", "postalCode": "40822", "city": "Mettmann"}, "onlineUrl": "https://k.example/bk"});
    full["sources"] = json!([{"title": "Einladung", "publisher": "Kreis Mettmann"}]);
    admin.create("meetings", &full);
    admin.create("meetings", &meeting(&w.muenster, "Plan", "2028"));
    let exported = admin.get("/v1/exports/dataset.json").json();
    let meetings = exported["meetings"].as_array().unwrap();
    assert_eq!(names(meetings), ["Bildungskonferenz; \"2027\"", "Plan"]);
    // Into another registry, and out again: identical.
    let other = spawn_app(&backend);
    let report = other.db.import(&exported, &Default::default()).expect("import");
    assert_eq!(report.created, 5, "two networks, a body, two meetings");
    let again = other.admin().get("/v1/exports/dataset.json").json();
    assert_eq!(again["meetings"], exported["meetings"]);
    assert_eq!(other.db.import(&exported, &Default::default()).unwrap().created, 0);
    // Errors of the section are reported with their place.
    let mut broken = exported.clone();
    broken["meetings"][1]["start"] = json!("soon");
    let error = other.db.import(&broken, &Default::default()).unwrap_err().to_string();
    assert!(!error.is_empty());
    // CSV: one row per meeting, the location in columns, readable cells.
    let csv = w.app.anonymous().get("/v1/exports/meetings.csv");
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    let mut lines = text.trim_start_matches('\u{feff}').split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        "id,networkId,bodyId,name,start,end,status,locationStreet,locationPostalCode,locationCity,locationOnlineUrl,\
         description,url,documentationUrl,sources,createdAt,updatedAt"
    );
    let row = lines.next().unwrap();
    assert!(row.contains(",\"Bildungskonferenz; \"\"2027\"\"\",2027-03-15T09:00:00+01:00,2027-03-15T16:00:00+01:00,planned,Düsseldorfer Straße 26,40822,Mettmann,https://k.example/bk,"), "{row}");
    assert!(row.contains("Einladung (Kreis Mettmann)"), "{row}");
}

/// The calendar as `icalendar` reads it (see tests/meetings/parse_ical.py): its events' properties.
fn parse_ical(text: &str) -> Option<Value> {
    let python = python_with("icalendar", "RBN_ICALENDAR_PYTHON")?;
    Some(run_python(&python, "tests/meetings/parse_ical.py", text))
}

fn event<'a>(calendar: &'a Value, summary: &str) -> &'a Value {
    calendar["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["summary"] == summary)
        .unwrap_or_else(|| panic!("{summary} in {calendar}"))
}

fn feed(client: &Client, path: &str) -> (String, String) {
    let reply = client.get(path);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/calendar; charset=utf-8"));
    (reply.text(), reply.etag())
}

fn calendar_feeds_parse_and_update(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    let mut timed = meeting(&w.mettmann, "Bildungskonferenz 2027", "2027-03-15T09:00:00+01:00");
    timed["end"] = json!("2027-03-15T16:00:00+01:00");
    timed["bodyId"] = w.konferenz["id"].clone();
    timed["location"] =
        json!({"address": {"street": "Düsseldorfer Straße 26", "postalCode": "40822", "city": "Mettmann"}});
    timed["url"] = json!("https://www.kreis-mettmann.example/bk-2027");
    timed["description"] = json!("Ziele, Themen; Wege\nZweite Zeile");
    let timed = admin.create("meetings", &timed);
    let mut day = meeting(&w.mettmann, "Lenkungskreis", "2027-06-01");
    day["end"] = json!("2027-06-02");
    day["location"] = json!({"onlineUrl": "https://konferenz.example/lk"});
    admin.create("meetings", &day);
    admin.create("meetings", &meeting(&w.mettmann, "Planung 2028", "2028"));
    admin.create("meetings", &meeting(&w.muenster, "Münster", "2027-04-02"));
    let anon = w.app.anonymous();
    let (text, etag) = feed(&anon, "/v1/networks/kreis-mettmann/meetings.ics");
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n") && text.ends_with("END:VCALENDAR\r\n"));
    assert_eq!(anon.get_with("/v1/networks/kreis-mettmann/meetings.ics", &[("If-None-Match", &etag)]).status, 304);
    let Some(calendar) = parse_ical(&text) else { return };
    assert_eq!(calendar["events"].as_array().unwrap().len(), 2, "the planning date of a year is no entry yet");
    let bk = event(&calendar, "Bildungskonferenz 2027");
    let id = timed["id"].as_str().unwrap();
    assert_eq!(bk["uid"], format!("{id}@rbn-registry.nrw"));
    assert_eq!(bk["dtstart"], "2027-03-15T08:00:00+00:00", "the same instant, in UTC");
    assert_eq!(bk["dtend"], "2027-03-15T15:00:00+00:00");
    assert_eq!(bk["sequence"], 0);
    assert_eq!(bk["status"], "CONFIRMED");
    assert_eq!(bk["location"], "Düsseldorfer Straße 26, 40822 Mettmann");
    assert_eq!(bk["url"], "https://www.kreis-mettmann.example/bk-2027");
    assert_eq!(bk["description"], "Ziele, Themen; Wege\nZweite Zeile");
    assert!(bk["dtstamp"].as_str().is_some());
    let lk = event(&calendar, "Lenkungskreis");
    assert_eq!((lk["dtstart"].as_str(), lk["dtstart_is_date"].as_bool()), (Some("2027-06-01"), Some(true)));
    assert_eq!(lk["dtend"], "2027-06-03", "whole days end the morning after the last one");
    assert_eq!(lk["location"], "https://konferenz.example/lk");
    // Every change grows SEQUENCE and changes the feed; the UID stays. Cancelled meetings say so.
    let path = format!("/v1/meetings/{id}");
    let changed = admin.patch(
        &path,
        &admin.get(&path).etag(),
        &json!({"start": "2027-03-16T09:00:00+01:00", "end": "2027-03-16T16:00:00+01:00"}),
    );
    admin.patch(&path, &changed.etag(), &json!({"status": "cancelled"}));
    assert_eq!(anon.get_with("/v1/networks/kreis-mettmann/meetings.ics", &[("If-None-Match", &etag)]).status, 200);
    let (text, _) = feed(&anon, "/v1/networks/kreis-mettmann/meetings.ics");
    let calendar = parse_ical(&text).unwrap();
    let bk = event(&calendar, "Bildungskonferenz 2027");
    assert_eq!(bk["uid"], format!("{id}@rbn-registry.nrw"));
    assert_eq!(bk["sequence"], 2);
    assert_eq!(bk["status"], "CANCELLED");
    assert_eq!(bk["dtstart"], "2027-03-16T08:00:00+00:00");
    // The registry-wide feed takes the filters `network`, `district` and `body`.
    let all = parse_ical(&feed(&anon, "/v1/meetings.ics").0).unwrap();
    assert_eq!(all["events"].as_array().unwrap().len(), 3);
    let district = parse_ical(&feed(&anon, "/v1/meetings.ics?district=5").0).unwrap();
    assert_eq!(
        names(
            district["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| json!({"name": e["summary"]}))
                .collect::<Vec<_>>()
                .as_slice()
        ),
        ["Münster"]
    );
    let of_body = format!("/v1/meetings.ics?body={}&network=kreis-mettmann", w.konferenz["id"].as_str().unwrap());
    assert_eq!(parse_ical(&feed(&anon, &of_body).0).unwrap()["events"].as_array().unwrap().len(), 1);
    anon.get("/v1/meetings.ics?status=planned").problem(400);
    anon.get("/v1/networks/no-such-network/meetings.ics").problem(404);
}

fn network_pages_show_the_next_meetings_as_events(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    let mut next = meeting(&w.mettmann, "Bildungskonferenz 2099", "2099-03-15T09:00:00+01:00");
    next["location"] =
        json!({"address": {"street": "Düsseldorfer Straße 26", "postalCode": "40822", "city": "Mettmann"}});
    next["url"] = json!("https://www.kreis-mettmann.example/bk-2099");
    admin.create("meetings", &next);
    admin.create("meetings", &meeting(&w.mettmann, "Längst vorbei", "2001-01-01"));
    let mut cancelled = meeting(&w.mettmann, "Abgesagt <b>", "2098-05");
    cancelled["status"] = json!("cancelled");
    admin.create("meetings", &cancelled);
    let page = w.app.anonymous().get("/netzwerke/kreis-mettmann");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("Bildungskonferenz 2099"), "{html}");
    assert!(html.contains("Abgesagt &lt;b&gt;") || html.contains("Abgesagt &#60;b&#62;"), "escaped");
    assert!(!html.contains("Längst vorbei"), "past meetings are not next");
    let start = html.find(r#"<script type="application/ld+json">"#).unwrap();
    let rest = &html[start + r#"<script type="application/ld+json">"#.len()..];
    let json_ld: Value = serde_json::from_str(&rest[..rest.find("</script>").unwrap()]).unwrap();
    let events = json_ld["event"].as_array().expect("events in the JSON-LD");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["@type"], "Event");
    assert_eq!(events[0]["name"], "Abgesagt <b>");
    assert_eq!(events[0]["eventStatus"], "https://schema.org/EventCancelled");
    assert_eq!(events[1]["startDate"], "2099-03-15T09:00:00+01:00");
    assert_eq!(events[1]["eventStatus"], "https://schema.org/EventScheduled");
    assert_eq!(events[1]["location"]["address"]["addressLocality"], "Mettmann");
    assert_eq!(events[1]["url"], "https://www.kreis-mettmann.example/bk-2099");
}

/// A meeting known to the day stands in the feed whatever its end, and no accepted time makes the feed
/// unreadable: a leap second (which the schema's pattern excludes) is refused, the last day a year of four
/// digits has is written without a DTEND of year 10000.
fn every_dated_meeting_is_in_a_feed_a_calendar_can_read(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    for start in ["2027-06-30T23:59:60Z", "2027-03-15T09:00:00.1234567891Z"] {
        let reply = admin.post("/v1/meetings", &meeting(&w.mettmann, "Schaltsekunde", start));
        let problem = reply.problem(400);
        assert_eq!(problem["errors"][0]["field"], "start", "{start}: {problem}");
    }
    let mut month_end = meeting(&w.mettmann, "Bis April", "2027-03-05");
    month_end["end"] = json!("2027-04");
    admin.create("meetings", &month_end);
    admin.create("meetings", &meeting(&w.mettmann, "Letzter Tag", "9999-12-31"));
    admin.create("meetings", &meeting(&w.mettmann, "Ein Tag", "2027-03-05"));
    let (text, _) = feed(&w.app.anonymous(), "/v1/networks/kreis-mettmann/meetings.ics");
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 3, "{text}");
    assert!(!text.contains(":+"), "no year of five digits: {text}");
    let Some(calendar) = parse_ical(&text) else { return };
    let until_april = event(&calendar, "Bis April");
    assert_eq!(
        (until_april["dtstart"].as_str(), until_april["dtend"].as_str()),
        (Some("2027-03-05"), Some("2027-03-06"))
    );
    let one_day = event(&calendar, "Ein Tag");
    assert_eq!((one_day["dtstart"].as_str(), one_day["dtend"].as_str()), (Some("2027-03-05"), Some("2027-03-06")));
    let last = event(&calendar, "Letzter Tag");
    assert_eq!((last["dtstart"].as_str(), last["dtstart_is_date"].as_bool()), (Some("9999-12-31"), Some(true)));
}

/// A year, its first month, its first day and a time at that midnight begin at one instant: lists give
/// them the domain's order (the less precise first), whatever the order they were created in, and pages
/// of one bring each exactly once; `to` still takes all four.
fn equal_instants_sort_the_less_precise_first_across_pages(backend: Backend) {
    let w = world(&backend);
    let admin = w.app.admin();
    for start in ["2027-01-01T00:00:00Z", "2027-01-01", "2027-01", "2027"] {
        admin.create("meetings", &meeting(&w.mettmann, start, start));
    }
    let anon = w.app.anonymous();
    let mut seen = Vec::new();
    let mut next = Some("/v1/meetings?limit=1".to_string());
    while let Some(path) = next {
        let page = anon.get(&path).json();
        seen.extend(names(page["data"].as_array().unwrap()));
        next = page["links"]["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen, ["2027", "2027-01", "2027-01-01", "2027-01-01T00:00:00Z"]);
    let until = anon.get("/v1/meetings?to=2027-01-01T00:00:00Z").json();
    assert_eq!(names(until["data"].as_array().unwrap()).len(), 4);
}
