//! The command line as an operator meets it: help, version, exit codes, settings from the environment,
//! a first key on a fresh database, and the health check a container runs.

mod common;

use std::process::{Command, Stdio};

use common::{Backend, ServiceProcess, TestDatabase};
use serde_json::json;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `rbn ARGS` with `env` added to a clean set of the service's variables.
fn rbn(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rbn"));
    command.args(args).env("RUST_LOG", "warn").stdin(Stdio::null());
    for name in ["DATABASE_URL", "RBN_SEED", "RBN_LISTEN", "RBN_LOG_FORMAT", "RBN_DB_POOL", "RBN_WORKERS"] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run rbn");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn every_subcommand_has_help_and_the_service_lists_its_variables_with_defaults() {
    let top = rbn(&["--help"], &[]);
    assert_eq!(top.code, Some(0), "{}", top.stderr);
    for command in ["serve", "migrate", "keys", "import", "export", "openapi", "healthcheck"] {
        assert!(top.stdout.contains(command), "rbn --help does not name {command}: {}", top.stdout);
    }
    for args in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["keys", "--help"],
        &["keys", "create", "--help"],
        &["import", "--help"],
        &["export", "--help"],
        &["openapi", "--help"],
        &["healthcheck", "--help"],
        &["help", "keys", "create"],
    ] {
        let run = rbn(args, &[]);
        assert_eq!(run.code, Some(0), "rbn {args:?}: {}", run.stderr);
        assert!(run.stdout.contains("Usage: rbn"), "rbn {args:?}: {}", run.stdout);
    }
    let serve = rbn(&["serve", "--help"], &[]).stdout;
    for (variable, default) in [
        ("DATABASE_URL", "sqlite://data/rbn.sqlite3"),
        ("RBN_LISTEN", "127.0.0.1:8080"),
        ("RBN_SEED", "true"),
        ("RBN_LOG_FORMAT", "pretty"),
        ("RBN_DB_POOL", "8"),
        ("RBN_WORKERS", "0"),
        ("RBN_CACHE_MAX_AGE", "60"),
        ("RBN_BODY_LIMIT", "262144"),
        ("RBN_REQUEST_TIMEOUT", "30"),
        ("RBN_AUTH_FAILURE_LIMIT", "10"),
        ("RBN_READ_CACHE", "true"),
        ("RBN_READ_CACHE_BYTES", "33554432"),
        ("RBN_DRAIN_TIMEOUT", "30"),
    ] {
        let line = serve.lines().find(|l| l.contains(&format!("[env: {variable}"))).unwrap_or_else(|| {
            panic!("rbn serve --help does not list {variable}: {serve}");
        });
        assert!(line.contains(&format!("[default: {default}]")), "{variable}: {line}");
    }
    // A database URL may hold a password: its value is never printed.
    let with_secret = rbn(&["serve", "--help"], &[("DATABASE_URL", "postgres://u:secret@db/x")]);
    assert!(!with_secret.stdout.contains("secret"), "{}", with_secret.stdout);
}

#[test]
fn version_and_exit_codes() {
    let version = rbn(&["--version"], &[]);
    assert_eq!(version.code, Some(0));
    assert_eq!(version.stdout.trim(), format!("rbn {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(rbn(&["keys", "create", "--version"], &[]).code, Some(0));
    // Usage errors are 2, with a hint.
    for args in [&["frobnicate"][..], &["keys"], &["keys", "create"], &["export", "--format", "xml"], &["import"]] {
        let run = rbn(args, &[]);
        assert_eq!(run.code, Some(2), "rbn {args:?}: {}", run.stderr);
        assert!(run.stderr.contains("Usage") || run.stderr.contains("--help"), "rbn {args:?}: {}", run.stderr);
    }
    // A setting that cannot be read is 2 as well, and names the value.
    let seed = rbn(&["migrate"], &[("RBN_SEED", "maybe")]);
    assert_eq!(seed.code, Some(2), "{}", seed.stderr);
    assert!(seed.stderr.contains("maybe"), "{}", seed.stderr);
    let pool = rbn(&["serve"], &[("RBN_DB_POOL", "many")]);
    assert_eq!(pool.code, Some(2), "{}", pool.stderr);
    // What fails at run time is 1.
    let missing = rbn(&["import", "/nonexistent/rbn.json"], &[("DATABASE_URL", "sqlite:///nonexistent/x.sqlite3")]);
    assert_eq!(missing.code, Some(1), "{}", missing.stderr);
    let csv = rbn(&["export", "--format", "csv"], &[]);
    assert_eq!(csv.code, Some(2), "{}", csv.stderr);
}

/// `rbn keys create --role editor --network kreis-mettmann` on a database nobody set up: the seed is
/// loaded first, and the key writes to that network over HTTP, and only there.
fn a_first_editor_key_works_on_a_fresh_database(backend: Backend) {
    let database = TestDatabase::new(&backend);
    let url = database.url.as_str();
    let created = rbn(&["keys", "create", "--role", "editor", "--network", "kreis-mettmann"], &[("DATABASE_URL", url)]);
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let secret = created.stdout.trim().to_string();
    assert!(secret.starts_with("rbn_"), "the secret is printed alone: {}", created.stdout);
    assert!(created.stderr.contains("editor key for kreis-mettmann"), "{}", created.stderr);

    let service = ServiceProcess::start(url, &[]);
    let editor = service.client(Some(&secret));
    let network = editor.get("/v1/networks/kreis-mettmann");
    assert_eq!(network.status, 200, "the seed was loaded: {}", network.text());
    let patched = editor.patch("/v1/networks/kreis-mettmann", &network.etag(), &json!({"description": "Vom Büro"}));
    assert_eq!(patched.status, 200, "{}", patched.text());
    let other = editor.get("/v1/networks/muenster");
    assert_eq!(other.status, 200);
    editor.patch("/v1/networks/muenster", &other.etag(), &json!({"description": "Nein"})).problem(403);
    // The seed is loaded once: a second key on the same database changes no record.
    let again = rbn(&["keys", "create", "--role", "admin", "--name", "Ministerium"], &[("DATABASE_URL", url)]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let network = editor.get("/v1/networks/kreis-mettmann").json();
    assert_eq!(network["description"], json!("Vom Büro"));
    // Without the seed, naming a network of an empty database says why it fails.
    let empty = TestDatabase::new(&backend);
    let refused = rbn(
        &["keys", "create", "--role", "editor", "--network", "kreis-mettmann"],
        &[("DATABASE_URL", empty.url.as_str()), ("RBN_SEED", "false")],
    );
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(refused.stderr.contains("RBN_SEED is false"), "{}", refused.stderr);
    drop(service);
}

/// `rbn healthcheck` is 0 against a ready service (also when it listens on 0.0.0.0) and 1 when nothing
/// answers.
fn the_health_check_asks_the_running_service(backend: Backend) {
    let database = TestDatabase::new(&backend);
    let service = ServiceProcess::start(&database.url, &[]);
    let address = service.address.trim_start_matches("http://").to_string();
    let ok = rbn(&["healthcheck"], &[("RBN_LISTEN", address.as_str())]);
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    let port = address.rsplit(':').next().unwrap();
    let any = rbn(&["healthcheck", "--listen", &format!("0.0.0.0:{port}")], &[]);
    assert_eq!(any.code, Some(0), "{}", any.stderr);
    let client = service.client(None);
    assert_eq!(client.get("/readyz").status, 200);
    drop(service);
    let gone = rbn(&["healthcheck", "--listen", &address, "--timeout", "2"], &[]);
    assert_eq!(gone.code, Some(1), "{}", gone.stderr);
}

backend_tests!(
    a_first_editor_key_works_on_a_fresh_database,
    the_health_check_asks_the_running_service,
    a_command_that_fails_at_once_exits_with_its_code,
);

/// A command that fails right after opening the database exits with its code, never a crash: on
/// PostgreSQL, OpenSSL's clean-up at exit used to free what a pool thread was still using to connect
/// (a segfault in about one run of six).
fn a_command_that_fails_at_once_exits_with_its_code(backend: Backend) {
    let empty = TestDatabase::new(&backend);
    for run in 0..30 {
        let refused = rbn(
            &["keys", "create", "--role", "editor", "--network", "kreis-mettmann"],
            &[("DATABASE_URL", empty.url.as_str()), ("RBN_SEED", "false")],
        );
        assert_eq!(refused.code, Some(1), "run {run}: {}", refused.stderr);
    }
}
