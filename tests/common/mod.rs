//! The test harness: every test starts the real service on a random port with a fresh database of its
//! own (a temporary SQLite file, or a new PostgreSQL database that is dropped afterwards) and talks to it
//! over real HTTP.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use rbn_registry::domain::{ApiKeyInput, Role};
use rbn_registry::http::{AppState, HttpConfig};
use rbn_registry::storage::{Actor, Db};
use serde_json::{Value, json};
use ureq::http::{Method, Request};

/// Which database a test runs against.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `TEST_DATABASE_URL` is set. In CI (`CI=true`) it must be: a PostgreSQL test that
    /// silently skipped would be a test that cannot fail.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Some(Backend::Postgres(url)),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL tests cannot run")
            }
            _ => {
                eprintln!("TEST_DATABASE_URL is not set: skipping the PostgreSQL variant");
                None
            }
        }
    }

    /// PostgreSQL, for a test that is ignored without it (see `backend_tests!`): a test run with
    /// `--ignored` but no `TEST_DATABASE_URL` fails and says why.
    pub fn postgres_required() -> Backend {
        Backend::postgres().unwrap_or_else(|| {
            panic!("TEST_DATABASE_URL is not set: this PostgreSQL test cannot run (it is ignored without it)")
        })
    }
}

/// Declares each test function once per backend: `sqlite::name` always, `postgres::name` with PostgreSQL.
/// Without `TEST_DATABASE_URL` the PostgreSQL variants are ignored (and reported so): `build.rs` sets
/// `cfg(rbn_postgres_tests)` when it is set, or when `CI=true`, where a missing database fails them.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name($crate::common::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test]
            #[cfg_attr(not(rbn_postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
            fn $name() {
                super::$name($crate::common::Backend::postgres_required())
            })*
        }
    };
}

/// A fresh database for one test; removed (SQLite) or dropped (PostgreSQL) when the test ends.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDatabase {
    pub fn new(backend: &Backend) -> TestDatabase {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("rbn-test-{unique}"));
                std::fs::create_dir_all(&dir).unwrap();
                TestDatabase {
                    url: format!("sqlite://{}/rbn.sqlite3", dir.display()),
                    cleanup: Cleanup::Directory(dir),
                }
            }
            Backend::Postgres(admin_url) => {
                let name = format!("rbn_test_{unique}");
                let mut admin = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
                admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
                let url = replace_database(admin_url, &name);
                TestDatabase { url, cleanup: Cleanup::Database { admin_url: admin_url.clone(), name } }
            }
        }
    }
}

/// `postgres://host/db?x` with another database name.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// Creates an API key directly in the database and returns its secret.
pub fn create_key(db: &Db, role: Role, district_key: Option<i32>, network_ids: Vec<uuid::Uuid>) -> String {
    let input = ApiKeyInput { name: format!("test {role}"), role, district_key, network_ids, expires_at: None };
    db.create_key(&input, &Actor::default()).unwrap().secret
}

/// Migrates the database at `url` and creates an admin key in it (for tests that start `rbn` themselves).
pub fn admin_key_for(url: &str) -> String {
    let db = Db::open(url, 1).unwrap();
    db.migrate().unwrap();
    create_key(&db, Role::Admin, None, vec![])
}

/// The service under test.
pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub admin_key: String,
    server: Option<actix_web::dev::ServerHandle>,
    // Dropped last: the server must stop before its database goes.
    pub database: TestDatabase,
}

#[derive(Default)]
pub struct Options {
    pub seed: bool,
    pub http: HttpConfig,
}

pub fn spawn_app(backend: &Backend) -> TestApp {
    spawn_app_with(backend, Options::default())
}

pub fn spawn_app_with(backend: &Backend, options: Options) -> TestApp {
    let database = TestDatabase::new(backend);
    let db = Db::open(&database.url, 4).expect("open the test database");
    db.migrate().expect("migrate");
    if options.seed {
        let seed: Value = serde_json::from_str(rbn_registry::app::SEED).unwrap();
        db.seed_if_empty(&seed).expect("seed");
    }
    let admin_key = create_key(&db, Role::Admin, None, vec![]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(db.clone(), options.http);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = rbn_registry::http::serve(state, listener, Some(1)).unwrap();
            sender.send(server.handle()).unwrap();
            let _ = server.await;
        })
    });
    let server = receiver.recv_timeout(Duration::from_secs(10)).expect("server started");
    TestApp { address, db, admin_key, server: Some(server), database }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            actix_web::rt::System::new().block_on(server.stop(false));
        }
    }
}

/// An HTTP response, read completely.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn etag(&self) -> String {
        self.header("etag").unwrap_or_else(|| panic!("no ETag: {} {}", self.status, self.text())).to_string()
    }

    /// Asserts an RFC 9457 problem with this status and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "expected {status}, got {}: {}", self.status, self.text());
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text());
        let problem = self.json();
        assert_eq!(problem["status"], json!(status));
        assert!(problem["type"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(problem["title"].as_str().is_some());
        problem
    }

    /// The field names of a 400 problem's `errors`.
    #[track_caller]
    pub fn error_fields(&self) -> Vec<String> {
        let problem = self.problem(400);
        problem["errors"]
            .as_array()
            .unwrap_or(&vec![])
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_string())
            .collect()
    }
}

/// A client of the service, with or without an API key.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub key: Option<String>,
    agent: ureq::Agent,
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .max_redirects(0)
        .build()
        .into()
}

impl TestApp {
    pub fn anonymous(&self) -> Client {
        Client { base: self.address.clone(), key: None, agent: agent() }
    }

    pub fn admin(&self) -> Client {
        self.with_key(&self.admin_key)
    }

    pub fn with_key(&self, key: &str) -> Client {
        Client { base: self.address.clone(), key: Some(key.to_string()), agent: agent() }
    }

    /// Creates an API key directly in the database and returns its secret.
    pub fn key(&self, role: Role, district_key: Option<i32>, network_ids: Vec<uuid::Uuid>) -> String {
        create_key(&self.db, role, district_key, network_ids)
    }
}

impl Client {
    /// Sends any request; `headers` are added after the API key, so a test can override it.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(format!("{}{path}", self.base));
        if let Some(key) = &self.key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let result = match body {
            Some(bytes) => self.agent.run(request.body(bytes.to_vec()).unwrap()),
            None => self.agent.run(request.body(()).unwrap()),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = response.body_mut().with_config().limit(64 * 1024 * 1024).read_to_vec().unwrap_or_default();
        Reply { status, headers, body }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], None)
    }

    /// How many reads the service has answered from its read cache so far (`/metrics`).
    pub fn read_cache_hits(&self) -> u64 {
        let metrics = self.get("/metrics").text();
        let hits = metrics.lines().find_map(|l| l.strip_prefix("rbn_read_cache_hits_total "));
        hits.and_then(|v| v.trim().parse().ok()).expect("rbn_read_cache_hits_total in /metrics")
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", path, headers, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, &[("Content-Type", "application/json")], Some(body.to_string().as_bytes()))
    }

    pub fn put(&self, path: &str, etag: &str, body: &Value) -> Reply {
        self.send(
            "PUT",
            path,
            &[("Content-Type", "application/json"), ("If-Match", etag)],
            Some(body.to_string().as_bytes()),
        )
    }

    pub fn patch(&self, path: &str, etag: &str, body: &Value) -> Reply {
        self.send(
            "PATCH",
            path,
            &[("Content-Type", "application/merge-patch+json"), ("If-Match", etag)],
            Some(body.to_string().as_bytes()),
        )
    }

    pub fn delete(&self, path: &str, etag: &str) -> Reply {
        self.send("DELETE", path, &[("If-Match", etag)], None)
    }

    /// Creates a record and returns its JSON; panics unless 201.
    #[track_caller]
    pub fn create(&self, collection: &str, body: &Value) -> Value {
        let reply = self.post(&format!("/v1/{collection}"), body);
        assert_eq!(reply.status, 201, "POST /v1/{collection}: {}", reply.text());
        reply.json()
    }

    /// Follows `links.next` to the end and returns every item.
    pub fn all(&self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(path) = next {
            let reply = self.get(&path);
            assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
            let page = reply.json();
            items.extend(page["data"].as_array().unwrap().iter().cloned());
            next = page["links"]["next"].as_str().map(str::to_string);
        }
        items
    }
}

/// A network body for region `region_key`.
pub fn network_body(slug: &str, region_key: &str) -> Value {
    json!({"slug": slug, "name": format!("Regionales Bildungsnetzwerk {slug}"), "regionKey": region_key})
}

/// The real `rbn` binary, started as a separate process on a free port; killed when dropped.
pub struct ServiceProcess {
    pub child: std::process::Child,
    pub address: String,
}

impl ServiceProcess {
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> ServiceProcess {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rbn"));
        command
            .env("DATABASE_URL", database_url)
            .env("RBN_LISTEN", format!("127.0.0.1:{port}"))
            .env("RBN_SEED", "false")
            .env("RUST_LOG", "error")
            .env("RBN_WORKERS", "2")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("start rbn");
        let process = ServiceProcess { child, address: format!("http://127.0.0.1:{port}") };
        let client = process.client(None);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client.agent.get(format!("{}/readyz", process.address)).call().map(|r| r.status().as_u16());
            if matches!(ready, Ok(200)) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "rbn did not become ready: {ready:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        process
    }

    pub fn client(&self, key: Option<&str>) -> Client {
        Client { base: self.address.clone(), key: key.map(str::to_string), agent: agent() }
    }

    /// Sends SIGTERM (a graceful shutdown) and waits for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().unwrap()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python that has `module` (a PyPI package the tests read the service's output with): the one
/// `env_var` names (CI sets it), else `python3` when it has the module. In CI it must be there.
pub fn python_with(module: &str, env_var: &str) -> Option<String> {
    use std::process::{Command, Stdio};
    let python = std::env::var(env_var).unwrap_or_else(|_| "python3".into());
    let has_module = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if has_module {
        return Some(python);
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but {python} has no {module}: set {env_var}");
    eprintln!("no Python with {module}: skipping its checks (set {env_var})");
    None
}

/// Runs `script` (a path below the crate) with `python`, `input` on its standard input, and returns the
/// JSON it prints.
pub fn run_python(python: &str, script: &str, input: &str) -> Value {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(python)
        .arg(format!("{}/{script}", env!("CARGO_MANIFEST_DIR")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the parser");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}\n{input}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}
