//! Faults: the database going away under load, graceful shutdown, request time-outs. These tests start
//! the real `rbn` binary; the PostgreSQL one runs a throwaway cluster of its own (initdb + pg_ctl on a spare
//! port) and never touches the shared server.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Backend, Client, Options, ServiceProcess, TestDatabase, admin_key_for, network_body, spawn_app_with};
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use rbn_registry::domain::Role;
use rbn_registry::storage::Db;
use serde_json::json;

backend_tests!(a_write_answered_503_by_the_time_out_never_commits, instances_starting_together_migrate_and_seed_once);

/// Holds the registry's write lock from a connection of its own for `hold`, as a stuck writer would.
fn hold_write_lock(url: &str, hold: Duration) -> std::thread::JoinHandle<()> {
    let url = url.to_string();
    let (locked, is_locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut conn: Box<dyn SimpleConnection> = match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut conn = SqliteConnection::establish(path).unwrap();
                conn.batch_execute("BEGIN EXCLUSIVE").unwrap();
                Box::new(conn)
            }
            None => {
                let mut conn = diesel::PgConnection::establish(&url).unwrap();
                conn.batch_execute("BEGIN; UPDATE write_lock SET writes = writes WHERE id = 1").unwrap();
                Box::new(conn)
            }
        };
        locked.send(()).unwrap();
        std::thread::sleep(hold);
        conn.batch_execute("COMMIT").unwrap();
    });
    is_locked.recv().unwrap();
    holder
}

/// A write that waits for the write lock longer than the request time-out is answered 503, and it stays
/// unwritten when the lock is released later. (It used to commit after its 503: the time-out dropped the
/// request, but not the database work.)
fn a_write_answered_503_by_the_time_out_never_commits(backend: Backend) {
    let http = rbn_registry::http::HttpConfig { request_timeout: Duration::from_secs(1), ..Default::default() };
    let app = spawn_app_with(&backend, Options { http, ..Default::default() });
    let admin = app.admin();
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    let etag = admin.get(&path).etag();
    for (round, hold) in [Duration::from_millis(1600), Duration::from_millis(2400)].into_iter().enumerate() {
        let holder = hold_write_lock(&app.database.url, hold);
        let started = Instant::now();
        let reply = admin.patch(&path, &etag, &json!({"description": format!("nach dem 503 ({round})")}));
        reply.problem(503);
        assert!(started.elapsed() < Duration::from_millis(1500), "answered after {:?}", started.elapsed());
        holder.join().unwrap();
        std::thread::sleep(Duration::from_millis(800));
        let stored = admin.get(&path);
        assert_eq!(stored.etag(), etag, "the write answered 503 committed later: {}", stored.text());
    }
    // The lock is free again: the same write now succeeds.
    assert_eq!(admin.patch(&path, &etag, &json!({"description": "jetzt"})).status, 200);
}

/// Three instances started at once on one empty database (`docker compose up --scale rbn=3`) all come
/// up, and the seed is loaded once. (On PostgreSQL two of three used to exit during the migrations.)
fn instances_starting_together_migrate_and_seed_once(backend: Backend) {
    let database = TestDatabase::new(&backend);
    let barrier = Arc::new(std::sync::Barrier::new(3));
    let starting: Vec<_> = (0..3)
        .map(|_| {
            let (url, barrier) = (database.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                ServiceProcess::start(&url, &[("RBN_SEED", "true")])
            })
        })
        .collect();
    let services: Vec<ServiceProcess> =
        starting.into_iter().map(|t| t.join().expect("every instance started")).collect();
    let key = admin_key_for(&database.url);
    for service in &services {
        let client = service.client(Some(&key));
        assert_eq!(client.all("/v1/networks?limit=500").len(), 47, "the seed's networks, on every instance");
    }
    // Every seeded record was written once: one audit entry each.
    let client = services[0].client(Some(&key));
    let audit: Vec<_> = client
        .all("/v1/audit?limit=500")
        .into_iter()
        .filter(|e| e["action"] == "import" && e["resourceType"] != "facts")
        .collect();
    let mut ids = BTreeSet::new();
    for entry in &audit {
        assert!(ids.insert(entry["resourceId"].to_string()), "written twice: {entry}");
    }
    let changes = client.all("/v1/changes?limit=500");
    assert_eq!(audit.len(), changes.len(), "one audit entry per seeded record");
}

/// A PostgreSQL cluster of the test's own, in a temporary directory on a spare port.
struct ThrowawayPostgres {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl ThrowawayPostgres {
    /// `None` where no PostgreSQL server binaries are installed (outside CI only).
    fn create() -> Option<ThrowawayPostgres> {
        let bin = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"]
            .iter()
            .map(PathBuf::from)
            .find(|dir| dir.join("initdb").exists());
        let Some(bin) = bin else {
            assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "CI needs the PostgreSQL server binaries");
            eprintln!("no PostgreSQL server binaries: skipping");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("rbn-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let cluster = ThrowawayPostgres { dir, port, bin };
        cluster.chown();
        let data = cluster.data();
        cluster.run(&cluster.bin.join("initdb"), &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        cluster.start();
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user then.
    fn as_root() -> bool {
        Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
    }

    fn chown(&self) {
        if Self::as_root() {
            assert!(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&self.dir).status().unwrap().success());
        }
    }

    fn run(&self, program: &Path, args: &[&str]) {
        // Their chatter on stdout would land in the middle of the test harness's result lines.
        let status = if Self::as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(program)
                .args(args)
                .stdout(Stdio::null())
                .status()
        } else {
            Command::new(program).args(args).stdout(Stdio::null()).status()
        };
        assert!(status.unwrap().success(), "{} {args:?}", program.display());
    }

    fn start(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        let log = self.dir.join("log").display().to_string();
        self.run(&self.bin.join("pg_ctl"), &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"]);
    }

    fn stop(&self) {
        self.run(&self.bin.join("pg_ctl"), &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// The process ids of the server's background processes of these types (`pg_stat_activity`): the
    /// `walwriter` writes the log of asynchronous commits, and the `background writer`, the `checkpointer`
    /// and the `autovacuum launcher` may cause it to be written too.
    fn background_processes(&self, types: &[&str]) -> Vec<String> {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Pid {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        let mut conn = diesel::PgConnection::establish(&self.url()).unwrap();
        let types = types.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
        let query = format!("SELECT pid FROM pg_stat_activity WHERE backend_type IN ({types})");
        let pids: Vec<Pid> = diesel::sql_query(query).load(&mut conn).unwrap();
        pids.iter().map(|p| p.pid.to_string()).collect()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// (status, content type, contact name) of a write.
type Write = (u16, String, String);
/// (status, content type) of a read.
type Read = (u16, String);

/// Writers and readers hammering the service until stopped; every answer is recorded.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// (status, content type, contact name) of every write.
    writes: Arc<Mutex<Vec<Write>>>,
    reads: Arc<Mutex<Vec<Read>>>,
}

impl Load {
    fn start(client: &Client, network_id: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(Mutex::new(Vec::new()));
        let reads = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for worker in 0..4 {
            let (stop, writes, reads, client, network_id) =
                (stop.clone(), writes.clone(), reads.clone(), client.clone(), network_id.to_string());
            threads.push(std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    if worker % 2 == 0 {
                        let name = format!("Kontakt {worker}-{n}");
                        let reply = client.post("/v1/contacts", &json!({"networkId": network_id, "name": name}));
                        let content_type = reply.header("content-type").unwrap_or("").to_string();
                        writes.lock().unwrap().push((reply.status, content_type, name));
                    } else {
                        let reply = client.get("/v1/networks?limit=5");
                        reads
                            .lock()
                            .unwrap()
                            .push((reply.status, reply.header("content-type").unwrap_or("").to_string()));
                    }
                    n += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }));
        }
        Load { stop, threads, writes, reads }
    }

    fn finish(self) -> (Vec<Write>, Vec<Read>) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().unwrap();
        }
        let writes = self.writes.lock().unwrap().clone();
        let reads = self.reads.lock().unwrap().clone();
        (writes, reads)
    }
}

fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until writes succeed again after an outage.
fn wait_for_writes(client: &Client, network: &serde_json::Value, limit: Duration) {
    wait_until("writes succeed again", limit, || {
        let name = format!("danach {:?}", Instant::now());
        client.post("/v1/contacts", &json!({"networkId": network["id"], "name": name})).status == 201
    });
}

/// Every answer is a success or a 503 problem, and every acknowledged write is stored.
fn check_outage(writes: &[Write], reads: &[Read], client: &Client) {
    for (status, content_type, name) in writes {
        assert!(*status == 201 || *status == 503, "write {name}: {status}");
        if *status == 503 {
            assert_eq!(content_type, "application/problem+json");
        }
    }
    for (status, content_type) in reads {
        assert!(*status == 200 || *status == 503, "read: {status}");
        if *status == 503 {
            assert_eq!(content_type, "application/problem+json");
        }
    }
    let acknowledged: BTreeSet<&str> =
        writes.iter().filter(|(s, _, _)| *s == 201).map(|(_, _, n)| n.as_str()).collect();
    let stored: BTreeSet<String> =
        client.all("/v1/contacts?limit=500").iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    for name in &acknowledged {
        assert!(stored.contains(*name), "acknowledged write {name} was lost");
    }
    assert!(writes.iter().any(|(s, _, _)| *s == 503), "the outage was noticed");
    assert!(writes.iter().filter(|(s, _, _)| *s == 201).count() > 2, "writes succeeded before and after");
}

#[test]
fn postgres_stopped_and_restarted_under_load() {
    let Some(cluster) = ThrowawayPostgres::create() else { return };
    let key = admin_key_for(&cluster.url());
    let service = ServiceProcess::start(&cluster.url(), &[("RBN_REQUEST_TIMEOUT", "5")]);
    let client = service.client(Some(&key));
    let network = client.create("networks", &network_body("kreis-mettmann", "05158"));
    let load = Load::start(&client, network["id"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(800));
    cluster.stop();
    wait_until("the service reports the outage", Duration::from_secs(20), || {
        client.get("/readyz").problem(503);
        true
    });
    std::thread::sleep(Duration::from_millis(1500));
    let during = client.post("/v1/contacts", &json!({"networkId": network["id"], "name": "während des Ausfalls"}));
    during.problem(503);
    cluster.start();
    // It recovers without a restart of the service.
    wait_until("the service is ready again", Duration::from_secs(30), || client.get("/readyz").status == 200);
    wait_for_writes(&client, &network, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(800));
    let (writes, reads) = load.finish();
    check_outage(&writes, &reads, &client);
    assert!(reads.iter().any(|(s, _)| *s == 503) || writes.iter().any(|(s, _, _)| *s == 503));
}

/// Every write the service acknowledged survives a crash of PostgreSQL. Writes commit asynchronously, so
/// that writers do not wait for each other's flush of the log, and are answered only once the log is
/// written up to their commit (`storage::durable_postgres_transaction`). Here the server's WAL writer,
/// which would write the log of asynchronous commits a moment later, is stopped and then killed, which
/// PostgreSQL handles as a crash: it ends every session, forgets its shared memory and recovers from the
/// log. A write answered before its commit was in the log would be lost.
#[test]
fn postgres_crash_loses_no_acknowledged_write() {
    let Some(cluster) = ThrowawayPostgres::create() else { return };
    let key = admin_key_for(&cluster.url());
    let service = ServiceProcess::start(&cluster.url(), &[("RBN_REQUEST_TIMEOUT", "5")]);
    let client = service.client(Some(&key));
    let network = client.create("networks", &network_body("kreis-mettmann", "05158"));
    let wal_writer = cluster.background_processes(&["walwriter"]).pop().unwrap();
    assert!(Command::new("kill").args(["-STOP", &wal_writer]).status().unwrap().success());
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..8)
        .map(|worker| {
            let (stop, writes, client) = (stop.clone(), writes.clone(), client.clone());
            let network_id = network["id"].clone();
            std::thread::spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("Kontakt {worker}-{n}");
                    let reply = client.post("/v1/contacts", &json!({"networkId": network_id, "name": name}));
                    let content_type = reply.header("content-type").unwrap_or("").to_string();
                    writes.lock().unwrap().push((reply.status, content_type, name));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let before_the_crash = writes.lock().unwrap().len();
    assert!(Command::new("kill").args(["-KILL", &wal_writer]).status().unwrap().success());
    wait_until("the crash is noticed", Duration::from_secs(20), || {
        writes.lock().unwrap()[before_the_crash..].iter().any(|(status, _, _)| *status == 503)
    });
    wait_until("the service is ready again", Duration::from_secs(30), || client.get("/readyz").status == 200);
    wait_for_writes(&client, &network, Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    let writes = writes.lock().unwrap().clone();
    check_outage(&writes, &[], &client);
}

/// Signals processes with `kill`.
fn signal(signal: &str, pids: &[String]) {
    assert!(Command::new("kill").arg(format!("-{signal}")).args(pids).status().unwrap().success());
}

/// After a crash of PostgreSQL the read cache serves nothing it cached before. A commit that was visible
/// but not yet in the log on disk is lost in a crash (writes of this service are answered only once they
/// are, but readers may see them first), and the counter the cache compares then gives the same number
/// again for another state. Here such a commit is made by hand, with the processes that would write the
/// log stopped, and read through the cache; after the crash another write brings the counter back to the
/// number the cached answer has.
#[test]
fn postgres_crash_leaves_nothing_stale_in_the_read_cache() {
    let Some(cluster) = ThrowawayPostgres::create() else { return };
    let key = admin_key_for(&cluster.url());
    let service = ServiceProcess::start(&cluster.url(), &[]);
    let admin = service.client(Some(&key));
    let anonymous = service.client(None);
    let network = admin.create("networks", &network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    let mut conn = diesel::PgConnection::establish(&cluster.url()).unwrap();
    use diesel::RunQueryDsl;
    // A commit of an autovacuum worker (a fresh cluster analyses its new tables) would flush the log with
    // the commit below in it; none runs from here on.
    conn.batch_execute("ALTER SYSTEM SET autovacuum = off").unwrap();
    conn.batch_execute("SELECT pg_reload_conf()").unwrap();
    wait_until("no autovacuum worker runs", Duration::from_secs(30), || {
        conn.batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
        )
        .unwrap();
        let running: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker')",
        ))
        .get_result(&mut conn)
        .unwrap();
        running == 0
    });
    let writers = cluster.background_processes(&["walwriter", "background writer", "checkpointer"]);
    assert_eq!(writers.len(), 3, "{writers:?}");
    signal("STOP", &writers);
    conn.batch_execute(&format!(
        "BEGIN; SET LOCAL synchronous_commit = off; \
         UPDATE networks SET description = 'nie dauerhaft' WHERE id = '{}'; \
         UPDATE write_lock SET writes = writes + 1 WHERE id = 1; COMMIT",
        network["id"].as_str().unwrap()
    ))
    .unwrap();
    assert_eq!(anonymous.get(&path).json()["description"], "nie dauerhaft");
    assert_eq!(anonymous.get(&path).json()["description"], "nie dauerhaft");
    signal("KILL", &writers);
    wait_until("PostgreSQL has recovered", Duration::from_secs(30), || anonymous.get("/readyz").status == 200);
    let stored = anonymous.get(&path).json();
    assert_ne!(stored["description"], "nie dauerhaft", "the commit was not lost: {stored}");
    // Another write: the counter has the number of the cached answer again.
    admin.create("networks", &network_body("stadt-duesseldorf", "05111"));
    assert_ne!(anonymous.get(&path).json()["description"], "nie dauerhaft");
}

/// A database role that may not call `pg_logical_emit_message` (an administrator revoked it from PUBLIC)
/// still writes: its writes commit synchronously rather than fail after their commit.
#[test]
fn postgres_role_without_logical_messages_still_writes() {
    let Some(cluster) = ThrowawayPostgres::create() else { return };
    let mut superuser = diesel::PgConnection::establish(&cluster.url()).unwrap();
    superuser.batch_execute("CREATE ROLE rbn LOGIN").unwrap();
    superuser.batch_execute("CREATE DATABASE rbn OWNER rbn").unwrap();
    let mut in_database =
        diesel::PgConnection::establish(&format!("postgres://postgres@127.0.0.1:{}/rbn", cluster.port)).unwrap();
    in_database
        .batch_execute(
            "REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) FROM PUBLIC; \
             REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, bytea) FROM PUBLIC",
        )
        .unwrap();
    let url = format!("postgres://rbn@127.0.0.1:{}/rbn", cluster.port);
    let key = admin_key_for(&url);
    let service = ServiceProcess::start(&url, &[]);
    let client = service.client(Some(&key));
    let network = client.create("networks", &network_body("kreis-mettmann", "05158"));
    let path = format!("/v1/networks/{}", network["id"].as_str().unwrap());
    let etag = client.get(&path).etag();
    assert_eq!(client.patch(&path, &etag, &json!({"description": "synchron geschrieben"})).status, 200);
    assert_eq!(client.get(&path).json()["description"], "synchron geschrieben");
}

/// The real service on a fresh SQLite database with the given request time-out (seconds), an admin client
/// and one network to write contacts to.
fn sqlite_service(request_timeout: &str) -> (TestDatabase, ServiceProcess, Client, serde_json::Value) {
    let database = TestDatabase::new(&Backend::Sqlite);
    let key = admin_key_for(&database.url);
    let service = ServiceProcess::start(&database.url, &[("RBN_REQUEST_TIMEOUT", request_timeout)]);
    let client = service.client(Some(&key));
    let network = client.create("networks", &network_body("kreis-mettmann", "05158"));
    (database, service, client, network)
}

/// Holds SQLite's write lock from another connection, as a stuck writer or a locked file would.
fn lock_sqlite(url: &str) -> SqliteConnection {
    let path = url.strip_prefix("sqlite://").unwrap();
    let mut conn = SqliteConnection::establish(path).unwrap();
    conn.batch_execute("PRAGMA busy_timeout = 5000; BEGIN EXCLUSIVE;").unwrap();
    conn
}

#[test]
fn sqlite_locked_under_load_answers_503_and_recovers() {
    let (database, _service, client, network) = sqlite_service("2");
    let load = Load::start(&client, network["id"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(500));
    let mut lock = lock_sqlite(&database.url);
    let during = client.post("/v1/contacts", &json!({"networkId": network["id"], "name": "gesperrt"}));
    during.problem(503);
    std::thread::sleep(Duration::from_millis(1500));
    lock.batch_execute("ROLLBACK").unwrap();
    drop(lock);
    wait_for_writes(&client, &network, Duration::from_secs(10));
    let (writes, reads) = load.finish();
    check_outage(&writes, &reads, &client);
    // A write its client was told failed never happens later: waits end before the request time-out.
    let stored: BTreeSet<String> =
        client.all("/v1/contacts?limit=500").iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    assert!(!stored.contains("gesperrt"), "the refused write did not happen");
    for (_, _, name) in writes.iter().filter(|(status, _, _)| *status == 503) {
        assert!(!stored.contains(name), "the refused write {name} happened after all");
    }
}

/// Reads HTTP/1.1 responses from `stream` until it closes; each as (status, headers in lower case).
fn read_responses(stream: &mut std::net::TcpStream) -> Vec<(u16, String)> {
    use std::io::Read;
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).to_string();
    text.split("HTTP/1.1 ")
        .skip(1)
        .map(|response| {
            let status = response[..3].parse().unwrap();
            let head = response.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
            (status, head)
        })
        .collect()
}

/// SIGINT, like SIGTERM, drains: a slow upload in progress completes, a request sent on an idle
/// keep-alive connection afterwards is answered, every response says `Connection: close`, and of two
/// pipelined requests exactly those answered are written. (SIGINT used to stop at once, and requests
/// already read on keep-alive connections went unanswered.)
#[test]
fn sigint_drains_keep_alive_connections_and_slow_uploads() {
    use std::io::{Read, Write};
    let (_database, mut service, client, network) = sqlite_service("20");
    let key = client.key.clone().unwrap();
    let address = service.address.strip_prefix("http://").unwrap().to_string();
    let post = |name: &str| {
        let body = json!({"networkId": network["id"], "name": name}).to_string();
        format!(
            "POST /v1/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    // An idle keep-alive connection, and an upload that has sent half its body.
    let mut idle = std::net::TcpStream::connect(&address).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 512];
    assert!(idle.read(&mut first).unwrap() > 0);
    let mut upload = std::net::TcpStream::connect(&address).unwrap();
    let request = post("langsam");
    let (head, tail) = request.split_at(request.len() - 10);
    upload.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let _ = Command::new("kill").arg("-INT").arg(service.child.id().to_string()).status();
    std::thread::sleep(Duration::from_millis(400));
    idle.write_all(format!("{}{}", post("eins"), post("zwei")).as_bytes()).unwrap();
    upload.write_all(tail.as_bytes()).unwrap();
    let uploaded = read_responses(&mut upload);
    assert_eq!(uploaded.len(), 1);
    assert_eq!(uploaded[0].0, 201, "the slow upload completed: {}", uploaded[0].1);
    assert!(uploaded[0].1.contains("connection: close"), "{}", uploaded[0].1);
    let pipelined = read_responses(&mut idle);
    assert!(!pipelined.is_empty(), "the request sent on the idle connection was answered");
    assert!(pipelined.iter().all(|(status, _)| *status == 201), "{pipelined:?}");
    assert!(pipelined.last().unwrap().1.contains("connection: close"), "{pipelined:?}");
    let exit = service.child.wait().unwrap();
    assert!(exit.success(), "graceful exit: {exit}");
    let db = Db::open(&_database.url, 1).unwrap();
    let stored: BTreeSet<String> = db
        .all::<rbn_registry::domain::Contact>(&Default::default(), &admin_access())
        .unwrap()
        .into_iter()
        .map(|c| c.name.into())
        .collect();
    let answered: BTreeSet<String> =
        ["langsam", "eins", "zwei"].iter().take(1 + pipelined.len()).map(|n| n.to_string()).collect();
    assert_eq!(stored, answered, "exactly the answered requests were written");
}

#[test]
fn sigterm_completes_requests_in_flight() {
    let (database, mut service, client, network) = sqlite_service("20");
    // Writes that wait for the lock are in flight when SIGTERM arrives.
    let mut lock = lock_sqlite(&database.url);
    let in_flight: Vec<_> = (0..4)
        .map(|i| {
            let (client, network_id) = (client.clone(), network["id"].clone());
            std::thread::spawn(move || {
                client.post("/v1/contacts", &json!({"networkId": network_id, "name": format!("unterwegs {i}")})).status
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let _ = Command::new("kill").arg("-TERM").arg(service.child.id().to_string()).status();
    std::thread::sleep(Duration::from_millis(500));
    lock.batch_execute("ROLLBACK").unwrap();
    drop(lock);
    let statuses: Vec<u16> = in_flight.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(statuses, [201, 201, 201, 201], "requests in flight completed");
    let exit = service.child.wait().unwrap();
    assert!(exit.success(), "graceful exit: {exit}");
    let db = Db::open(&database.url, 1).unwrap();
    let stored = db.all::<rbn_registry::domain::Contact>(&Default::default(), &admin_access()).unwrap();
    assert_eq!(stored.len(), 4, "and their writes are stored");
}

fn admin_access() -> rbn_registry::domain::Access {
    let now = rbn_registry::domain::Timestamp::now();
    rbn_registry::domain::Access::Key(rbn_registry::domain::ApiKey {
        id: uuid::Uuid::nil(),
        name: "test".into(),
        role: Role::Admin,
        district_key: None,
        network_ids: vec![],
        prefix: String::new(),
        expires_at: None,
        revoked_at: None,
        created_at: now,
        updated_at: now,
    })
}

#[test]
fn a_request_over_the_time_out_is_cut_off_cleanly() {
    let (database, _service, client, network) = sqlite_service("1");
    let mut lock = lock_sqlite(&database.url);
    let started = Instant::now();
    let reply = client.post("/v1/contacts", &json!({"networkId": network["id"], "name": "zu langsam"}));
    let took = started.elapsed();
    reply.problem(503);
    assert!(reply.header("retry-after").is_some());
    assert!(took < Duration::from_millis(1900), "cut off after {took:?}");
    // The lock goes away later: the cut-off write must not happen behind the client's back.
    std::thread::sleep(Duration::from_millis(1500));
    lock.batch_execute("ROLLBACK").unwrap();
    drop(lock);
    std::thread::sleep(Duration::from_millis(300));
    assert!(client.all("/v1/contacts").is_empty(), "the cut-off write was not committed");
    assert_eq!(client.get("/healthz").status, 200);
    assert_eq!(client.post("/v1/contacts", &json!({"networkId": network["id"], "name": "jetzt"})).status, 201);
}

/// `chattr +i`: the file cannot be written any more, not even through descriptors already open.
fn set_immutable(path: &str, on: bool) -> bool {
    Command::new("chattr").arg(if on { "+i" } else { "-i" }).arg(path).status().is_ok_and(|s| s.success())
}

#[test]
fn sqlite_file_made_unwritable_under_load() {
    let (database, _service, client, network) = sqlite_service("3");
    let file = database.url.strip_prefix("sqlite://").unwrap().to_string();
    let files = [file.clone(), format!("{file}-wal")];
    // Whatever happens, the files become writable again (so the temporary directory can be removed).
    struct Writable(Vec<String>);
    impl Drop for Writable {
        fn drop(&mut self) {
            for f in &self.0 {
                set_immutable(f, false);
            }
        }
    }
    let _guard = Writable(files.to_vec());
    let load = Load::start(&client, network["id"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(500));
    if !files.iter().all(|f| set_immutable(f, true)) {
        for f in &files {
            set_immutable(f, false);
        }
        load.finish();
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "CI needs chattr on an ext4 temp directory");
        eprintln!("chattr +i is not supported here: skipping");
        return;
    }
    let during = client.post("/v1/contacts", &json!({"networkId": network["id"], "name": "schreibgeschützt"}));
    let reads_still_work = client.get("/v1/networks").status;
    std::thread::sleep(Duration::from_millis(1000));
    for f in &files {
        assert!(set_immutable(f, false));
    }
    during.problem(503);
    assert!(reads_still_work == 200 || reads_still_work == 503);
    wait_for_writes(&client, &network, Duration::from_secs(10));
    let (writes, reads) = load.finish();
    check_outage(&writes, &reads, &client);
    assert!(!client.all("/v1/contacts?limit=500").iter().any(|c| c["name"] == "schreibgeschützt"));
}

/// A small filesystem of the test's own (tmpfs), unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// `None` where this process may not mount (outside CI only).
    fn mount(bytes: u64) -> Option<SmallDisk> {
        let dir = std::env::temp_dir().join(format!("rbn-full-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            let _ = std::fs::remove_dir(&dir);
            assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "CI needs to mount a tmpfs (run as root)");
            eprintln!("cannot mount a tmpfs here: skipping");
            return None;
        }
        Some(SmallDisk(dir))
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// SQLite on a full disk: writes are refused with 503 and Retry-After (nothing written), reads keep
/// working, and writes come back once there is space again. (A full disk used to be a 500.)
#[test]
fn a_full_disk_refuses_writes_with_503_and_recovers() {
    let Some(disk) = SmallDisk::mount(8 * 1024 * 1024) else { return };
    let url = format!("sqlite://{}/rbn.sqlite3", disk.0.display());
    let key = admin_key_for(&url);
    let service = ServiceProcess::start(&url, &[]);
    let client = service.client(Some(&key));
    let network = client.create("networks", &network_body("kreis-mettmann", "05158"));
    let filler = disk.fill();
    let description = "Bildungsbüro ".repeat(15);
    let mut refused = None;
    for i in 0..50 {
        let reply = client.post(
            "/v1/contacts",
            &json!({"networkId": network["id"], "name": format!("voll {i}"), "organisation": description}),
        );
        if reply.status != 201 {
            refused = Some((i, reply));
            break;
        }
    }
    let (i, reply) = refused.expect("a write was refused on the full disk");
    let problem = reply.problem(503);
    assert_eq!(problem["type"], "urn:rbn:problem:storage-full", "{problem}");
    assert!(reply.header("retry-after").is_some());
    assert_eq!(client.get("/v1/networks").status, 200, "reads still work");
    assert_eq!(client.get(&format!("/v1/networks/{}", network["id"].as_str().unwrap())).status, 200);
    std::fs::remove_file(filler).unwrap();
    let again = client.post("/v1/contacts", &json!({"networkId": network["id"], "name": "wieder Platz"}));
    assert_eq!(again.status, 201, "writes come back: {}", again.text());
    let names: Vec<String> =
        client.all("/v1/contacts?limit=500").iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    assert!(!names.contains(&format!("voll {i}")), "the refused write was not stored");
    assert!(names.contains(&"wieder Platz".to_string()));
}
