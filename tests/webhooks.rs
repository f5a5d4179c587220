//! Webhooks, end to end: subscriptions over HTTP, receivers on 127.0.0.1 (allowed with
//! `RBN_WEBHOOK_ALLOW_PRIVATE`), signatures checked by an independent implementation of Standard
//! Webhooks (Python's standard library `hmac`, in a subprocess), retries, restarts and several instances.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Backend, Options, ServiceProcess, TestDatabase, admin_key_for, network_body, spawn_app_with};
use rbn_registry::http::{HttpConfig, WebhookConfig};
use serde_json::{Value, json};

backend_tests!(
    a_change_arrives_signed,
    a_failing_receiver_gets_the_same_event_again,
    private_targets_are_refused_without_the_setting,
    hidden_contacts_never_appear_in_a_body,
    a_slow_receiver_does_not_slow_writes,
    subscriptions_are_managed_within_a_scope,
    rotated_secrets_sign_both,
    a_killed_service_delivers_after_restart,
    events_of_a_record_arrive_in_order,
    a_subscription_that_keeps_failing_is_deactivated,
    links_and_imports_are_events_too,
);

mod postgres_only {
    #[test]
    #[cfg_attr(not(rbn_postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
    fn two_instances_deliver_each_event_once() {
        super::two_instances_deliver_each_event_once(crate::common::Backend::postgres_required())
    }
}

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: BTreeMap<String, String>,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// A webhook receiver on 127.0.0.1: answers each request with the status `answer` gives for its number
/// (0, 1, …), after `delay`.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(answer: impl Fn(usize) -> u16 + Send + Sync + 'static, delay: Duration) -> Receiver {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), answer, delay)
    }

    fn on(listener: TcpListener, answer: impl Fn(usize) -> u16 + Send + Sync + 'static, delay: Duration) -> Receiver {
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let (log, answer) = (received.clone(), Arc::new(answer));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, answer) = (log.clone(), answer.clone());
                std::thread::spawn(move || serve(stream, &log, &*answer, delay));
            }
        });
        Receiver { url, received }
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received.
    #[track_caller]
    fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let all = self.all();
            if done(&all) {
                return all;
            }
            assert!(Instant::now() < deadline, "{what}: not within {limit:?}; received {all:#?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads one request (the sender closes after it) and answers it.
fn serve(
    stream: TcpStream,
    log: &Mutex<Vec<Received>>,
    answer: &(dyn Fn(usize) -> u16 + Send + Sync),
    delay: Duration,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let number = {
        let mut log = log.lock().unwrap();
        log.push(Received { headers, body: String::from_utf8_lossy(&body).into_owned() });
        log.len() - 1
    };
    std::thread::sleep(delay);
    let status = answer(number);
    let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let _ = stream.write_all(reply.as_bytes());
}

/// Verifies a delivery as Standard Webhooks 1.0 says, with Python's `hmac` (not the service's code):
/// HMAC-SHA256 keyed with the base64-decoded secret after `whsec_`, of `id.timestamp.body`, base64, and
/// any of the space-separated `v1,` signatures must match.
fn verified_independently(secret: &str, received: &Received) -> bool {
    const CHECK: &str = r#"
import base64, hmac, hashlib, sys
secret, msg_id, timestamp, header = sys.argv[1:5]
body = sys.stdin.buffer.read()
key = base64.b64decode(secret[len("whsec_"):])
expected = base64.b64encode(hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256).digest()).decode()
ok = any(part.startswith("v1,") and hmac.compare_digest(part[3:], expected) for part in header.split(" "))
sys.exit(0 if ok else 1)
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", CHECK, secret, received.header("webhook-id"), received.header("webhook-timestamp")])
        .arg(received.header("webhook-signature"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python3 to verify signatures");
    child.stdin.take().unwrap().write_all(received.body.as_bytes()).unwrap();
    child.wait().unwrap().success()
}

fn options(retry_base: Duration) -> Options {
    Options {
        http: HttpConfig {
            webhooks: WebhookConfig { allow_private: true, retry_base, ..Default::default() },
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Creates a subscription; returns it with its secret.
#[track_caller]
fn subscribe(client: &common::Client, body: Value) -> Value {
    let reply = client.post("/v1/webhooks", &body);
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

fn events_of(received: &[Received], kind: &str) -> Vec<Value> {
    received.iter().map(Received::json).filter(|event| event["data"]["type"] == kind).collect()
}

fn a_change_arrives_signed(backend: Backend) {
    let app = spawn_app_with(&backend, options(Duration::from_millis(50)));
    let admin = app.admin();
    let receiver = Receiver::start(|_| 204, Duration::ZERO);
    let created = subscribe(&admin, json!({"url": receiver.url, "description": "Website", "types": ["networks"]}));
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{created}");
    let id = created["id"].as_str().unwrap().to_string();

    // The secret is shown once: never read back.
    let read = admin.get(&format!("/v1/webhooks/{id}"));
    assert_eq!(read.status, 200);
    assert!(read.json().get("secret").is_none() && !read.text().contains(&secret[6..]), "{}", read.text());
    assert!(!admin.get("/v1/webhooks").text().contains(&secret[6..]));

    let started = Instant::now();
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    let got = receiver.wait_for("the network's event", Duration::from_secs(5), |r| !r.is_empty());
    assert!(started.elapsed() < Duration::from_secs(3), "the first attempt comes right after the commit");
    let delivery = &got[0];
    assert!(verified_independently(&secret, delivery), "signature: {delivery:#?}");
    assert!(delivery.header("webhook-id").starts_with("msg_"));
    let stamp: i64 = delivery.header("webhook-timestamp").parse().unwrap();
    assert!((stamp - chrono::Utc::now().timestamp()).abs() < 30);
    let event = delivery.json();
    assert_eq!(event["type"], "networks.created", "{event}");
    assert_eq!(event["data"]["id"], network["id"]);
    assert_eq!(event["data"]["action"], "created");
    assert_eq!(event["data"]["data"]["slug"], "kreis-mettmann");
    assert_eq!(event["data"]["updatedAt"], network["updatedAt"]);
    let feed = app.anonymous().get("/v1/changes").json();
    let entry = feed["data"].as_array().unwrap().iter().find(|e| e["id"] == network["id"]).unwrap().clone();
    assert_eq!(event["data"]["seq"], entry["seq"], "the feed's sequence number");

    // Deleting it arrives as a deletion; the Handlungsfeld never does (types filter).
    let etag = admin.get(&format!("/v1/networks/{}", network["id"].as_str().unwrap())).etag();
    assert_eq!(admin.delete(&format!("/v1/networks/{}", network["id"].as_str().unwrap()), &etag).status, 204);
    let got = receiver.wait_for("the deletion", Duration::from_secs(5), |r| r.len() >= 2);
    let deletion = got[1].json();
    assert_eq!(deletion["type"], "networks.deleted");
    assert_eq!(deletion["data"]["deleted"], true);
    assert!(deletion["data"].get("data").is_none());
    assert!(got.iter().all(|r| r.json()["data"]["type"] == "networks"));

    // The receiver has it; its delivery is recorded right after the answer.
    let deadline = Instant::now() + Duration::from_secs(5);
    let latest = loop {
        let deliveries = admin.get(&format!("/v1/webhooks/{id}/deliveries"));
        assert_eq!(deliveries.status, 200, "{}", deliveries.text());
        let latest = deliveries.json()["data"][0].clone();
        if latest["status"] != "pending" || Instant::now() > deadline {
            break latest;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let deliveries = &latest;
    assert_eq!(latest["eventType"], "networks.deleted");
    assert_eq!(latest["status"], "delivered", "{deliveries}");
    assert_eq!(latest["attempts"], 1);
    assert_eq!(latest["lastStatus"], 204);
    assert!(latest["lastLatencyMs"].is_i64());

    // A ping.
    let ping = admin.post(&format!("/v1/webhooks/{id}/test"), &json!({}));
    assert_eq!(ping.status, 202, "{}", ping.text());
    let got = receiver.wait_for("the ping", Duration::from_secs(5), |r| r.len() >= 3);
    assert_eq!(got[2].json()["type"], "ping");
    assert_eq!(got[2].header("webhook-id"), ping.json()["id"].as_str().unwrap());
    assert!(verified_independently(&secret, &got[2]));
    // Queue metrics are there.
    let metrics = admin.get("/metrics").text();
    assert!(metrics.contains("rbn_webhook_queue_length"), "{metrics}");
    assert!(metrics.contains("rbn_webhook_oldest_undelivered_age_seconds"));
    let delivered =
        metrics.lines().find(|l| l.starts_with("rbn_webhook_delivery_attempts_total{outcome=\"delivered\"}"));
    assert!(delivered.is_some_and(|line| !line.ends_with(" 0")), "the sender's counters are served: {metrics}");
}

fn a_failing_receiver_gets_the_same_event_again(backend: Backend) {
    let app = spawn_app_with(&backend, options(Duration::from_millis(50)));
    let admin = app.admin();
    let receiver = Receiver::start(|n| if n < 3 { 500 } else { 200 }, Duration::ZERO);
    let created = subscribe(&admin, json!({"url": receiver.url}));
    let secret = created["secret"].as_str().unwrap();
    admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    let got = receiver.wait_for("four attempts", Duration::from_secs(20), |r| r.len() >= 4);
    let ids: BTreeSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 1, "the same webhook-id on every attempt: {got:#?}");
    assert!(got.iter().all(|r| verified_independently(secret, r)));
    assert!(got.iter().all(|r| r.body == got[0].body), "the same event");
    let id = created["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let delivery = admin.get(&format!("/v1/webhooks/{id}/deliveries")).json()["data"][0].clone();
        if delivery["status"] == "delivered" {
            assert_eq!(delivery["attempts"], 4, "{delivery}");
            assert_eq!(delivery["lastStatus"], 200);
            break;
        }
        assert!(Instant::now() < deadline, "{delivery}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.all().len(), 4, "nothing after the success");
    // Ended deliveries are forgotten after a while (the worker prunes those 30 days old).
    let later = rbn_registry::domain::Timestamp::now_after(rbn_registry::domain::Timestamp::now());
    assert_eq!(app.db.prune_deliveries(later).unwrap(), 1);
    assert_eq!(admin.get(&format!("/v1/webhooks/{id}/deliveries")).json()["data"], json!([]));
}

fn private_targets_are_refused_without_the_setting(backend: Backend) {
    let app = spawn_app_with(&backend, Options::default());
    let admin = app.admin();
    let receiver = Receiver::start(|_| 200, Duration::ZERO);
    for url in [
        receiver.url.clone(),
        receiver.url.replace("http://", "https://"),
        "https://10.1.2.3/hook".into(),
        "https://[::1]/hook".into(),
        "https://169.254.169.254/latest/meta-data".into(),
        "https://localhost/hook".into(),
        "http://hooks.example.org/rbn".into(),
    ] {
        let reply = admin.post("/v1/webhooks", &json!({"url": url}));
        assert_eq!(reply.status, 400, "{url}: {}", reply.text());
        assert_eq!(reply.error_fields(), vec!["url".to_string()], "{url}");
    }
    assert_eq!(admin.post("/v1/webhooks", &json!({"url": "https://hooks.example.org/rbn"})).status, 201);
    admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(receiver.all().is_empty());
    // With the setting, the metadata address stays refused.
    let allowed = spawn_app_with(&backend, options(Duration::from_millis(50)));
    let reply = allowed.admin().post("/v1/webhooks", &json!({"url": "http://169.254.169.254/latest"}));
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(allowed.admin().post("/v1/webhooks", &json!({"url": receiver.url})).status, 201);
}

fn hidden_contacts_never_appear_in_a_body(backend: Backend) {
    let app = spawn_app_with(&backend, options(Duration::from_millis(50)));
    let admin = app.admin();
    let receiver = Receiver::start(|_| 200, Duration::ZERO);
    subscribe(&admin, json!({"url": receiver.url, "types": ["contacts"]}));
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let internal = admin.create(
        "contacts",
        &json!({
            "networkId": network["id"], "name": "Ingrid Internhuber", "email": "ingrid.internhuber@example.org",
            "visibility": "internal", "isPerson": true, "publicationConsent": true
        }),
    );
    let unconsented = admin.create(
        "contacts",
        &json!({
            "networkId": network["id"], "name": "Paul Privatmann", "email": "paul.privatmann@example.org",
            "phone": "+49 2104 3333 4444", "isPerson": true, "publicationConsent": false
        }),
    );
    let public = admin.create(
        "contacts",
        &json!({
            "networkId": network["id"], "name": "Bildungsbüro Funktionspostfach", "email": "bildungsbuero@example.org"
        }),
    );
    // A public contact that becomes internal arrives as a deletion. (Events carry the record as it is
    // when the worker makes them, right after the commit: wait for the first, as a later change would
    // show in it.)
    receiver.wait_for("three contact events", Duration::from_secs(5), |r| r.len() >= 3);
    let path = format!("/v1/contacts/{}", public["id"].as_str().unwrap());
    let etag = admin.get(&path).etag();
    assert_eq!(admin.patch(&path, &etag, &json!({"visibility": "internal"})).status, 200);
    let got = receiver.wait_for("four contact events", Duration::from_secs(5), |r| r.len() >= 4);
    for r in &got {
        for secret in ["Internhuber", "ingrid.internhuber", "paul.privatmann", "3333 4444"] {
            assert!(!r.body.contains(secret), "{secret} in {}", r.body);
        }
    }
    let events = events_of(&got, "contacts");
    let of = |id: &Value| events.iter().filter(|e| e["data"]["id"] == *id).cloned().collect::<Vec<_>>();
    assert_eq!(of(&internal["id"])[0]["data"]["action"], "deleted", "an internal contact is a deletion");
    assert!(of(&unconsented["id"])[0]["data"]["data"].is_object(), "published without its channels");
    let public_events = of(&public["id"]);
    assert_eq!(public_events.len(), 2, "{public_events:#?}");
    assert_eq!(public_events[0]["data"]["action"], "created");
    assert_eq!(public_events[1]["data"]["action"], "deleted");
    assert!(public_events[1]["data"].get("data").is_none());
}

fn a_slow_receiver_does_not_slow_writes(backend: Backend) {
    let app = spawn_app_with(&backend, options(Duration::from_millis(50)));
    let admin = app.admin();
    let write = |i: usize| {
        let started = Instant::now();
        admin.create("handlungsfelder", &json!({"slug": format!("feld-{i}"), "name": format!("Feld {i}")}));
        started.elapsed()
    };
    let before: Vec<Duration> = (0..10).map(write).collect();
    let slow = Receiver::start(|_| 200, Duration::from_secs(3));
    let fast = Receiver::start(|_| 200, Duration::ZERO);
    subscribe(&admin, json!({"url": slow.url}));
    subscribe(&admin, json!({"url": fast.url}));
    let during: Vec<Duration> = (10..30).map(write).collect();
    let median = |mut times: Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (before, during_median, slowest) = (median(before), median(during.clone()), *during.iter().max().unwrap());
    eprintln!(
        "write latency: median {before:?} without subscriptions, {during_median:?} with a 3 s receiver (slowest {slowest:?})"
    );
    assert!(slowest < Duration::from_secs(1), "a write waited for the receiver: {during:?}");
    assert!(during_median < before * 5 + Duration::from_millis(50), "{before:?} vs {during_median:?}");
    // The fast receiver gets its 20 events while the slow one is still at its first.
    fast.wait_for("the fast receiver's events", Duration::from_secs(5), |r| r.len() >= 20);
    assert!(slow.all().len() < 20, "the slow receiver should lag behind");
}

fn subscriptions_are_managed_within_a_scope(backend: Backend) {
    let app = spawn_app_with(&backend, options(Duration::from_millis(50)));
    let admin = app.admin();
    let mettmann = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let borken = admin.create("networks", &network_body("kreis-borken", "05554"));
    let editor = app.with_key(&app.key(
        rbn_registry::domain::Role::Editor,
        None,
        vec![mettmann["id"].as_str().unwrap().parse().unwrap()],
    ));
    let district = app.with_key(&app.key(rbn_registry::domain::Role::District, Some(5), vec![]));
    let receiver = Receiver::start(|_| 200, Duration::ZERO);
    assert_eq!(app.anonymous().post("/v1/webhooks", &json!({"url": receiver.url})).status, 401);
    let own = subscribe(&editor, json!({"url": receiver.url}));
    assert_eq!(own["networkIds"], json!([mettmann["id"]]), "confined to the editor's networks");
    let refused = editor.post("/v1/webhooks", &json!({"url": receiver.url, "networkIds": [borken["id"]]}));
    assert_eq!(refused.status, 403, "{}", refused.text());
    let theirs = subscribe(&district, json!({"url": receiver.url}));
    assert_eq!(theirs["districtKey"], 5);
    assert_eq!(district.post("/v1/webhooks", &json!({"url": receiver.url, "districtKey": 1})).status, 403);
    let mine = |client: &common::Client| {
        client.get("/v1/webhooks").json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(mine(&editor), vec![own["id"].clone()]);
    assert_eq!(mine(&district), vec![theirs["id"].clone()]);
    assert_eq!(mine(&admin).len(), 2);
    let theirs_path = format!("/v1/webhooks/{}", theirs["id"].as_str().unwrap());
    assert_eq!(editor.get(&theirs_path).status, 404);

    // If-Match like every resource.
    let read = admin.get(&theirs_path);
    let etag = read.etag();
    let patch = json!({"description": "Bezirksregierung Münster"});
    assert_eq!(
        admin
            .send(
                "PATCH",
                &theirs_path,
                &[("Content-Type", "application/merge-patch+json")],
                Some(patch.to_string().as_bytes())
            )
            .status,
        428
    );
    let patched = admin.patch(&theirs_path, &etag, &patch);
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(patched.json()["description"], "Bezirksregierung Münster");
    assert_eq!(admin.patch(&theirs_path, &etag, &patch).status, 412);
    assert_eq!(admin.patch(&theirs_path, &patched.etag(), &json!({"url": "ftp://x"})).status, 400);
    assert_eq!(admin.get(&theirs_path).etag(), patched.etag());
    // Borken's events reach neither (district 5 is Münster; Borken is in Münster: the district one gets it).
    admin
        .create("bodies", &json!({"networkId": borken["id"], "type": "lenkungskreis", "name": "Lenkungskreis Borken"}));
    admin.create(
        "bodies",
        &json!({"networkId": mettmann["id"], "type": "lenkungskreis", "name": "Lenkungskreis Mettmann"}),
    );
    let got = receiver.wait_for("the bodies' events", Duration::from_secs(5), |r| events_of(r, "bodies").len() >= 2);
    std::thread::sleep(Duration::from_millis(500));
    let bodies = events_of(&receiver.all(), "bodies");
    assert_eq!(bodies.len(), 2, "one each: {got:#?}");
    assert_eq!(admin.delete(&theirs_path, &admin.get(&theirs_path).etag()).status, 204);
    assert_eq!(admin.get(&theirs_path).status, 404);
}

fn rotated_secrets_sign_both(backend: Backend) {
    let app = spawn_app_with(&backend, options(Duration::from_millis(50)));
    let admin = app.admin();
    let receiver = Receiver::start(|_| 200, Duration::ZERO);
    let created = subscribe(&admin, json!({"url": receiver.url}));
    let old = created["secret"].as_str().unwrap().to_string();
    let rotated = admin.post(&format!("/v1/webhooks/{}/rotate-secret", created["id"].as_str().unwrap()), &json!({}));
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let new = rotated.json()["secret"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    assert!(rotated.json()["previousSecretExpiresAt"].is_string());
    admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    let got = receiver.wait_for("the event", Duration::from_secs(5), |r| !r.is_empty());
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2, "{:?}", got[0].headers);
    assert!(verified_independently(&new, &got[0]) && verified_independently(&old, &got[0]));
    assert!(!verified_independently("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &got[0]));
}

/// The service is killed (SIGKILL) right after a write commits, before the receiver could have it; after
/// a restart the event arrives.
fn a_killed_service_delivers_after_restart(backend: Backend) {
    let database = TestDatabase::new(&backend);
    let key = admin_key_for(&database.url);
    let env = [("RBN_WEBHOOK_ALLOW_PRIVATE", "true"), ("RBN_WEBHOOK_RETRY_BASE_MS", "100")];
    let mut first = ServiceProcess::start(&database.url, &env);
    // The receiver's port is reserved but nobody answers yet: every attempt before the restart fails.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    let admin = first.client(Some(&key));
    let created = subscribe(&admin, json!({"url": url}));
    let hf = admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let receiver = Receiver::on(
        TcpListener::bind(url.trim_start_matches("http://").trim_end_matches("/hook")).unwrap(),
        |_| 200,
        Duration::ZERO,
    );
    let second = ServiceProcess::start(&database.url, &env);
    // A lease of an attempt cut off by the kill expires after half a minute.
    let got = receiver.wait_for("the event after the restart", Duration::from_secs(90), |r| !r.is_empty());
    let event = got[0].json();
    assert_eq!(event["data"]["id"], hf["id"]);
    assert!(verified_independently(created["secret"].as_str().unwrap(), &got[0]));
    drop(second);
}

/// Two instances share one PostgreSQL; 500 changes, written through both, reach the receiver once each.
fn two_instances_deliver_each_event_once(backend: Backend) {
    let database = TestDatabase::new(&backend);
    let key = admin_key_for(&database.url);
    let env = [("RBN_WEBHOOK_ALLOW_PRIVATE", "true"), ("RBN_WEBHOOK_RETRY_BASE_MS", "100")];
    let instances = [ServiceProcess::start(&database.url, &env), ServiceProcess::start(&database.url, &env)];
    let receiver = Receiver::start(|_| 200, Duration::ZERO);
    let clients: Vec<_> = instances.iter().map(|i| i.client(Some(&key))).collect();
    subscribe(&clients[0], json!({"url": receiver.url}));
    std::thread::scope(|scope| {
        for (n, client) in clients.iter().enumerate() {
            scope.spawn(move || {
                for i in 0..250 {
                    let slug = format!("feld-{n}-{i}");
                    client.create("handlungsfelder", &json!({"slug": slug, "name": slug}));
                }
            });
        }
    });
    receiver.wait_for("500 events", Duration::from_secs(60), |r| r.len() >= 500);
    std::thread::sleep(Duration::from_secs(2));
    let got = receiver.all();
    let ids: BTreeSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    let records: BTreeSet<String> = got.iter().map(|r| r.json()["data"]["id"].to_string()).collect();
    assert_eq!(records.len(), 500, "every change");
    assert_eq!(ids.len(), got.len(), "no event twice (no attempt failed)");
    assert_eq!(got.len(), 500);
}

/// The first attempt of a record's first event fails; its later events wait for it, then follow in order.
fn events_of_a_record_arrive_in_order(backend: Backend) {
    let app = spawn_app_with(&backend, options(Duration::from_millis(200)));
    let admin = app.admin();
    let receiver = Receiver::start(|n| if n == 0 { 500 } else { 200 }, Duration::ZERO);
    subscribe(&admin, json!({"url": receiver.url, "types": ["handlungsfelder"]}));
    let hf = admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    let path = format!("/v1/handlungsfelder/{}", hf["id"].as_str().unwrap());
    for name in ["Inklusion I", "Inklusion II", "Inklusion III"] {
        let etag = admin.get(&path).etag();
        assert_eq!(admin.patch(&path, &etag, &json!({"name": name})).status, 200);
    }
    let got = receiver.wait_for("five requests", Duration::from_secs(10), |r| r.len() >= 5);
    let events: Vec<Value> = got.iter().map(Received::json).collect();
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"), "the failed event first, again");
    let seqs: Vec<i64> = events[1..].iter().map(|e| e["data"]["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "in feed order: {seqs:?}");
    let actions: Vec<&str> = events[1..].iter().map(|e| e["data"]["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "updated", "updated", "updated"]);
}

/// With `RBN_WEBHOOK_DISABLE_AFTER=0`, the second failed attempt in a row deactivates the subscription,
/// with a reason its owner can read; activating it again delivers what waited.
fn a_subscription_that_keeps_failing_is_deactivated(backend: Backend) {
    let mut options = options(Duration::from_millis(50));
    options.http.webhooks.disable_after = Duration::ZERO;
    let app = spawn_app_with(&backend, options);
    let admin = app.admin();
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let answer = failing.clone();
    let receiver = Receiver::start(
        move |_| if answer.load(std::sync::atomic::Ordering::SeqCst) { 503 } else { 200 },
        Duration::ZERO,
    );
    let created = subscribe(&admin, json!({"url": receiver.url}));
    let path = format!("/v1/webhooks/{}", created["id"].as_str().unwrap());
    admin.create("handlungsfelder", &json!({"slug": "inklusion", "name": "Inklusion"}));
    let deadline = Instant::now() + Duration::from_secs(10);
    let subscription = loop {
        let subscription = admin.get(&path).json();
        if subscription["active"] == false {
            break subscription;
        }
        assert!(Instant::now() < deadline, "not deactivated: {subscription}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let reason = subscription["deactivatedReason"].as_str().unwrap();
    assert!(reason.contains("503") || reason.contains("failed"), "{reason}");
    let attempts = receiver.all().len();
    assert!(attempts >= 2, "{attempts}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.all().len(), attempts, "nothing is sent to an inactive subscription");
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let reactivated = admin.patch(&path, &admin.get(&path).etag(), &json!({"active": true}));
    assert_eq!(reactivated.status, 200, "{}", reactivated.text());
    assert!(reactivated.json()["deactivatedReason"].is_null());
    receiver.wait_for("the event after reactivation", Duration::from_secs(10), |r| r.len() > attempts);
}

/// Every path that changes records is in the outbox: linking a Handlungsfeld (the network changes) and
/// a dataset import (each record it writes).
fn links_and_imports_are_events_too(backend: Backend) {
    let app = spawn_app_with(&backend, options(Duration::from_millis(50)));
    let admin = app.admin();
    let receiver = Receiver::start(|_| 200, Duration::ZERO);
    subscribe(&admin, json!({"url": receiver.url, "types": ["networks"]}));
    let seed: Value = serde_json::from_str(rbn_registry::app::SEED).unwrap();
    let networks = seed["networks"].as_array().map_or(0, Vec::len);
    assert!(networks > 40, "the seed has the networks");
    app.db.import(&seed, &rbn_registry::storage::Actor::default()).expect("import");
    let got = receiver.wait_for("the imported networks", Duration::from_secs(20), |r| r.len() >= networks);
    assert!(got.iter().all(|r| r.json()["type"] == "networks.created"), "{:?}", got[0].body);
    let network = got[0].json()["data"]["id"].as_str().unwrap().to_string();
    let hf = admin.create("handlungsfelder", &json!({"slug": "neu-zugewandert", "name": "Neu zugewandert"}));
    let network_path = format!("/v1/networks/{network}");
    let link = format!("{network_path}/handlungsfelder/{}", hf["id"].as_str().unwrap());
    let linked = admin.send("PUT", &link, &[("If-Match", &admin.get(&network_path).etag())], None);
    assert_eq!(linked.status, 200, "{}", linked.text());
    let got = receiver.wait_for("the link", Duration::from_secs(5), |r| r.len() > networks);
    let event = got[networks].json();
    assert_eq!(
        (event["type"].as_str(), event["data"]["id"].as_str()),
        (Some("networks.updated"), Some(network.as_str()))
    );
    assert!(event["data"]["data"]["handlungsfeldIds"].to_string().contains(hf["id"].as_str().unwrap()), "{event}");
}
