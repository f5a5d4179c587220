//! Settings from the environment, with the defaults a fresh checkout needs.

use std::time::Duration;

use crate::http::HttpConfig;

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://data/rbn.sqlite3` (default) or `postgres://…`.
    pub database_url: String,
    /// `RBN_LISTEN`: address and port, default `127.0.0.1:8080`.
    pub listen: String,
    /// `RBN_SEED`: load the dataset into an empty database at start (default `true`).
    pub seed: bool,
    /// `RBN_LOG_FORMAT`: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// `RBN_DB_POOL`: database connections per process (default 8).
    pub pool_size: u32,
    /// `RBN_CACHE_MAX_AGE` (seconds, default 60), `RBN_BODY_LIMIT` (bytes, default 262144),
    /// `RBN_REQUEST_TIMEOUT` (seconds, default 30), `RBN_AUTH_FAILURE_LIMIT` (failed authentications per
    /// client and minute before 429, default 10), `RBN_PUBLIC_URL` (the public base URL of the pages,
    /// default `http://` and the listen address).
    pub http: HttpConfig,
    /// `RBN_WORKERS`: HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// `RBN_DRAIN_TIMEOUT`: after SIGTERM or SIGINT, how long requests already received may take to be
    /// answered before the process exits anyway (seconds, default 30).
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(text) => {
            text.parse().map_err(|_| ConfigError { name, message: format!("'{text}' is not a valid number") })
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let seed = match var("RBN_SEED").as_deref() {
            None | Some("true") | Some("1") | Some("yes") => true,
            Some("false") | Some("0") | Some("no") => false,
            Some(other) => {
                return Err(ConfigError { name: "RBN_SEED", message: format!("'{other}' is neither true nor false") });
            }
        };
        let log_format = match var("RBN_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    name: "RBN_LOG_FORMAT",
                    message: format!("'{other}' is neither pretty nor json"),
                });
            }
        };
        let listen = var("RBN_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        Ok(Config {
            database_url: var("DATABASE_URL").unwrap_or_else(|| "sqlite://data/rbn.sqlite3".into()),
            seed,
            log_format,
            pool_size: number("RBN_DB_POOL", 8)?.max(1),
            http: HttpConfig {
                cache_max_age: number("RBN_CACHE_MAX_AGE", 60)?,
                body_limit: number("RBN_BODY_LIMIT", 256 * 1024)?,
                request_timeout: Duration::from_secs(number("RBN_REQUEST_TIMEOUT", 30)?.max(1)),
                auth_failure_limit: number("RBN_AUTH_FAILURE_LIMIT", 10)?.max(1),
                read_cache: !matches!(var("RBN_READ_CACHE").as_deref(), Some("false" | "0" | "no")),
                read_cache_bytes: number("RBN_READ_CACHE_BYTES", 32 * 1024 * 1024)?,
                public_url: var("RBN_PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}")),
            },
            listen,
            workers: var("RBN_WORKERS").map(|_| number("RBN_WORKERS", 2)).transpose()?,
            drain_timeout: Duration::from_secs(number("RBN_DRAIN_TIMEOUT", 30)?),
        })
    }
}
