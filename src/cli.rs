//! The subcommands of `rbn`: serve (default), migrate, keys create, import, export, openapi.

use std::io::Write;

use crate::app::{self, StartError};
use crate::config::Config;
use crate::domain::{Access, ApiKeyInput, Role};
use crate::http::exports::{csv_columns, resource_values};
use crate::storage::{Actor, Db, ImportError};

const USAGE: &str = "\
rbn — the registry of the Regionale Bildungsnetzwerke NRW

Usage:
  rbn [serve]                         run the HTTP service (default)
  rbn migrate                         apply database migrations and exit
  rbn keys create --role ROLE --name NAME [--district KEY] [--network ID]... [--expires RFC3339]
                                      create an API key and print its secret (shown once)
  rbn import FILE                     load a dataset file (all or nothing; '-' reads standard input)
  rbn export [--format json|csv] [--resource networks|contracts|bodies|handlungsfelder|contacts]
                                      write the whole dataset (JSON) or one resource (CSV) to standard output
  rbn openapi                         print the OpenAPI document

Configuration: DATABASE_URL, RBN_LISTEN, RBN_SEED, RUST_LOG, RBN_LOG_FORMAT (see README.md).";

/// A command-line failure: the message for the user and the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub message: String,
    pub code: i32,
}

fn usage_error(message: impl Into<String>) -> CliError {
    CliError { message: format!("{}\n\n{USAGE}", message.into()), code: 2 }
}

impl From<StartError> for CliError {
    fn from(e: StartError) -> Self {
        CliError { message: e.to_string(), code: 1 }
    }
}

fn open(config: &Config) -> Result<Db, CliError> {
    let db = Db::open(&config.database_url, 2).map_err(|e| CliError { message: e.to_string(), code: 1 })?;
    db.migrate().map_err(|e| CliError { message: e.to_string(), code: 1 })?;
    Ok(db)
}

/// Runs the command line `args` (without the program name).
pub fn run(args: Vec<String>) -> Result<(), CliError> {
    let config = Config::from_env().map_err(|e| CliError { message: e.to_string(), code: 2 })?;
    crate::telemetry::init(config.log_format);
    let (command, rest) = match args.split_first() {
        None => ("serve", &[][..]),
        Some((first, rest)) => (first.as_str(), rest),
    };
    match command {
        "serve" => serve(config),
        "migrate" => {
            open(&config)?;
            eprintln!("migrations applied");
            Ok(())
        }
        "keys" => keys(&config, rest),
        "import" => import(&config, rest),
        "export" => export(&config, rest),
        "openapi" => {
            print!("{}", crate::http::openapi::document_json());
            Ok(())
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(usage_error(format!("unknown command: {other}"))),
    }
}

fn serve(config: Config) -> Result<(), CliError> {
    let db = app::prepare_database(&config)?;
    let listener = app::listen(&config)?;
    actix_web::rt::System::new()
        .block_on(app::serve(config, db, listener))
        .map_err(|e| CliError { message: e.to_string(), code: 1 })
}

/// Options of the form `--name value`, repeatable.
fn options(args: &[String], allowed: &[&str]) -> Result<Vec<(String, String)>, CliError> {
    let mut pairs = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(name) = arg.strip_prefix("--") else {
            return Err(usage_error(format!("unexpected argument: {arg}")));
        };
        if !allowed.contains(&name) {
            return Err(usage_error(format!("unknown option: --{name}")));
        }
        let value = iter.next().ok_or_else(|| usage_error(format!("--{name} needs a value")))?;
        pairs.push((name.to_string(), value.clone()));
    }
    Ok(pairs)
}

fn keys(config: &Config, args: &[String]) -> Result<(), CliError> {
    if args.first().map(String::as_str) != Some("create") {
        return Err(usage_error("usage: rbn keys create --role admin|district|editor --name NAME"));
    }
    let opts = options(&args[1..], &["role", "name", "district", "network", "expires"])?;
    let get = |n: &str| opts.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = serde_json::json!({
        "name": get("name").ok_or_else(|| usage_error("--name is required"))?,
        "role": get("role").ok_or_else(|| usage_error("--role is required"))?,
    });
    if let Some(district) = get("district") {
        body["districtKey"] =
            serde_json::json!(district.parse::<i64>().map_err(|_| usage_error("--district takes 1, 3, 5, 7 or 9"))?);
    }
    let networks: Vec<String> = opts.iter().filter(|(k, _)| k == "network").map(|(_, v)| v.clone()).collect();
    let db = open(config)?;
    let mut network_ids = Vec::new();
    for network in networks {
        let id = db.network_id(&network).map_err(|e| CliError { message: e.to_string(), code: 1 })?;
        network_ids.push(
            id.ok_or_else(|| CliError { message: format!("no network has the id or slug {network}"), code: 1 })?
                .to_string(),
        );
    }
    if !network_ids.is_empty() {
        body["networkIds"] = serde_json::json!(network_ids);
    }
    if let Some(expires) = get("expires") {
        body["expiresAt"] = serde_json::json!(expires);
    }
    let input: ApiKeyInput = crate::http::meta::parse_key_input(&body).map_err(|e| CliError {
        message: e.0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("\n"),
        code: 2,
    })?;
    let actor = Actor { key_name: Some("rbn keys create (command line)".into()), ..Actor::default() };
    let created = db.create_key(&input, &actor).map_err(|e| CliError { message: e.to_string(), code: 1 })?;
    eprintln!(
        "created {} key '{}' ({}); the secret is shown only now:",
        created.key.role, created.key.name, created.key.id
    );
    println!("{}", created.secret);
    Ok(())
}

fn import(config: &Config, args: &[String]) -> Result<(), CliError> {
    let [file] = args else {
        return Err(usage_error("usage: rbn import FILE"));
    };
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError { message: format!("cannot read standard input: {e}"), code: 1 })?
    } else {
        std::fs::read_to_string(file).map_err(|e| CliError { message: format!("cannot read {file}: {e}"), code: 1 })?
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CliError { message: format!("{file}: not valid JSON: {e}"), code: 1 })?;
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
            Err(CliError { message, code: 1 })
        }
        Err(ImportError::Store(e)) => Err(CliError { message: e.to_string(), code: 1 }),
    }
}

fn export(config: &Config, args: &[String]) -> Result<(), CliError> {
    let opts = options(args, &["format", "resource"])?;
    let get = |n: &str| opts.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let format = get("format").unwrap_or_else(|| "json".into());
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
    let db = open(config)?;
    let output = match format.as_str() {
        "json" => {
            if get("resource").is_some() {
                return Err(usage_error("--resource goes with --format csv"));
            }
            let document = db.export(&everything).map_err(|e| CliError { message: e.to_string(), code: 1 })?;
            let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
            text.push('\n');
            text
        }
        "csv" => {
            let resource = get("resource").ok_or_else(|| usage_error("--format csv needs --resource"))?;
            let columns = csv_columns(&resource).ok_or_else(|| usage_error(format!("no such resource: {resource}")))?;
            let records = resource_values(&db, &resource, &everything)
                .map_err(|e| CliError { message: e.to_string(), code: 1 })?
                .unwrap_or_default();
            crate::domain::dataset::to_csv(columns, &records)
        }
        other => return Err(usage_error(format!("unknown format: {other}"))),
    };
    std::io::stdout().write_all(output.as_bytes()).map_err(|e| CliError { message: e.to_string(), code: 1 })
}
