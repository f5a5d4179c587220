//! The webhook sender against real receivers on loopback: what a receiver sees (headers, signatures checked
//! by an implementation of Standard Webhooks 1.0 written here), and what the sender refuses to do (follow
//! redirects, wait past its limit, read a whole body, reach loopback or metadata addresses).
//!
//! The receivers are plain TCP servers on threads, so a test controls every byte and every delay.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rbn_registry::domain::webhook::SigningSecret;
use rbn_registry::http::webhooks::sender::{Outcome, Outgoing, Sender, SenderConfig};
use sha2::Sha256;

/// A request as the receiver read it.
#[derive(Debug)]
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received { request_line: request_line.trim_end().to_string(), headers, body })
}

/// A receiver on 127.0.0.1 that answers every connection with `respond`; the requests it read come out
/// of the channel.
fn receiver(respond: impl Fn(&mut TcpStream) + Send + Sync + 'static) -> (SocketAddr, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    let respond = std::sync::Arc::new(respond);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let (tx, respond) = (tx.clone(), respond.clone());
            thread::spawn(move || {
                if let Some(request) = read_request(&stream) {
                    let _ = tx.send(request);
                    respond(&mut stream);
                }
            });
        }
    });
    (addr, rx)
}

fn answer(stream: &mut TcpStream, status: &str, extra_headers: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\n{extra_headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn ok(stream: &mut TcpStream) {
    answer(stream, "200 OK", "", "");
}

fn secret(text: &str) -> SigningSecret {
    SigningSecret::parse(text).unwrap()
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PREVIOUS: &str = "whsec_qNnVmlj7TzL5D+yCp0LaJ1gDQ5qnBDh8N8WWZ3MFfTE=";

fn outgoing(url: &str, secrets: &[&str]) -> Outgoing {
    Outgoing {
        subscription: uuid::Uuid::now_v7(),
        message_id: "msg_2Xyq7tW1hJ3kQ9".into(),
        timestamp: chrono::Utc::now().timestamp(),
        body: bytes::Bytes::from_static(br#"{"type":"network.updated","data":{"id":"x"}}"#),
        url: url.parse().unwrap(),
        secrets: secrets.iter().map(|s| secret(s)).collect(),
    }
}

fn sender(allow_private: bool) -> Sender {
    Sender::new(SenderConfig::new(allow_private)).unwrap()
}

/// Standard Webhooks 1.0 verification as a receiver writes it from the specification: the key is the
/// base64 after `whsec_`, the signed content `{id}.{timestamp}.{body}`, and the header a space-separated
/// list of `v1,<base64 HMAC-SHA256>`; any one matching signature verifies.
fn verifies(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let key = BASE64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = BASE64.encode(mac.finalize().into_bytes());
    header.split(' ').any(|signature| signature.strip_prefix("v1,") == Some(expected.as_str()))
}

#[test]
fn the_verifier_here_agrees_with_the_specification_example() {
    let header = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(verifies(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", br#"{"test": 2432232314}"#, header));
    assert!(!verifies(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265331", br#"{"test": 2432232314}"#, header));
}

#[actix_web::test]
async fn a_delivery_is_a_signed_json_post_that_receivers_can_verify() {
    let (addr, requests) = receiver(ok);
    let msg = outgoing(&format!("http://{addr}/hooks/rbn?x=1"), &[SECRET]);
    let outcome = sender(true).send(&msg).await;
    assert!(matches!(outcome, Outcome::Delivered { status: 200, .. }), "{outcome:?}");

    let got = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got.request_line, "POST /hooks/rbn?x=1 HTTP/1.1");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert!(got.header("user-agent").unwrap().starts_with("rbn-registry/"), "{got:?}");
    assert_eq!(got.header("webhook-id"), Some("msg_2Xyq7tW1hJ3kQ9"));
    let timestamp = got.header("webhook-timestamp").unwrap();
    assert_eq!(timestamp, msg.timestamp.to_string());
    assert_eq!(got.body, msg.body.to_vec());
    let signature = got.header("webhook-signature").unwrap();
    assert!(verifies(SECRET, "msg_2Xyq7tW1hJ3kQ9", timestamp, &got.body, signature), "{signature}");
    assert!(!verifies(PREVIOUS, "msg_2Xyq7tW1hJ3kQ9", timestamp, &got.body, signature));
    assert!(!verifies(SECRET, "msg_other", timestamp, &got.body, signature));
}

#[actix_web::test]
async fn during_a_rotation_both_secrets_sign() {
    let (addr, requests) = receiver(ok);
    let msg = outgoing(&format!("http://{addr}/"), &[SECRET, PREVIOUS]);
    assert!(matches!(sender(true).send(&msg).await, Outcome::Delivered { .. }));
    let got = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    let signature = got.header("webhook-signature").unwrap();
    let signatures: Vec<&str> = signature.split(' ').collect();
    assert_eq!(signatures.len(), 2, "{signature}");
    assert!(signatures.iter().all(|s| s.starts_with("v1,")), "{signature}");
    let timestamp = got.header("webhook-timestamp").unwrap();
    // A receiver that has either secret verifies, each against its own signature.
    for (secret, own) in [(SECRET, signatures[0]), (PREVIOUS, signatures[1])] {
        assert!(verifies(secret, "msg_2Xyq7tW1hJ3kQ9", timestamp, &got.body, own), "{secret}");
    }
    assert!(!verifies(SECRET, "msg_2Xyq7tW1hJ3kQ9", timestamp, &got.body, signatures[1]));
}

#[actix_web::test]
async fn a_failing_status_is_a_failure_with_the_start_of_its_body() {
    let (addr, _requests) = receiver(|stream| answer(stream, "503 Service Unavailable", "", "down for\nmaintenance"));
    let outcome = sender(true).send(&outgoing(&format!("http://{addr}/"), &[SECRET])).await;
    let Outcome::Failed { status: Some(503), error, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(error, "HTTP 503: down formaintenance");
}

#[actix_web::test]
async fn redirects_are_not_followed() {
    let (elsewhere, redirected) = receiver(ok);
    let location = format!("location: http://{elsewhere}/stolen\r\n");
    let (addr, requests) = receiver(move |stream| answer(stream, "307 Temporary Redirect", &location, ""));
    let outcome = sender(true).send(&outgoing(&format!("http://{addr}/"), &[SECRET])).await;
    assert!(matches!(outcome, Outcome::Failed { status: Some(307), .. }), "{outcome:?}");
    assert!(requests.recv_timeout(Duration::from_secs(1)).is_ok());
    assert!(redirected.recv_timeout(Duration::from_millis(500)).is_err(), "the redirect was followed");
}

#[actix_web::test]
async fn a_slow_receiver_is_given_up_at_the_limit() {
    assert_eq!(SenderConfig::new(false).timeout, Duration::from_secs(10));
    let (addr, _requests) = receiver(|stream| {
        thread::sleep(Duration::from_secs(6));
        ok(stream);
    });
    let config = SenderConfig { timeout: Duration::from_millis(1500), ..SenderConfig::new(true) };
    let started = Instant::now();
    let outcome = Sender::new(config).unwrap().send(&outgoing(&format!("http://{addr}/"), &[SECRET])).await;
    let elapsed = started.elapsed();
    let Outcome::Failed { status: None, latency, .. } = outcome else { panic!("{outcome:?}") };
    assert!(elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_millis(2500), "{elapsed:?}");
    assert!(latency >= Duration::from_millis(1500), "{latency:?}");
}

/// Answers with a head that promises 100 MB and sends a little of it, then nothing for a minute.
fn endless(status: &'static str) -> impl Fn(&mut TcpStream) + Send + Sync + 'static {
    move |stream| {
        let head = format!("HTTP/1.1 {status}\r\ncontent-length: 100000000\r\n\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&vec![b'x'; 64 * 1024]);
        thread::sleep(Duration::from_secs(60));
    }
}

#[actix_web::test]
async fn a_huge_answer_is_not_read_to_its_end() {
    for (status, delivered) in [("500 Internal Server Error", false), ("200 OK", true)] {
        let (addr, _requests) = receiver(endless(status));
        let started = Instant::now();
        let outcome = sender(true).send(&outgoing(&format!("http://{addr}/"), &[SECRET])).await;
        assert!(started.elapsed() < Duration::from_secs(3), "{status}: waited {:?}", started.elapsed());
        match outcome {
            Outcome::Delivered { status: 200, .. } if delivered => {}
            Outcome::Failed { status: Some(500), error, .. } if !delivered => {
                assert!(error.len() < 300, "{}", error.len());
                assert!(error.starts_with("HTTP 500: xxxx"), "{error}");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[actix_web::test]
async fn loopback_is_refused_unless_private_targets_are_allowed() {
    let (addr, requests) = receiver(ok);
    let port = addr.port();
    let strict = sender(false);
    for url in [
        format!("https://127.0.0.1:{port}/"),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
        format!("http://127.0.0.1:{port}/"),
        format!("http://93.184.216.34:{port}/"), // public, but plain http
    ] {
        let outcome = strict.send(&outgoing(&url, &[SECRET])).await;
        assert!(matches!(outcome, Outcome::Refused { .. }), "{url}: {outcome:?}");
    }
    assert!(requests.try_recv().is_err(), "a refused target was contacted");
    let outcome = sender(true).send(&outgoing(&format!("http://127.0.0.1:{port}/"), &[SECRET])).await;
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
}

#[actix_web::test]
async fn a_name_that_resolves_to_loopback_is_refused_at_the_connection() {
    // `localhost` is resolved by the system (here /etc/hosts); the resolver of the client sees 127.0.0.1
    // and drops it, so nothing is connected to.
    let (addr, requests) = receiver(ok);
    let port = addr.port();
    let outcome = sender(false).send(&outgoing(&format!("https://localhost:{port}/"), &[SECRET])).await;
    let Outcome::Refused { reason } = outcome else { panic!("{outcome:?}") };
    assert!(reason.contains("localhost resolves to no address"), "{reason}");
    assert!(requests.try_recv().is_err(), "a refused target was contacted");
    let outcome = sender(true).send(&outgoing(&format!("http://localhost:{port}/"), &[SECRET])).await;
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
}

#[actix_web::test]
async fn metadata_addresses_are_refused_even_with_private_targets_allowed() {
    let lenient = sender(true);
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://0.0.0.0/",
    ] {
        let started = Instant::now();
        let outcome = lenient.send(&outgoing(url, &[SECRET])).await;
        assert!(matches!(outcome, Outcome::Refused { .. }), "{url}: {outcome:?}");
        assert!(started.elapsed() < Duration::from_millis(500), "{url}: a connection was tried");
    }
}

#[actix_web::test]
async fn a_slow_subscription_does_not_hold_back_another() {
    let (slow, _slow_requests) = receiver(|stream| {
        thread::sleep(Duration::from_secs(3));
        ok(stream);
    });
    let (fast, _fast_requests) = receiver(ok);
    let config = SenderConfig { max_in_flight_per_subscription: 2, ..SenderConfig::new(true) };
    let sender = Sender::new(config).unwrap();
    let stuck = outgoing(&format!("http://{slow}/"), &[SECRET]);
    // Four attempts for the slow subscription: two in flight, two waiting for a slot.
    let mut waiting = Vec::new();
    for _ in 0..4 {
        let (sender, msg) = (sender.clone(), stuck.clone());
        waiting.push(actix_web::rt::spawn(async move { sender.send(&msg).await }));
    }
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let outcome = sender.send(&outgoing(&format!("http://{fast}/"), &[SECRET])).await;
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "waited {:?}", started.elapsed());
    // The slow subscription's attempts ran two at a time: the last ones finished after about two rounds.
    let started = Instant::now();
    for task in waiting {
        assert!(matches!(task.await.unwrap(), Outcome::Delivered { .. }));
    }
    assert!(started.elapsed() > Duration::from_secs(4), "more than two in flight: {:?}", started.elapsed());
}

#[actix_web::test]
async fn deliveries_are_counted_by_outcome() {
    let (addr, _requests) = receiver(ok);
    let sender = sender(true);
    sender.send(&outgoing(&format!("http://{addr}/"), &[SECRET])).await;
    sender.send(&outgoing("http://169.254.169.254/", &[SECRET])).await;
    let mut registry = prometheus_client::registry::Registry::default();
    sender.register_metrics(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(text.contains(r#"rbn_webhook_delivery_attempts_total{outcome="delivered"} 1"#), "{text}");
    assert!(text.contains(r#"rbn_webhook_delivery_attempts_total{outcome="refused"} 1"#), "{text}");
    assert!(text.contains(r#"rbn_webhook_delivery_attempts_total{outcome="failed"} 0"#), "{text}");
    assert!(text.contains(r#"rbn_webhook_delivery_duration_seconds_count{outcome="delivered"} 1"#), "{text}");
    assert!(text.contains("rbn_webhook_deliveries_in_flight 0"), "{text}");
    assert!(!text.contains("127.0.0.1"), "no URL in the labels: {text}");
}

#[actix_web::test]
async fn https_targets_are_spoken_to_in_tls() {
    // A plain HTTP answer to a TLS hello: the client must fail the handshake, not send the event in clear.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            thread::sleep(Duration::from_secs(2));
        }
    });
    let outcome = sender(true).send(&outgoing(&format!("https://{addr}/"), &[SECRET])).await;
    let Outcome::Failed { status: None, error, .. } = outcome else { panic!("{outcome:?}") };
    // rustls's word for an answer that is no TLS record.
    assert!(error.starts_with("could not connect") && error.contains("corrupt message"), "{error}");
}

#[actix_web::test]
async fn creation_can_ask_what_a_name_resolves_to_now() {
    use rbn_registry::http::webhooks::sender::refused_by_dns;
    let url = |text: &str| url::Url::parse(text).unwrap();
    let refused = refused_by_dns(&url("https://localhost/hook"), false).await.expect("loopback refused");
    assert!(refused.to_string().contains("localhost resolves to no address"), "{refused}");
    assert!(refused_by_dns(&url("http://localhost/hook"), true).await.is_none());
    // A name that does not resolve (yet) is left to delivery; literal addresses to check_target_url.
    assert!(refused_by_dns(&url("https://no-such-host.invalid/hook"), false).await.is_none());
    assert!(refused_by_dns(&url("https://127.0.0.1/hook"), false).await.is_none());
}
