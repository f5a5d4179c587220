//! Settings from the environment (or the command line), with the defaults a fresh checkout needs.
//!
//! Every setting is declared once, in [`DatabaseSettings`] and [`Settings`]: its variable, its option,
//! its default (from [`defaults`], the only place defaults are written) and how its text is read. `rbn
//! serve --help` lists them with their defaults. As before, a variable that is set but empty (or only
//! spaces) means its default, and values are trimmed.

use std::str::FromStr;
use std::time::Duration;

use crate::http::{HttpConfig, WebhookConfig};

/// The default of every setting.
pub mod defaults {
    pub const DATABASE_URL: &str = "sqlite://data/rbn.sqlite3";
    pub const LISTEN: &str = "127.0.0.1:8080";
    pub const SEED: bool = true;
    pub const POOL_SIZE: u32 = 8;
    pub const CACHE_MAX_AGE: u64 = 60;
    pub const BODY_LIMIT: usize = 256 * 1024;
    pub const REQUEST_TIMEOUT_SECONDS: u64 = 30;
    pub const AUTH_FAILURE_LIMIT: u32 = 10;
    pub const READ_CACHE: bool = true;
    pub const READ_CACHE_BYTES: usize = 32 * 1024 * 1024;
    pub const DRAIN_TIMEOUT_SECONDS: u64 = 30;
    /// `RBN_WORKERS=0` (the default): one worker per core.
    pub const WORKERS: usize = 0;
    pub const WEBHOOK_ALLOW_PRIVATE: bool = false;
    /// The first retry of a webhook comes about this long after the first failure (milliseconds).
    pub const WEBHOOK_RETRY_BASE_MS: u64 = 5_000;
    /// A subscription whose deliveries all failed for this long is deactivated (seconds: 3 days).
    pub const WEBHOOK_DISABLE_AFTER_SECONDS: u64 = 3 * 24 * 3600;
}

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

/// The settings every subcommand that opens the database reads.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseSettings {
    /// The database: sqlite://path (relative), sqlite:///abs/path or postgres://user:pw@host/db
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL",
          default_value = defaults::DATABASE_URL, value_parser = text_or(defaults::DATABASE_URL))]
    pub database_url: String,
    /// Load the seed dataset (data/seed.json) into an empty database first: true or false
    #[arg(long, env = "RBN_SEED", value_name = "BOOL", action = clap::ArgAction::Set,
          default_value_t = defaults::SEED, value_parser = strict_bool(defaults::SEED))]
    pub seed: bool,
    /// Log lines: pretty or json (one JSON object per line); RUST_LOG filters them (default info)
    #[arg(long, env = "RBN_LOG_FORMAT", value_name = "FORMAT", default_value = "pretty",
          value_parser = log_format)]
    pub log_format: LogFormat,
}

/// The settings of the service (`rbn serve`): the database's, and those of HTTP.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// Address and port to listen on
    #[arg(long, env = "RBN_LISTEN", value_name = "ADDRESS", default_value = defaults::LISTEN,
          value_parser = text_or(defaults::LISTEN))]
    pub listen: String,
    /// Database connections per process (at least 1)
    #[arg(long = "db-pool", env = "RBN_DB_POOL", value_name = "N",
          default_value_t = defaults::POOL_SIZE, value_parser = number_or(defaults::POOL_SIZE))]
    pub pool_size: u32,
    /// HTTP worker threads; 0 is one per core
    #[arg(long, env = "RBN_WORKERS", value_name = "N",
          default_value_t = defaults::WORKERS, value_parser = number_or(defaults::WORKERS))]
    pub workers: usize,
    /// max-age of anonymous reads, seconds
    #[arg(long, env = "RBN_CACHE_MAX_AGE", value_name = "SECONDS",
          default_value_t = defaults::CACHE_MAX_AGE, value_parser = number_or(defaults::CACHE_MAX_AGE))]
    pub cache_max_age: u64,
    /// Largest request body, bytes (413 above)
    #[arg(long, env = "RBN_BODY_LIMIT", value_name = "BYTES",
          default_value_t = defaults::BODY_LIMIT, value_parser = number_or(defaults::BODY_LIMIT))]
    pub body_limit: usize,
    /// Seconds before a request is cut off with 503 (at least 1; database waits end before)
    #[arg(long, env = "RBN_REQUEST_TIMEOUT", value_name = "SECONDS",
          default_value_t = defaults::REQUEST_TIMEOUT_SECONDS, value_parser = number_or(defaults::REQUEST_TIMEOUT_SECONDS))]
    pub request_timeout: u64,
    /// Failed authentications per client and minute before 429 (at least 1)
    #[arg(long, env = "RBN_AUTH_FAILURE_LIMIT", value_name = "N",
          default_value_t = defaults::AUTH_FAILURE_LIMIT, value_parser = number_or(defaults::AUTH_FAILURE_LIMIT))]
    pub auth_failure_limit: u32,
    /// Answer anonymous reads from the read cache while the registry is unchanged (false, 0 or no turn it off)
    #[arg(long, env = "RBN_READ_CACHE", value_name = "BOOL", action = clap::ArgAction::Set,
          default_value_t = defaults::READ_CACHE, value_parser = lenient_bool)]
    pub read_cache: bool,
    /// The most bytes of answers the read cache holds
    #[arg(long, env = "RBN_READ_CACHE_BYTES", value_name = "BYTES",
          default_value_t = defaults::READ_CACHE_BYTES, value_parser = number_or(defaults::READ_CACHE_BYTES))]
    pub read_cache_bytes: usize,
    /// After SIGTERM or SIGINT, seconds the requests already received may take before the process exits anyway
    #[arg(long, env = "RBN_DRAIN_TIMEOUT", value_name = "SECONDS",
          default_value_t = defaults::DRAIN_TIMEOUT_SECONDS, value_parser = number_or(defaults::DRAIN_TIMEOUT_SECONDS))]
    pub drain_timeout: u64,
    /// The service's public base URL, for the pages' canonical links and Open Graph tags (default: http:// and
    /// the listen address)
    #[arg(long, env = "RBN_PUBLIC_URL", value_name = "URL", default_value = "", value_parser = text_or(""))]
    pub public_url: String,
    /// Allow webhook targets on loopback and private networks, and plain http (for tests and closed networks)
    #[arg(long, env = "RBN_WEBHOOK_ALLOW_PRIVATE", value_name = "BOOL", action = clap::ArgAction::Set,
          default_value_t = defaults::WEBHOOK_ALLOW_PRIVATE, value_parser = strict_bool(defaults::WEBHOOK_ALLOW_PRIVATE))]
    pub webhook_allow_private: bool,
    /// The base of the webhook retries' exponential back-off, in milliseconds
    #[arg(long, env = "RBN_WEBHOOK_RETRY_BASE_MS", value_name = "MILLISECONDS",
          default_value_t = defaults::WEBHOOK_RETRY_BASE_MS, value_parser = number_or(defaults::WEBHOOK_RETRY_BASE_MS))]
    pub webhook_retry_base_ms: u64,
    /// How long all deliveries of a webhook subscription may fail before it is deactivated, in seconds
    #[arg(long, env = "RBN_WEBHOOK_DISABLE_AFTER", value_name = "SECONDS",
          default_value_t = defaults::WEBHOOK_DISABLE_AFTER_SECONDS,
          value_parser = number_or(defaults::WEBHOOK_DISABLE_AFTER_SECONDS))]
    pub webhook_disable_after: u64,
}

/// The settings from the environment alone (what `rbn` without a subcommand reads).
#[derive(Debug, clap::Parser)]
#[command(name = "rbn", no_binary_name = true, disable_help_flag = true, disable_version_flag = true)]
struct FromEnvironment {
    #[command(flatten)]
    settings: Settings,
}

/// A setting that could not be read, with the variable's or option's name.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// The settings from the environment alone.
    pub fn from_env() -> Result<Settings, clap::Error> {
        use clap::Parser;
        FromEnvironment::try_parse_from(std::iter::empty::<String>()).map(|parsed| parsed.settings)
    }

    pub fn into_config(self) -> Config {
        let database = self.database;
        let public_url = Some(self.public_url).filter(|url| !url.is_empty());
        let public_url = public_url.unwrap_or_else(|| format!("http://{}", self.listen));
        Config {
            database_url: database.database_url,
            listen: self.listen,
            seed: database.seed,
            log_format: database.log_format,
            pool_size: self.pool_size.max(1),
            http: HttpConfig {
                cache_max_age: self.cache_max_age,
                body_limit: self.body_limit,
                request_timeout: Duration::from_secs(self.request_timeout.max(1)),
                auth_failure_limit: self.auth_failure_limit.max(1),
                read_cache: self.read_cache,
                read_cache_bytes: self.read_cache_bytes,
                public_url,
                webhooks: WebhookConfig {
                    allow_private: self.webhook_allow_private,
                    retry_base: Duration::from_millis(self.webhook_retry_base_ms.max(1)),
                    disable_after: Duration::from_secs(self.webhook_disable_after),
                },
            },
            workers: (self.workers > 0).then_some(self.workers),
            drain_timeout: Duration::from_secs(self.drain_timeout),
        }
    }
}

impl DatabaseSettings {
    /// The configuration of a subcommand that only opens the database: every other setting its default.
    pub fn into_config(self) -> Config {
        Config { database_url: self.database_url, seed: self.seed, log_format: self.log_format, ..Config::default() }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: defaults::DATABASE_URL.into(),
            listen: defaults::LISTEN.into(),
            seed: defaults::SEED,
            log_format: LogFormat::Pretty,
            pool_size: defaults::POOL_SIZE,
            http: HttpConfig::default(),
            workers: None,
            drain_timeout: Duration::from_secs(defaults::DRAIN_TIMEOUT_SECONDS),
        }
    }
}

impl Config {
    /// The configuration from the environment, read as `rbn serve` reads it.
    pub fn from_env() -> Result<Config, ConfigError> {
        Settings::from_env().map(Settings::into_config).map_err(|e| ConfigError(e.to_string()))
    }
}

/// Text, trimmed; empty means `default`.
fn text_or(default: &'static str) -> impl Fn(&str) -> Result<String, String> + Clone + Send + Sync + 'static {
    move |text| Ok(Some(text.trim()).filter(|t| !t.is_empty()).unwrap_or(default).to_string())
}

/// A number, trimmed; empty means `default`.
fn number_or<T>(default: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + Clone + Send + Sync + 'static,
{
    move |text| match text.trim() {
        "" => Ok(default.clone()),
        text => text.parse().map_err(|_| format!("'{text}' is not a valid number")),
    }
}

/// `true`/`1`/`yes` or `false`/`0`/`no`; empty means `default`.
fn strict_bool(default: bool) -> impl Fn(&str) -> Result<bool, String> + Clone + Send + Sync + 'static {
    move |text| match text.trim() {
        "" => Ok(default),
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(format!("'{other}' is neither true nor false")),
    }
}

/// Everything but `false`, `0` and `no` is true (as `RBN_READ_CACHE` always was).
fn lenient_bool(text: &str) -> Result<bool, String> {
    Ok(!matches!(text.trim(), "false" | "0" | "no"))
}

fn log_format(text: &str) -> Result<LogFormat, String> {
    match text.trim() {
        "" | "pretty" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("'{other}' is neither pretty nor json")),
    }
}
