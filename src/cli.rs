//! The subcommands of `rbn`: serve (default), migrate, keys create, import, export, openapi, healthcheck.
//!
//! Exit codes: 0 done, 1 the command failed (database, file, network), 2 the command line or a setting
//! is wrong.

use std::io::{Read, Write};
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::app::{self, StartError};
use crate::config::{Config, DatabaseSettings, Settings};
use crate::domain::dataset::CsvSeparator;
use crate::domain::{Access, ApiKeyInput, Role};
use crate::http::exports::{csv_columns, resource_values};
use crate::storage::{Actor, Db, ImportError};

/// rbn — the registry of the Regionale Bildungsnetzwerke NRW.
///
/// Without a command, `rbn` runs the HTTP service (`rbn serve`), configured by the environment.
#[derive(Debug, Parser)]
#[command(name = "rbn", version, about, long_about, propagate_version = true)]
#[command(after_help = "Every setting is an environment variable, listed with its default by `rbn serve --help`.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default)
    Serve(Settings),
    /// Apply the database migrations and exit
    Migrate(DatabaseSettings),
    /// Manage API keys
    #[command(subcommand)]
    Keys(Keys),
    /// Load a dataset file: every problem is reported and nothing written, or all of it is written
    Import {
        /// The dataset file (the format `rbn export` writes); '-' reads standard input
        file: String,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Write the whole dataset (JSON) or one resource (CSV) to standard output
    Export {
        /// json: the whole dataset; csv: one resource, named by --resource
        #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
        format: String,
        /// The resource to export as CSV
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(crate::domain::ResourceKind::editable_names()))]
        resource: Option<String>,
        /// The character between CSV cells: comma (the default), or semicolon for German spreadsheets
        #[arg(long, value_parser = ["comma", "semicolon"])]
        separator: Option<String>,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Print the OpenAPI document (regenerate openapi/openapi.json with `rbn openapi > openapi/openapi.json`)
    Openapi,
    /// Ask a running service whether it is ready (GET /readyz): exit 0 when it answers 200, else 1
    Healthcheck {
        /// The service's address; 0.0.0.0 and [::] mean this machine
        #[arg(long, env = "RBN_LISTEN", value_name = "ADDRESS", default_value = crate::config::defaults::LISTEN)]
        listen: String,
        /// Seconds to wait for the answer
        #[arg(long, default_value_t = 5, value_name = "SECONDS")]
        timeout: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum Keys {
    /// Create an API key and print its secret (shown only now)
    #[command(after_help = "On an empty database the seed dataset is loaded first (unless RBN_SEED is false), \
so --network can name the seed's networks right away.")]
    Create {
        /// admin: everything; district: the networks of one Regierungsbezirk; editor: the named networks
        #[arg(long, value_parser = ["admin", "district", "editor"])]
        role: String,
        /// Who the key is for (default: the role and its scope)
        #[arg(long)]
        name: Option<String>,
        /// The Regierungsbezirk of a district key
        #[arg(long, value_name = "KEY", value_parser = ["1", "3", "5", "7", "9"])]
        district: Option<String>,
        /// A network an editor key may edit (id or slug); repeatable
        #[arg(long = "network", value_name = "ID_OR_SLUG")]
        networks: Vec<String>,
        /// When the key stops working (RFC 3339)
        #[arg(long, value_name = "RFC3339")]
        expires: Option<String>,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

/// A command-line failure: the message for the user (empty when already printed) and the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub message: String,
    pub code: i32,
}

fn failed(message: impl ToString) -> CliError {
    CliError { message: message.to_string(), code: 1 }
}

fn usage_error(message: impl Into<String>) -> CliError {
    CliError { message: message.into(), code: 2 }
}

/// A clap error (or `--help`, `--version`), printed; the exit code clap chose (0 or 2).
fn clap_outcome(error: clap::Error) -> Result<(), CliError> {
    let _ = error.print();
    match error.exit_code() {
        0 => Ok(()),
        code => Err(CliError { message: String::new(), code }),
    }
}

impl From<StartError> for CliError {
    fn from(e: StartError) -> Self {
        failed(e)
    }
}

fn open(config: &Config) -> Result<Db, CliError> {
    let db = Db::open(&config.database_url, 2).map_err(failed)?;
    db.migrate().map_err(failed)?;
    Ok(db)
}

/// Runs the command line `args` (without the program name).
pub fn run(args: Vec<String>) -> Result<(), CliError> {
    let cli = match Cli::try_parse_from(std::iter::once("rbn".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(error) => return clap_outcome(error),
    };
    let command = match cli.command {
        Some(command) => command,
        None => match Settings::from_env() {
            Ok(settings) => Command::Serve(settings),
            Err(error) => return clap_outcome(error),
        },
    };
    let config = match &command {
        Command::Serve(settings) => Some(settings.clone().into_config()),
        Command::Migrate(database)
        | Command::Import { database, .. }
        | Command::Export { database, .. }
        | Command::Keys(Keys::Create { database, .. }) => Some(database.clone().into_config()),
        Command::Openapi | Command::Healthcheck { .. } => None,
    };
    if let Some(config) = &config {
        crate::telemetry::init(config.log_format);
    }
    let config = config.unwrap_or_default();
    match command {
        Command::Serve(_) => serve(config),
        Command::Migrate(_) => {
            open(&config)?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Keys(Keys::Create { role, name, district, networks, expires, .. }) => {
            create_key(&config, role, name, district, networks, expires)
        }
        Command::Import { file, .. } => import(&config, &file),
        Command::Export { format, resource, separator, .. } => export(&config, &format, resource, separator),
        Command::Openapi => {
            print!("{}", crate::http::openapi::document_json());
            Ok(())
        }
        Command::Healthcheck { listen, timeout } => healthcheck(&listen, Duration::from_secs(timeout.max(1))),
    }
}

fn serve(config: Config) -> Result<(), CliError> {
    let db = app::prepare_database(&config)?;
    let listener = app::listen(&config)?;
    actix_web::rt::System::new().block_on(app::serve(config, db, listener)).map_err(failed)
}

fn create_key(
    config: &Config,
    role: String,
    name: Option<String>,
    district: Option<String>,
    networks: Vec<String>,
    expires: Option<String>,
) -> Result<(), CliError> {
    let name = name.unwrap_or_else(|| match (&district, networks.is_empty()) {
        (Some(district), _) => format!("{role} key for district {district}"),
        (None, false) => format!("{role} key for {}", networks.join(", ")),
        (None, true) => format!("{role} key"),
    });
    let mut body = serde_json::json!({ "name": name, "role": role });
    if let Some(district) = district {
        body["districtKey"] = serde_json::json!(district.parse::<i64>().map_err(|_| usage_error("--district"))?);
    }
    // The seed is loaded into an empty database first (as `rbn serve` would), so the seed's networks
    // can be named at once.
    let db = app::prepare_database(config)?;
    let mut network_ids = Vec::new();
    for network in networks {
        let id = db.network_id(&network).map_err(failed)?;
        let Some(id) = id else {
            let mut message = format!("no network has the id or slug {network}");
            if !config.seed {
                message.push_str(
                    " (RBN_SEED is false, so an empty database stays empty: load a dataset with `rbn import FILE`)",
                );
            }
            return Err(failed(message));
        };
        network_ids.push(id.to_string());
    }
    if !network_ids.is_empty() {
        body["networkIds"] = serde_json::json!(network_ids);
    }
    if let Some(expires) = expires {
        body["expiresAt"] = serde_json::json!(expires);
    }
    let input: ApiKeyInput = crate::http::meta::parse_key_input(&body).map_err(|e| {
        usage_error(e.0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("\n"))
    })?;
    let actor = Actor { key_name: Some("rbn keys create (command line)".into()), ..Actor::default() };
    let created = db.create_key(&input, &actor).map_err(failed)?;
    eprintln!(
        "created {} key '{}' ({}); the secret is shown only now:",
        created.key.role, created.key.name, created.key.id
    );
    println!("{}", created.secret);
    Ok(())
}

fn import(config: &Config, file: &str) -> Result<(), CliError> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| failed(format!("cannot read standard input: {e}")))?
    } else {
        std::fs::read_to_string(file).map_err(|e| failed(format!("cannot read {file}: {e}")))?
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| failed(format!("{file}: not valid JSON: {e}")))?;
    let db = open(config)?;
    let actor = Actor { key_name: Some("rbn import (command line)".into()), ..Actor::default() };
    match db.import(&value, &actor) {
        Ok(report) => {
            eprintln!(
                "imported {file}: {} created, {} updated, {} unchanged; facts {}",
                report.created,
                report.updated,
                report.unchanged,
                if report.facts_replaced { "replaced" } else { "unchanged" }
            );
            Ok(())
        }
        Err(ImportError::Invalid(problems)) => {
            let mut message = format!("{file}: {} problem(s); nothing was written:", problems.len());
            for problem in problems {
                message.push_str(&format!("\n  {}: {}", problem.field, problem.message));
            }
            Err(failed(message))
        }
        Err(ImportError::Store(e)) => Err(failed(e)),
    }
}

fn export(config: &Config, format: &str, resource: Option<String>, separator: Option<String>) -> Result<(), CliError> {
    // The command line is the operator's: it exports everything, internal contacts included.
    let everything = Access::Key(crate::domain::ApiKey {
        id: uuid::Uuid::nil(),
        name: "rbn export (command line)".into(),
        role: Role::Admin,
        district_key: None,
        network_ids: Vec::new(),
        prefix: String::new(),
        expires_at: None,
        revoked_at: None,
        created_at: crate::domain::Timestamp::now(),
        updated_at: crate::domain::Timestamp::now(),
    });
    let output = match (format, resource) {
        ("json", Some(_)) => return Err(usage_error("--resource goes with --format csv")),
        ("json", None) if separator.is_some() => return Err(usage_error("--separator goes with --format csv")),
        ("csv", None) => return Err(usage_error("--format csv needs --resource")),
        ("csv", Some(resource)) => {
            let columns = csv_columns(&resource).ok_or_else(|| usage_error(format!("no such resource: {resource}")))?;
            let db = open(config)?;
            let records = resource_values(&db, &resource, &everything).map_err(failed)?.unwrap_or_default();
            let separator = separator.as_deref().and_then(|s| s.parse().ok()).unwrap_or(CsvSeparator::Comma);
            crate::domain::dataset::to_csv(columns, &records, separator)
        }
        _ => {
            // Written as it is read, page by page: the file may be larger than the memory.
            let db = open(config)?;
            let stdout = std::io::stdout().lock();
            let out = db.export(&everything, |_| Some(std::io::BufWriter::new(stdout))).map_err(failed)?;
            return out.map_or(Ok(()), |mut out| out.flush().map_err(failed));
        }
    };
    std::io::stdout().write_all(output.as_bytes()).map_err(failed)
}

/// `GET /readyz` over plain HTTP/1.1 (for container health checks: the image needs no curl).
fn healthcheck(listen: &str, timeout: Duration) -> Result<(), CliError> {
    use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
    let address: SocketAddr = listen
        .to_socket_addrs()
        .map_err(|e| usage_error(format!("cannot resolve {listen}: {e}")))?
        .next()
        .ok_or_else(|| usage_error(format!("cannot resolve {listen}")))?;
    let address = match address.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => SocketAddr::from(([127, 0, 0, 1], address.port())),
        ip if ip.is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, address.port())),
        _ => address,
    };
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| failed(format!("cannot connect to {address}: {e}")))?;
    stream.set_read_timeout(Some(timeout)).map_err(failed)?;
    stream.set_write_timeout(Some(timeout)).map_err(failed)?;
    write!(
        stream,
        "GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nUser-Agent: rbn-healthcheck\r\n\r\n"
    )
    .map_err(|e| failed(format!("cannot ask {address}: {e}")))?;
    let mut answer = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut answer).map_err(|e| failed(format!("no answer from {address}: {e}")))?;
    let answer = String::from_utf8_lossy(&answer);
    let status_line = answer.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        println!("ready: {address}");
        Ok(())
    } else {
        Err(failed(format!("not ready: {address} answered '{status_line}'")))
    }
}
